/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core.h: the server's state, built by main(): configuration, physical store, barrier and seal,
 * plus what becomes known at unseal (cluster identity). Also the token check that routes share.
 */
#ifndef COFFER_CORE_H
#define COFFER_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "api/engine.h"
#include "store/barrier.h"
#include "config.h"
#include "api/request.h"
#include "store/seal.h"
#include "store/storage.h"

struct policy_store;
struct token_store;
struct lease_mgr;
struct mount_table;
struct watch;
struct audit_broker;

struct core {
	const struct config *cfg;
	struct storage *storage;
	struct seal *seal;
	/* The barrier, the identity and mount subsystems, the watch and the audit devices (hooks in
	 * front/router.c): what engine contexts are made of (api/engine.h). */
	struct engine_services svc;
	int64_t start_time;
	pthread_mutex_t lifecycle_lock; /* one seal transition at a time (core_initialize, ...) */
	pthread_mutex_t cluster_lock;
	char cluster_name[64]; /* "" while sealed */
	char cluster_id[37];
	/* High availability (a storage with ha_enabled): an unsealed node campaigns for the
	 * storage's lock; the worker loads the vault when the lock is won and drops it when lost
	 * (core.c "HA"). ha_is_active: the vault is loaded here and requests are served. */
	bool ha_enabled;
	pthread_t ha_worker;
	bool has_ha_worker;
	pthread_mutex_t ha_mu; /* ha_wants_active, ha_stopping */
	pthread_cond_t ha_cv;
	bool ha_wants_active; /* the storage's last word: this node holds the lock */
	bool ha_stopping;
	_Atomic bool ha_is_active;
	bool ha_awaits_init; /* a keyfile node started before initialization (lifecycle_lock) */
	int64_t ha_active_since;
};

/* Open the store and build a sealed core whose mounts may name engines (NULL-terminated:
 * front/registry.c); with the keyfile seal and an initialized vault, unseal. */
int core_open(const struct config *cfg, const struct engine *const *engines, struct core **out);
/* Seal (wiping keys) and release everything. NULL allowed. */
void core_close(struct core *c);

/*
 * The seal lifecycle: every transition between sealed and unsealed goes through these (one at a
 * time), which load the vault after an unseal and drop it at seal. When loading after an unseal
 * fails, the vault is sealed again and the error returned.
 *
 * core_initialize: initialize (seal_initialize(): n shares, threshold t) with root_token as the
 * initial root token (NULL: a random one; dev mode gives one), whose text out->root_token gets.
 * The vault stays sealed. COFFER_ERR_EXISTS when initialized, COFFER_ERR_INVALID for bad input.
 * core_unseal_share: submit one share (seal_submit_share()); unseals at the threshold.
 * core_unseal_keyfile: the keyfile seal's unseal. 0 when already unsealed.
 */
int core_initialize(struct core *c, unsigned n, unsigned t, const char *root_token,
                    struct seal_init_result *out) COFFER_WUR;
int core_unseal_share(struct core *c, const uint8_t *share, size_t len) COFFER_WUR;
int core_unseal_keyfile(struct core *c) COFFER_WUR;
/* Seal: wipe the keys, drop what was loaded (caches, leases, mounts, held watches). */
void core_seal(struct core *c);

/*
 * Authenticate req's token and check the ACL for req->op on req->path (plus sudo when flags has
 * ROUTE_SUDO). On success req->auth and req->acl are set (released by core_request_done()).
 * COFFER_ERR_PERMISSION for a missing, invalid, expired or insufficient token.
 */
int core_authorize(struct core *c, struct request *req, unsigned route_flags) COFFER_WUR;
/* Release what core_authorize() set. */
void core_request_done(struct request *req);

/*
 * HA. core_ha_standby: an unsealed node of an HA store that is not the active one (the router
 * then redirects). core_ha_leader: who is active (sys/leader, redirects). core_ha_step_down: the
 * active node gives up the lock (PUT sys/step-down); another node takes over, and this one does
 * not campaign again for a few seconds.
 */
bool core_ha_standby(struct core *c);
void core_ha_leader(struct core *c, struct storage_ha_leader *out);
void core_ha_step_down(struct core *c);

/* The storage type and version strings reported by the status routes. */
const char *core_storage_type(const struct core *c);

#endif
