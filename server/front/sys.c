/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sys.c: the foundation's sys/ routes (API.md "Seal and status", sys/key-status, sys/rotate):
 * init, unseal, seal-status, health and leader are raw; seal (sudo, audited), key-status and
 * rotate need a token. Called by the router.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "audit/audit.h"
#include "codec.h"
#include "core.h"
#include "json.h"
#include "duration.h"
#include "log.h"
#include "secmem.h"
#include "api/tables.h"

static json_t *sys_seal_status_json(struct core *c)
{
	struct seal_status st;
	json_t *o;

	seal_get_status(c->seal, &st);
	o = json_pack("{s:s,s:b,s:b,s:I,s:I,s:I,s:s,s:s,s:b,s:b,s:s}", "type", st.type,
	              "initialized", st.initialized, "sealed", st.sealed, "t",
	              (json_int_t)st.threshold, "n", (json_int_t)st.shares, "progress",
	              (json_int_t)st.progress, "nonce", st.nonce, "version", COFFER_VERSION,
	              "migration", 0, "recovery_seal", 0, "storage_type", core_storage_type(c));
	if (o != NULL && !st.sealed) {
		pthread_mutex_lock(&c->cluster_lock);
		json_object_set_new(o, "cluster_name", json_string(c->cluster_name));
		json_object_set_new(o, "cluster_id", json_string(c->cluster_id));
		pthread_mutex_unlock(&c->cluster_lock);
	}
	return o;
}

static void sys_init_read(struct core *c, struct response *resp)
{
	struct seal_status st;

	seal_get_status(c->seal, &st);
	response_raw(resp, 200, json_pack("{s:b}", "initialized", st.initialized));
}

/* Reads secret_shares/secret_threshold; the keyfile seal needs neither. */
static int sys_init_params(const struct request *req, struct response *resp, unsigned *n,
                           unsigned *t)
{
	int64_t shares = 0, threshold = 0;
	int err;

	err = coffer_json_get_int(req->body, "secret_shares", &shares);
	if (err == COFFER_ERR_INVALID) {
		response_invalid(resp, "secret_shares must be an integer");
		return err;
	}
	err = coffer_json_get_int(req->body, "secret_threshold", &threshold);
	if (err == COFFER_ERR_INVALID) {
		response_invalid(resp, "secret_threshold must be an integer");
		return err;
	}
	if (shares < 1 || shares > 255) {
		response_invalid(resp, "secret_shares must be between 1 and 255");
		return COFFER_ERR_INVALID;
	}
	if (threshold < 1 || threshold > shares) {
		response_invalid(resp, "secret_threshold must be between 1 and secret_shares");
		return COFFER_ERR_INVALID;
	}
	if (shares > 1 && threshold < 2) {
		response_invalid(resp,
		                 "secret_threshold must be at least 2 when secret_shares > 1");
		return COFFER_ERR_INVALID;
	}
	*n = (unsigned)shares;
	*t = (unsigned)threshold;
	return 0;
}

/* {"keys":[hex],"keys_base64":[b64],"root_token":...}; the text is wiped when the body is freed. */
static json_t *sys_init_result_json(const struct seal_init_result *r)
{
	json_t *keys = json_array(), *keys_b64 = json_array();
	char buf[2 * 256 + 1];
	unsigned i;

	for (i = 0; i < r->n_shares; i++) {
		if (codec_hex_encode(buf, sizeof(buf), r->shares[i], r->share_len) == 0)
			json_array_append_new(keys, json_string(buf));
		if (codec_b64_encode(buf, sizeof(buf), r->shares[i], r->share_len, CODEC_B64_STD) ==
		    0)
			json_array_append_new(keys_b64, json_string(buf));
	}
	secmem_wipe(buf, sizeof(buf));
	return json_pack("{s:o,s:o,s:s}", "keys", keys, "keys_base64", keys_b64, "root_token",
	                 r->root_token);
}

static void sys_init(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct seal_init_result r = {0};
	struct seal_status st;
	unsigned n = 1, t = 1;
	int err;

	if (req->method == REQ_GET) {
		sys_init_read(c, resp);
		return;
	}
	seal_get_status(c->seal, &st);
	if (st.initialized) {
		response_invalid(resp, "Vault is already initialized");
		return;
	}
	if (c->cfg->seal_type == SEAL_SHAMIR && sys_init_params(req, resp, &n, &t) != 0)
		return;
	err = core_initialize(c, n, t, NULL, &r);
	if (err == COFFER_ERR_EXISTS) {
		response_invalid(resp, "Vault is already initialized");
		return;
	}
	if (err != 0) {
		log_error("sys/init failed: %s", coffer_strerror(err));
		response_err(resp, err);
		return;
	}
	log_info("vault initialized with %u shares, threshold %u", n, t);
	response_raw(resp, 200, sys_init_result_json(&r));
	seal_init_result_clear(&r);
	/* An auto-unseal vault is unsealed right after init, as Vault does; when that fails the
	 * vault stays sealed and initialized, and the answer is still the init result. */
	if (c->cfg->seal_type == SEAL_KEYFILE && (err = core_unseal_keyfile(c)) != 0)
		log_error("unseal with the key file after init failed: %s", coffer_strerror(err));
}

/* Vault accepts a share as hex first, then as standard base64. *len is 0 when neither parses. */
static void sys_decode_share(const char *key, uint8_t *out, size_t cap, size_t *len)
{
	size_t klen = strlen(key);

	*len = 0;
	if (codec_hex_decode(out, cap, len, key, klen) == 0)
		return;
	*len = 0;
	if (codec_b64_decode(out, cap, len, key, klen, CODEC_B64_STD) != 0)
		*len = 0;
}

static void sys_unseal(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct seal_status st;
	const char *key = NULL;
	uint8_t share[256];
	size_t share_len;
	bool reset = false;
	int err;

	if (coffer_json_get_bool(req->body, "reset", &reset) == COFFER_ERR_INVALID ||
	    coffer_json_get_string(req->body, "key", &key) == COFFER_ERR_INVALID) {
		response_invalid(resp, "key must be a string and reset a boolean");
		return;
	}
	seal_get_status(c->seal, &st);
	if (!st.initialized) {
		response_invalid(resp, "Vault is not initialized");
		return;
	}
	if (reset) {
		seal_reset_progress(c->seal);
		response_raw(resp, 200, sys_seal_status_json(c));
		return;
	}
	if (key == NULL) {
		response_invalid(resp, "'key' must be specified in request body as JSON, or "
		                       "'reset' set to true");
		return;
	}
	sys_decode_share(key, share, sizeof(share), &share_len);
	err = share_len == 0 ? COFFER_ERR_BAD_SHARE : core_unseal_share(c, share, share_len);
	secmem_wipe(share, sizeof(share));
	if (err == COFFER_ERR_EXISTS) {
		seal_get_status(c->seal, &st);
		response_invalid(
		    resp, "invalid key: this share was already submitted (progress %u of %u)",
		    st.progress, st.threshold);
		return;
	}
	if (err != 0) {
		log_warn("unseal attempt failed: %s", coffer_strerror(err));
		response_fail(resp, err, "invalid key: %s", coffer_strerror(err));
		return;
	}
	if (st.sealed && !barrier_is_sealed(c->svc.barrier))
		log_info("vault unsealed");
	response_raw(resp, 200, sys_seal_status_json(c));
}

static void sys_seal_status(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	struct core *c = ctx->core;
	(void)req;
	response_raw(resp, 200, sys_seal_status_json(c));
}

static void sys_seal(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	/* The router checked the vault's state and the token's sudo, and recorded the request (a
	 * refused one too); the token goes before the caches do. */
	core_request_done(req);
	core_seal(c);
	log_info("vault sealed by request %s", req->request_id);
	response_no_content(resp);
}

/* A status-code override from the query (?sealedcode=299); 0 when absent, -1 when invalid. */
static int sys_health_code(const struct request *req, const char *name, int dflt)
{
	const char *v = req->query(req, name);
	char *end;
	long code;

	if (v == NULL)
		return dflt;
	code = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || code < 100 || code > 599)
		return -1;
	return (int)code;
}

static void sys_health(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct seal_status st;
	int active, sealed, uninit, auditfail, standby, status;
	bool audit_ok, is_standby, standby_ok = false;
	json_t *o;

	active = sys_health_code(req, "activecode", 200);
	sealed = sys_health_code(req, "sealedcode", 503);
	uninit = sys_health_code(req, "uninitcode", 501);
	/* Like sealed: every request but these raw ones fails (closed) while no audit device can
	 * write, so a load balancer must send the traffic elsewhere; 503 is what they all read as
	 * "not now". */
	auditfail = sys_health_code(req, "auditfailcode", 503);
	/* An HA standby answers 429 (a load balancer sends clients to the active node), or the
	 * active code with standbyok=true, as Vault does. */
	standby = sys_health_code(req, "standbycode", 429);
	if (active < 0 || sealed < 0 || uninit < 0 || auditfail < 0 || standby < 0 ||
	    (req->query(req, "standbyok") != NULL &&
	     request_parse_bool(req->query(req, "standbyok"), &standby_ok) != 0)) {
		response_invalid(resp, "invalid status code in query");
		return;
	}
	seal_get_status(c->seal, &st);
	is_standby = !st.sealed && core_ha_standby(c);
	audit_ok =
	    !st.initialized || st.sealed || is_standby || audit_broker_can_write(c->svc.audit);
	status = !st.initialized ? uninit
	         : st.sealed     ? sealed
	         : is_standby    ? (standby_ok ? active : standby)
	         : !audit_ok     ? auditfail
	                         : active;
	o = json_pack("{s:b,s:b,s:b,s:b,s:s,s:s,s:I,s:s}", "initialized", st.initialized, "sealed",
	              st.sealed, "standby", is_standby, "performance_standby", 0,
	              "replication_performance_mode", "disabled", "replication_dr_mode", "disabled",
	              "server_time_utc", (json_int_t)coffer_clock_now_s(), "version",
	              COFFER_VERSION);
	/* API.md lists the cluster identity always: empty until the first unseal. */
	pthread_mutex_lock(&c->cluster_lock);
	json_object_set_new(o, "cluster_name", json_string(c->cluster_name));
	json_object_set_new(o, "cluster_id", json_string(c->cluster_id));
	pthread_mutex_unlock(&c->cluster_lock);
	if (st.initialized && !st.sealed)
		json_object_set_new(o, "audit_writable", json_boolean(audit_ok));
	response_raw(resp, status, o);
}

/* sys/leader: without HA this node leads; with it, what the lock says (Vault's fields). */
static void sys_leader(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct storage_ha_leader l;
	char addr[300], when[COFFER_TIME_LEN];
	json_t *o;

	(void)req;
	if (!c->ha_enabled) {
		snprintf(addr, sizeof(addr), "%s://%s",
		         c->cfg->tls_cert_file != NULL ? "https" : "http", c->cfg->listen);
		response_raw(resp, 200,
		             json_pack("{s:b,s:b,s:s,s:s,s:b}", "ha_enabled", 0, "is_self", 1,
		                       "leader_address", addr, "leader_cluster_address", "",
		                       "performance_standby", 0));
		return;
	}
	core_ha_leader(c, &l);
	o = json_pack("{s:b,s:b,s:s,s:s,s:b}", "ha_enabled", 1, "is_self", l.is_known && l.is_self,
	              "leader_address", l.is_known ? l.api_addr : "", "leader_cluster_address",
	              l.is_known ? l.cluster_addr : "", "performance_standby", 0);
	if (l.is_known) {
		coffer_time_format(l.active_since, 0, 0, when);
		json_object_set_new(o, "active_time", json_string(when));
	}
	response_raw(resp, 200, o);
}

/* PUT sys/step-down (sudo): the active node gives up the lock; another takes over. */
static void sys_step_down(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;

	if (!c->ha_enabled) {
		response_invalid(resp, "step-down needs high availability (storage.ha_enabled)");
		return;
	}
	log_info("step-down requested by request %s", req->request_id);
	core_ha_step_down(c);
	response_no_content(resp);
}

static void sys_key_status(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct barrier_key_status ks;
	char when[COFFER_TIME_LEN];
	int err;

	err = barrier_key_status(c->svc.barrier, &ks);
	if (err != 0) {
		response_err(resp, err);
		return;
	}
	coffer_time_format(ks.install_time, 0, 9, when);
	response_legacy(resp, req,
	                json_pack("{s:I,s:s,s:I}", "term", (json_int_t)ks.term, "install_time",
	                          when, "encryptions", (json_int_t)ks.encryptions));
}

static void sys_rotate(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct core *c = ctx->core;
	struct barrier_key_status ks;
	int err;

	err = barrier_rotate(c->svc.barrier);
	if (err == 0)
		err = barrier_key_status(c->svc.barrier, &ks);
	if (err != 0) {
		response_err(resp, err);
		return;
	}
	log_info("keyring rotated to term %u by request %s", ks.term, req->request_id);
	response_no_content(resp);
}

const struct route sys_routes[] = {
    {"sys/init", REQ_M(REQ_GET) | REQ_M_WRITE, ROUTE_RAW, sys_init, NULL},
    {"sys/unseal", REQ_M_WRITE, ROUTE_RAW, sys_unseal, NULL},
    {"sys/seal-status", REQ_M(REQ_GET), ROUTE_RAW, sys_seal_status, NULL},
    {"sys/seal", REQ_M_WRITE, ROUTE_SUDO, sys_seal, NULL},
    {"sys/health", REQ_M(REQ_GET) | REQ_M(REQ_HEAD), ROUTE_RAW, sys_health, NULL},
    {"sys/leader", REQ_M(REQ_GET), ROUTE_RAW, sys_leader, NULL},
    {"sys/step-down", REQ_M_WRITE, ROUTE_SUDO, sys_step_down, NULL},
    {"sys/key-status", REQ_M(REQ_GET), 0, sys_key_status, NULL},
    {"sys/rotate", REQ_M_WRITE, ROUTE_SUDO, sys_rotate, NULL},
};
const size_t sys_routes_len = sizeof(sys_routes) / sizeof(sys_routes[0]);
