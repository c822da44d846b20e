/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h: the engine API. A secrets engine or an auth method is a table of routes plus what it
 * keeps in the store; its handlers receive a small context: the services they declared and a
 * view of the barrier scoped to their mount's storage prefix, never the server's whole state.
 * front/router.c builds the context per request; front/registry.c lists the engines compiled in.
 */
#ifndef COFFER_ENGINE_H
#define COFFER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/route.h"
#include "store/barrier_view.h"

struct audit_broker;
struct core;
struct lease_mgr;
struct mount_entry;
struct mount_table;
struct policy_store;
struct token_renew_limits;
struct token_store;
struct watch;

/* The services a route table or an engine declares; the context carries those and no others. */
enum engine_uses {
	ENGINE_USES_TOKENS = 1 << 0,
	ENGINE_USES_POLICIES = 1 << 1,
	ENGINE_USES_LEASES = 1 << 2,
	ENGINE_USES_WATCH = 1 << 3,
	ENGINE_USES_AUDIT = 1 << 4,
	ENGINE_USES_MOUNTS = 1 << 5,
	ENGINE_USES_CORE = 1 << 6 /* front/ only: the process state (seal, cluster identity) */
};

/* Settings from the configuration file that engines read. */
struct engine_settings {
	size_t kv_max_value_size;     /* bytes of one KV value */
	size_t max_watches_per_token; /* held sys/watch requests per token */
	bool allow_api_audit;         /* sys/audit may enable file devices */
	const char *audit_dir;        /* where those may write; NULL: nowhere */
	const char *kubernetes_sa_dir; /* the pod's service-account folder; NULL: none */
};

/*
 * What a handler gets besides its request and response. store is the mount's view of the
 * barrier (empty for sys/ routes); each service pointer is set when the route's table or engine
 * declared it (enum engine_uses) and NULL otherwise.
 */
struct engine_ctx {
	struct barrier_view store;
	struct token_store *tokens;
	struct policy_store *policies;
	struct lease_mgr *leases;
	struct watch *watch;
	struct audit_broker *audit;
	struct mount_table *auth_mounts;
	struct mount_table *secret_mounts;
	const struct engine_settings *settings;
	struct core *core; /* ENGINE_USES_CORE: front/ routes only; opaque below front/ */
};

/* The services of the running server, from which front/router.c fills each context. */
struct engine_services {
	struct barrier *barrier;
	struct token_store *tokens;
	struct policy_store *policies;
	struct lease_mgr *leases;
	struct watch *watch;
	struct audit_broker *audit;
	struct mount_table *auth_mounts;
	struct mount_table *secret_mounts;
	struct engine_settings settings;
	struct core *core;
};

/*
 * A secrets engine or auth method. Its mounts keep their data below the mount's storage prefix
 * ("logical/<uuid>/", "auth/<uuid>/"), or below fixed_prefix for a built-in engine whose layout
 * predates mounts (token: "token/").
 */
struct engine {
	const char *type;  /* "token", "approle", "kv" */
	const char *alias; /* another name of the type ("generic" for kv), or NULL */
	bool is_auth;      /* mounted below auth/ */
	const struct route *routes;
	const size_t *n_routes;
	unsigned uses; /* enum engine_uses */
	const char *fixed_prefix;
	/* The engine that serves a mount of this type with these options (kv: version 1 or 2), or
	 * NULL for this one. */
	const struct engine *(*variant)(const char *type, const json_t *options);
	/* Remove all of a mount's data (unmount), given the mount's context; NULL when the engine
	 * keeps none. */
	int (*purge)(const struct engine_ctx *ctx);
	/* Auth methods: called when a token created by a login on this mount is renewed, with the
	 * token's metadata, over the mount's context; checks that the login's role still exists and
	 * gives its current ttl, max ttl and period in *lim (identity/token.h; 0 = the mount's
	 * default, the mount's max, no period). 0, or COFFER_ERR_INVALID with the message of a 400
	 * in msg (cap bytes), or another error. NULL: tokens renew by their own settings. */
	int (*renew)(const struct engine_ctx *ctx, const json_t *token_meta,
	             struct token_renew_limits *lim, char *msg, size_t cap);
};

/* A mount: an engine at a path, with its own storage prefix and settings. A request's mount
 * (req->mount) is referenced for the request's life; the tables of them are engines/mount.c's. */
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

/* The context for a route of a table or engine that declared uses, over the view of the
 * storage prefix (NULL or "" for none). */
void engine_ctx_init(struct engine_ctx *ctx, const struct engine_services *svc, unsigned uses,
                     const char *prefix);

#endif
