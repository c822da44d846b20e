/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.h: mount tables. An engine (api/engine.h: token, approle, kv) is a table of routes; a mount
 * puts an engine at a path ("auth/approle/", "secret/") with its own storage prefix in the barrier.
 * There are two tables, auth and secrets, each persisted through the barrier, loaded at unseal and
 * dropped at seal. Lookups are lock-light: the table is replaced, never edited in place, and
 * entries are reference-counted. mount_routes.c serves sys/auth and sys/mounts.
 */
#ifndef COFFER_MOUNT_H
#define COFFER_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/engine.h"
#include "err.h"

struct engine;
struct engine_services;
struct token_entry;
struct token_renew_limits;

struct mount_table;

/* Normalize a mount path into out (cap bytes) with a trailing '/' ("approle" -> "approle/").
 * COFFER_ERR_INVALID for "" or a path that path_normalize() rejects. */
int mount_path_normalize(const char *path, char *out, size_t cap);

/* A table of the auth (is_auth) or the secrets mounts, whose entries are served by engines (a
 * NULL-terminated list: front/registry.c), over the services in svc (borrowed, as engines). */
int mount_table_new(const struct engine_services *svc, const struct engine *const *engines,
                    bool is_auth, struct mount_table **out);
/* The engine of this table for type (or its alias: "generic" is kv), NULL when none. */
const struct engine *mount_table_engine(const struct mount_table *t, const char *type);
/* True when the API may mount type in this table; token/ is built in and never mounted again. */
bool mount_table_is_mountable(const struct mount_table *t, const char *type);
/* Where m's engine keeps its data: its fixed prefix, or the mount's storage prefix. */
const char *mount_entry_store_prefix(const struct mount_entry *m);
void mount_table_free(struct mount_table *t);
/* Load from the barrier at unseal; the first time, create the built-in mounts (auth: token/;
 * secrets: secret/ as kv v2). */
int mount_table_load(struct mount_table *t);
/* Drop the entries (seal). */
void mount_table_clear(struct mount_table *t);

/* The mount serving path (relative to "auth/" for the auth table), longest prefix wins. *rest
 * points into path, after the mount's prefix. The entry is referenced: mount_entry_release(). */
int mount_table_find(struct mount_table *t, const char *path, struct mount_entry **out,
                     const char **rest);
void mount_entry_release(struct mount_entry *m);

/* Add a mount (path normalized with a trailing '/'); COFFER_ERR_EXISTS if it overlaps another,
 * COFFER_ERR_INVALID for an unknown type or a reserved path. */
int mount_table_add(struct mount_table *t, const char *path, const char *type,
                    const char *description, int64_t default_lease_ttl_s, int64_t max_lease_ttl_s,
                    json_t *options); /* options is copied; NULL = {} */
/* Remove a mount and purge its data. COFFER_ERR_NOT_FOUND, or COFFER_ERR_INVALID for a built-in. */
int mount_table_remove(struct mount_table *t, const char *path);
/* Change description and lease TTLs. */
int mount_table_tune(struct mount_table *t, const char *path, const char *description,
                     const int64_t *default_lease_ttl_s, const int64_t *max_lease_ttl_s);
/* {"approle/": {type, description, accessor, uuid, config{...}, options, local, seal_wrap}, ...} */
json_t *mount_table_json(struct mount_table *t);
json_t *mount_entry_json(const struct mount_entry *m);

/* mount_renew.c */

/* The token store's renew hook (a token_renew_hook_fn; svc is the server's struct
 * engine_services): for a token whose path names an auth mount ("auth/approle/login") whose
 * engine has a renew hook, that hook's answer over the mount's context, with 0 TTLs resolved to
 * the mount's default and max. COFFER_ERR_NOT_FOUND when no hook applies. */
int mount_renew_token(void *svc, const struct token_entry *e, struct token_renew_limits *lim,
                      char *msg, size_t cap);

#endif
