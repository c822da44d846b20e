/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h: the one list of what the front end dispatches to: the sys/ route tables, and the
 * engines that mounts may name (api/tables.h). Adding an auth method or a secrets engine is adding
 * its folder and a line in registry.c.
 */
#ifndef COFFER_REGISTRY_H
#define COFFER_REGISTRY_H

#include <stddef.h>

#include "api/engine.h"

/* The sys/ route tables, with the services each declares. */
extern const struct route_table registry_sys_tables[];
extern const size_t registry_sys_tables_len;
/* The mountable engines, NULL-terminated (the mount tables look types up here). */
extern const struct engine *const registry_engines[];

#endif
