/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sys.h: the sys/ routes of the foundation: seal and status (raw) and key management (enveloped).
 */
#ifndef COFFER_SYS_H
#define COFFER_SYS_H

#include <stddef.h>

#include "front/router.h"

extern const struct route sys_routes[];
extern const size_t sys_routes_len;

#endif
