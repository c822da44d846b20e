/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tables.h: what each subsystem exports to the front end: its sys/ route tables and its engines.
 * Defined beside their mechanisms (*_routes.c, the engine's main file); registered in one place,
 * front/registry.c. Nothing else names them.
 */
#ifndef COFFER_TABLES_H
#define COFFER_TABLES_H

#include <stddef.h>

#include "api/engine.h"

/* front/sys.c: seal and status (raw), key management. */
extern const struct route sys_routes[];
extern const size_t sys_routes_len;
/* identity/policy_routes.c: sys/policy, sys/policies/acl, sys/capabilities*. */
extern const struct route policy_routes[];
extern const size_t policy_routes_len;
/* identity/lease_routes.c: sys/leases/..., and sys/renew, sys/revoke... (legacy). */
extern const struct route lease_routes[];
extern const size_t lease_routes_len;
/* engines/mount_routes.c: sys/auth, sys/mounts. */
extern const struct route mount_sys_routes[];
extern const size_t mount_sys_routes_len;
/* engines/watch_routes.c: POST sys/watch. */
extern const struct route watch_routes[];
extern const size_t watch_routes_len;
/* audit/audit_routes.c: sys/audit, sys/audit-hash. */
extern const struct route audit_routes[];
extern const size_t audit_routes_len;

/* Engines: auth/token/ (identity/token_routes.c), AppRole (identity/approle/approle.c),
 * Kubernetes (identity/kubernetes/kubernetes.c), JWT (identity/jwt/jwt.c), KV (engines/kv/kv.c;
 * "generic" and version 1 mounts are generic_engine). */
extern const struct engine token_engine;
extern const struct engine approle_engine;
extern const struct engine kubernetes_engine;
extern const struct engine jwt_engine;
extern const struct engine kv_engine;
extern const struct engine generic_engine;

#endif
