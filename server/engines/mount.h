/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.h: mount tables. An engine (token, approle, kv) is a table of routes; a mount puts an
 * engine at a path ("auth/approle/", "secret/") with its own storage prefix in the barrier.
 * There are two tables, auth and secrets, each persisted through the barrier, loaded at unseal and
 * dropped at seal. Lookups are lock-light: the table is replaced, never edited in place, and
 * entries are reference-counted. Also serves sys/auth (and sys/mounts, issue #4).
 */
#ifndef COFFER_MOUNT_H
#define COFFER_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "front/router.h"

struct core;
struct mount_entry;

struct engine {
	const char *type; /* "token", "approle", "kv" */
	const struct route *routes;
	const size_t *n_routes;
	/* Remove all of a mount's data (unmount); NULL when the engine keeps none. */
	int (*purge)(struct core *c, const struct mount_entry *m);
};

struct mount_entry {
	char *path; /* "approle/" (below "auth/" for auth mounts), "secret/" */
	char *type; /* engine type */
	char *description;
	char *accessor; /* "auth_approle_1a2b3c4d" */
	char *uuid;
	int64_t default_lease_ttl_s; /* 0 = system default */
	int64_t max_lease_ttl_s;     /* 0 = system default */
	json_t *options;             /* {"version":"2"} for kv v2; never NULL */
	bool is_auth;
	const struct engine *engine;
	/* Where the engine keeps its data in the barrier: "auth/<uuid>/" or "logical/<uuid>/". */
	char storage_prefix[64];
	int refs; /* atomic */
};

struct mount_table;

/* The engines compiled in; NULL for an unknown type. "generic" is kv version 1. */
const struct engine *engine_find(const char *type);
/* True when the API may mount type in the auth (is_auth) or the secrets table; token/ is built
 * in and never mounted again. */
bool engine_is_mountable(const char *type, bool is_auth);
/* Normalize a mount path into out (cap bytes) with a trailing '/' ("approle" -> "approle/").
 * COFFER_ERR_INVALID for "" or a path that path_normalize() rejects. */
int mount_path_normalize(const char *path, char *out, size_t cap);

int mount_table_new(struct core *c, bool is_auth, struct mount_table **out);
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

/* sys/auth routes (and sys/mounts in issue #4). */
extern const struct route mount_sys_routes[];
extern const size_t mount_sys_routes_len;

#endif
