/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core.c: builds the server's state from its configuration (store, barrier, seal), keeps what
 * becomes known at unseal, and checks request tokens. main() owns the one struct core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "audit/audit.h"
#include "codec.h"
#include "core.h"
#include "crypto.h"
#include "json.h"
#include "identity/lease.h"
#include "log.h"
#include "engines/mount.h"
#include "api/mount_state.h"
#include "identity/policy.h"
#include "secmem.h"
#include "identity/token.h"
#include "engines/watch.h"
#include "xmalloc.h"

#define CORE_CLUSTER_PATH "core/cluster"

static int core_ha_open(struct core *c);
static void core_ha_close(struct core *c);
static int core_loaded(struct core *c);

/* The identity and mount subsystems: built sealed, loaded by core_unsealed(). */
static int core_open_subsystems(struct core *c, const struct engine *const *engines)
{
	int err;

	c->svc.core = c;
	c->svc.settings = (struct engine_settings){
	    .kv_max_value_size = c->cfg->kv_max_value_size,
	    .max_watches_per_token = c->cfg->max_watches_per_token,
	    .allow_api_audit = c->cfg->allow_api_audit,
	    .audit_dir = c->cfg->audit_dir,
	    .kubernetes_sa_dir = c->cfg->kubernetes_service_account_dir,
	};

	err = policy_store_new(c->svc.barrier, &c->svc.policies);
	if (err != 0)
		return err;
	c->svc.tokens = token_store_new(c->svc.barrier);
	c->svc.leases = lease_mgr_new(token_lease_revoker, c->svc.tokens);
	token_store_set_leases(c->svc.tokens, c->svc.leases);
	/* Renewals of login tokens re-read the login's role through its auth mount. */
	token_store_set_renew_hook(c->svc.tokens, mount_renew_token, &c->svc);
	err = mount_table_new(&c->svc, engines, true, &c->svc.auth_mounts);
	if (err == 0)
		err = mount_table_new(&c->svc, engines, false, &c->svc.secret_mounts);
	if (err == 0)
		c->svc.watch = watch_new(c->svc.barrier);
	if (err == 0)
		err =
		    audit_broker_new(c->cfg->audit, c->cfg->n_audit, c->svc.barrier, &c->svc.audit);
	return err;
}

int core_open(const struct config *cfg, const struct engine *const *engines, struct core **out)
{
	struct core *c;
	struct seal_status st;
	int err;

	*out = NULL;
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->start_time = coffer_clock_now_s();
	pthread_mutex_init(&c->cluster_lock, NULL);
	pthread_mutex_init(&c->lifecycle_lock, NULL);
	pthread_mutex_init(&c->ha_mu, NULL);
	pthread_cond_init(&c->ha_cv, NULL);
	err = storage_open(&cfg->storage, &c->storage);
	if (err != 0) {
		/* The backend logged the cause (a missing directory, a permission, a refused
		 * connection, ...). */
		if (cfg->storage.kind == STORAGE_SQLITE)
			log_error("cofferd cannot start without its storage at %s",
			          cfg->storage.path);
		else
			log_error("cofferd cannot start without its PostgreSQL storage (table %s)",
			          cfg->storage.table);
		goto fail;
	}
	err = barrier_new(c->storage, &c->svc.barrier);
	if (err != 0)
		goto fail;
	err = seal_new(c->storage, c->svc.barrier, cfg->seal_type, cfg->seal_path, &c->seal);
	if (err != 0)
		goto fail;
	err = core_open_subsystems(c, engines);
	if (err != 0)
		goto fail;
	if (storage_has_ha(c->storage) && (err = core_ha_open(c)) != 0)
		goto fail;
	seal_get_status(c->seal, &st);
	pthread_mutex_lock(&c->lifecycle_lock);
	c->ha_awaits_init = c->ha_enabled && cfg->seal_type == SEAL_KEYFILE && !st.initialized;
	pthread_mutex_unlock(&c->lifecycle_lock);
	if (cfg->seal_type == SEAL_KEYFILE && st.initialized) {
		err = core_unseal_keyfile(c);
		if (err != 0) {
			log_error("auto-unseal with key file %s failed: %s", cfg->seal_path,
			          coffer_strerror(err));
			goto fail;
		}
		log_info("unsealed with the key file");
	}
	*out = c;
	return 0;
fail:
	core_close(c);
	return err;
}

void core_close(struct core *c)
{
	if (c == NULL)
		return;
	core_ha_close(c);
	/* Stop the revoker before the stores it calls into go away. */
	lease_mgr_free(c->svc.leases);
	watch_free(c->svc.watch);
	audit_broker_free(c->svc.audit);
	mount_table_free(c->svc.secret_mounts);
	mount_table_free(c->svc.auth_mounts);
	token_store_free(c->svc.tokens);
	policy_store_free(c->svc.policies);
	seal_free(c->seal);
	barrier_free(c->svc.barrier);
	storage_close(c->storage);
	pthread_mutex_destroy(&c->cluster_lock);
	pthread_mutex_destroy(&c->lifecycle_lock);
	pthread_mutex_destroy(&c->ha_mu);
	pthread_cond_destroy(&c->ha_cv);
	free(c);
}

/* Load the cluster identity, or make it on the first unseal after init (may_create: not on an HA
 * standby, which never writes; it shows the identity once the active node has made it). */
static int core_load_cluster(struct core *c, bool may_create)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *o = NULL;
	const char *name = NULL, *id = NULL;
	char rnd_hex[9];
	uint8_t rnd[4];
	int err;

	err = barrier_get(c->svc.barrier, CORE_CLUSTER_PATH, &buf, &len);
	if (err == COFFER_ERR_NOT_FOUND && !may_create)
		return 0;
	if (err == COFFER_ERR_NOT_FOUND) {
		char uuid[37];

		coffer_random(rnd, sizeof(rnd));
		if (codec_hex_encode(rnd_hex, sizeof(rnd_hex), rnd, sizeof(rnd)) != 0)
			return COFFER_ERR_INTERNAL;
		coffer_uuid(uuid);
		o = json_pack("{s:s+,s:s}", "name", "coffer-cluster-", rnd_hex, "id", uuid);
		buf = (uint8_t *)coffer_json_dump(o);
		len = strlen((char *)buf);
		err = barrier_put(c->svc.barrier, CORE_CLUSTER_PATH, buf, len);
		coffer_json_free_text((char *)buf);
		buf = NULL;
		if (err != 0)
			goto out;
	} else if (err != 0) {
		return err;
	} else {
		err = coffer_json_parse_object((const char *)buf, len, &o, NULL, 0);
		if (err != 0)
			goto out;
	}
	if (coffer_json_get_string(o, "name", &name) != 0 ||
	    coffer_json_get_string(o, "id", &id) != 0) {
		err = COFFER_ERR_INTEGRITY;
		goto out;
	}
	pthread_mutex_lock(&c->cluster_lock);
	snprintf(c->cluster_name, sizeof(c->cluster_name), "%s", name);
	snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", id);
	pthread_mutex_unlock(&c->cluster_lock);
	err = 0;
out:
	if (buf != NULL)
		secmem_freezero(buf, len);
	json_decref(o);
	return err;
}

/* After a transition to unsealed: load the vault. */
static int core_unsealed(struct core *c)
{
	int err;

	err = core_load_cluster(c, true);
	if (err == 0)
		err = policy_store_setup(c->svc.policies);
	if (err == 0)
		err = mount_table_load(c->svc.auth_mounts);
	if (err == 0)
		err = mount_table_load(c->svc.secret_mounts);
	if (err == 0)
		err = token_store_setup(c->svc.tokens);
	if (err == 0)
		err = watch_setup(c->svc.watch);
	if (err == 0)
		err = audit_broker_unsealed(c->svc.audit);
	if (err == 0)
		err = lease_mgr_start(c->svc.leases);
	if (err != 0)
		log_error("loading the vault after unseal failed: %s", coffer_strerror(err));
	return err;
}

/* After sealing, or when an HA node stops being active (why: COFFER_ERR_SEALED or
 * COFFER_ERR_STANDBY, what held watches are answered): drop what core_unsealed() loaded. */
static void core_sealed(struct core *c, int why)
{
	lease_mgr_stop(c->svc.leases);
	watch_flush(c->svc.watch, why);
	token_store_flush(c->svc.tokens);
	mount_table_clear(c->svc.secret_mounts);
	mount_table_clear(c->svc.auth_mounts);
	mount_state_clear();
	policy_store_flush(c->svc.policies);
	audit_broker_sealed(c->svc.audit);
	pthread_mutex_lock(&c->cluster_lock);
	c->cluster_name[0] = '\0';
	c->cluster_id[0] = '\0';
	pthread_mutex_unlock(&c->cluster_lock);
}

/* A transition to unsealed happened: load the vault, or seal again when that fails, so that a
 * vault is never served half-loaded. With HA the node campaigns instead, and loads the vault
 * once it is active (core_ha_worker). Caller holds lifecycle_lock. */
static int core_loaded(struct core *c)
{
	int err;

	if (c->ha_enabled) {
		/* A standby shows the cluster's identity too (read only; a failure is not fatal).
		 */
		(void)core_load_cluster(c, false);
		storage_ha_campaign(c->storage, true, 0);
		log_info("ha: unsealed; standing by for the lock");
		return 0;
	}
	err = core_unsealed(c);

	if (err != 0) {
		seal_seal(c->seal);
		core_sealed(c, COFFER_ERR_SEALED);
	}
	return err;
}

/* ---- HA ----
 *
 * With a storage that has HA (PostgreSQL with ha_enabled), unsealing makes a node a standby that
 * campaigns for the storage's lock (core_loaded()). The storage's lock thread calls
 * core_ha_changed() when the node wins or loses the lock; the worker thread then, under
 * lifecycle_lock, loads the vault (the keyring read again, every cache dropped, then what
 * core_unsealed() loads: nothing a standby saw is trusted) or drops it (core_sealed() without
 * the seal). It also unseals a keyfile node once another node has initialized the store.
 */

#define CORE_HA_TICK_MS 500
#define CORE_HA_RETRY_MS 3000     /* a failed load: stand by this long before campaigning */
#define CORE_HA_STEP_DOWN_MS 5000 /* after sys/step-down */

static void core_ha_changed(void *arg, bool is_active)
{
	struct core *c = arg;

	pthread_mutex_lock(&c->ha_mu);
	c->ha_wants_active = is_active;
	pthread_cond_signal(&c->ha_cv);
	pthread_mutex_unlock(&c->ha_mu);
}

/* Drop the loaded vault but stay unsealed: core_sealed() minus the seal. */
static void core_ha_drop(struct core *c)
{
	atomic_store(&c->ha_is_active, false);
	core_sealed(c, COFFER_ERR_STANDBY);
	(void)core_load_cluster(c, false);
}

/* The lock is held: load the vault from the database. Caller holds lifecycle_lock. */
static void core_ha_load(struct core *c)
{
	int err;

	/* Caches may hold what this node saw before another node's term. */
	core_sealed(c, COFFER_ERR_STANDBY);
	err = barrier_reload(c->svc.barrier);
	if (err == 0)
		err = core_unsealed(c);
	if (err != 0) {
		log_error("ha: loading the vault as the active node failed (%s); standing by",
		          coffer_strerror(err));
		core_sealed(c, COFFER_ERR_STANDBY);
		storage_ha_campaign(c->storage, false, CORE_HA_RETRY_MS);
		return;
	}
	c->ha_active_since = coffer_clock_now_s();
	atomic_store(&c->ha_is_active, true);
	log_info("ha: active: the vault is loaded and served here");
}

/* A keyfile node started before initialization unseals once another node initialized. */
static void core_ha_auto_unseal(struct core *c)
{
	struct seal_status st;

	if (!c->ha_awaits_init || !barrier_is_sealed(c->svc.barrier))
		return;
	seal_get_status(c->seal, &st);
	if (!st.initialized)
		return;
	c->ha_awaits_init = false;
	if (seal_unseal_keyfile(c->seal) == 0 && core_loaded(c) == 0)
		log_info("unsealed with the key file (the store was initialized by another node)");
}

static void *core_ha_worker(void *arg)
{
	struct core *c = arg;
	struct timespec until;
	bool wants, stopping;
	int64_t ns;

	for (;;) {
		pthread_mutex_lock(&c->ha_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		ns = until.tv_nsec + (int64_t)CORE_HA_TICK_MS * 1000000;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		if (!c->ha_stopping && c->ha_wants_active == atomic_load(&c->ha_is_active))
			pthread_cond_timedwait(&c->ha_cv, &c->ha_mu, &until);
		wants = c->ha_wants_active;
		stopping = c->ha_stopping;
		pthread_mutex_unlock(&c->ha_mu);
		if (stopping)
			break;
		pthread_mutex_lock(&c->lifecycle_lock);
		core_ha_auto_unseal(c);
		if (!barrier_is_sealed(c->svc.barrier)) {
			if (wants && !atomic_load(&c->ha_is_active))
				core_ha_load(c);
			else if (!wants && atomic_load(&c->ha_is_active))
				core_ha_drop(c);
		}
		pthread_mutex_unlock(&c->lifecycle_lock);
	}
	return NULL;
}

static int core_ha_open(struct core *c)
{
	struct storage_ha_node me = {c->cfg->api_addr,
	                             c->cfg->cluster_addr != NULL ? c->cfg->cluster_addr : ""};
	int err;

	c->ha_enabled = true;
	err = storage_ha_start(c->storage, &me, core_ha_changed, c);
	if (err != 0)
		return err;
	if (pthread_create(&c->ha_worker, NULL, core_ha_worker, c) != 0)
		return COFFER_ERR_INTERNAL;
	pthread_setname_np(c->ha_worker, "ha-worker");
	c->has_ha_worker = true;
	return 0;
}

static void core_ha_close(struct core *c)
{
	if (!c->has_ha_worker)
		return;
	pthread_mutex_lock(&c->ha_mu);
	c->ha_stopping = true;
	pthread_cond_signal(&c->ha_cv);
	pthread_mutex_unlock(&c->ha_mu);
	pthread_join(c->ha_worker, NULL);
	c->has_ha_worker = false;
	storage_ha_campaign(c->storage, false, 0);
}

bool core_ha_standby(struct core *c)
{
	if (!c->ha_enabled)
		return false;
	if (atomic_load(&c->ha_is_active) && storage_ha_holds(c->storage))
		return false;
	return !barrier_is_sealed(c->svc.barrier);
}

void core_ha_leader(struct core *c, struct storage_ha_leader *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->ha_enabled)
		return;
	storage_ha_leader(c->storage, out);
	/* This node counts as the leader only once it serves. */
	if (out->is_self && !atomic_load(&c->ha_is_active))
		out->is_known = false;
}

void core_ha_step_down(struct core *c)
{
	if (c->ha_enabled && atomic_load(&c->ha_is_active)) {
		log_info("ha: stepping down by request");
		storage_ha_campaign(c->storage, false, CORE_HA_STEP_DOWN_MS);
	}
}

struct core_root_stage {
	struct core *c;
	const char *text;
};

/* seal_initialize()'s stage: the initial root token, with the new barrier open. */
static int core_stage_root(void *arg)
{
	const struct core_root_stage *st = arg;

	return token_store_stage_root(st->c->svc.tokens, st->text);
}

int core_initialize(struct core *c, unsigned n, unsigned t, const char *root_token,
                    struct seal_init_result *out)
{
	struct core_root_stage st = {c, NULL};
	char *text;
	int err;

	memset(out, 0, sizeof(*out));
	if (root_token != NULL && root_token[0] == '\0')
		return COFFER_ERR_INVALID;
	text = root_token != NULL ? xsecmem_strdup(root_token) : token_text_generate();
	if (text == NULL)
		return COFFER_ERR_INTERNAL;
	st.text = text;
	pthread_mutex_lock(&c->lifecycle_lock);
	/* Two nodes of an HA store initialize one after the other; the second finds the vault
	 * initialized. */
	err = c->ha_enabled ? storage_ha_init_lock(c->storage, true) : 0;
	if (err == 0)
		err = seal_initialize(c->seal, n, t, core_stage_root, &st, out);
	if (c->ha_enabled)
		(void)storage_ha_init_lock(c->storage, false);
	pthread_mutex_unlock(&c->lifecycle_lock);
	if (err != 0) {
		secmem_free(text);
		return err;
	}
	out->root_token = text;
	return 0;
}

int core_unseal_share(struct core *c, const uint8_t *share, size_t len)
{
	bool was_sealed;
	int err;

	pthread_mutex_lock(&c->lifecycle_lock);
	was_sealed = barrier_is_sealed(c->svc.barrier);
	err = seal_submit_share(c->seal, share, len);
	if (err == 0 && was_sealed && !barrier_is_sealed(c->svc.barrier))
		err = core_loaded(c);
	pthread_mutex_unlock(&c->lifecycle_lock);
	return err;
}

int core_unseal_keyfile(struct core *c)
{
	int err = 0;

	pthread_mutex_lock(&c->lifecycle_lock);
	if (barrier_is_sealed(c->svc.barrier)) {
		err = seal_unseal_keyfile(c->seal);
		if (err == 0)
			err = core_loaded(c);
	}
	pthread_mutex_unlock(&c->lifecycle_lock);
	return err;
}

void core_seal(struct core *c)
{
	pthread_mutex_lock(&c->lifecycle_lock);
	if (c->ha_enabled) {
		storage_ha_campaign(c->storage, false, 0);
		atomic_store(&c->ha_is_active, false);
		c->ha_awaits_init = false;
	}
	/* Seal first, so that nothing refills the caches that core_sealed() drops. */
	seal_seal(c->seal);
	core_sealed(c, COFFER_ERR_SEALED);
	pthread_mutex_unlock(&c->lifecycle_lock);
}

static unsigned core_op_cap(enum req_op op)
{
	switch (op) {
	case REQ_OP_READ:
		return ACL_CAP_READ;
	case REQ_OP_LIST:
		return ACL_CAP_LIST;
	case REQ_OP_CREATE:
		return ACL_CAP_CREATE;
	case REQ_OP_PATCH:
		return ACL_CAP_PATCH;
	case REQ_OP_DELETE:
		return ACL_CAP_DELETE;
	case REQ_OP_UPDATE:
	default:
		return ACL_CAP_UPDATE;
	}
}

int core_authorize(struct core *c, struct request *req, unsigned route_flags)
{
	unsigned caps;
	int err;

	if (req->token == NULL || req->token[0] == '\0')
		return COFFER_ERR_PERMISSION;
	err = token_authenticate(c->svc.tokens, req->token, req->remote_addr, &req->auth);
	if (err != 0)
		return err == COFFER_ERR_SEALED ? err : COFFER_ERR_PERMISSION;
	err = policy_store_acl(c->svc.policies, req->auth->policies, &req->acl);
	if (err != 0)
		return err;
	caps = acl_capabilities(req->acl, req->path);
	if ((caps & ACL_CAP_DENY) || !(caps & core_op_cap(req->op)))
		return COFFER_ERR_PERMISSION;
	if ((route_flags & ROUTE_SUDO) && !(caps & ACL_CAP_SUDO))
		return COFFER_ERR_PERMISSION;
	return 0;
}

void core_request_done(struct request *req)
{
	if (req->acl != NULL)
		acl_release(req->acl);
	req->acl = NULL;
	if (req->auth != NULL)
		token_entry_release(req->auth);
	req->auth = NULL;
}

const char *core_storage_type(const struct core *c)
{
	return c->cfg->storage.kind == STORAGE_POSTGRESQL ? "postgresql" : "sqlite";
}
