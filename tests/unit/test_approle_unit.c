/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_approle_unit.c: the AppRole engine's routes called directly (no HTTP, no router) over a
 * real barrier, policy store and token store: roles, role_ids, secret_ids with TTL, use count and
 * CIDR binding, login, and that role_ids and secret_ids are stored only as keyed hashes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/tables.h"
#include "identity/approle/approle_int.h"
#include "store/barrier.h"
#include "api/engine.h"
#include "clock.h"
#include "crypto.h"
#include "json.h"
#include "engines/mount.h"
#include "front/registry.h"
#include "identity/policy.h"
#include "test.h"
#include "testutil.h"
#include "identity/token.h"

struct fixture {
	char dir[64];
	char db[128];
	struct storage *st;
	struct barrier *b;
	struct engine_services svc;
	struct engine_ctx ctx; /* the approle mount's, as the router makes it */
	struct mount_entry *m;
	char remote[64];
	struct response resp;
};

static int fixture_init(struct fixture *f)
{
	uint8_t key[COFFER_KEY_LEN];
	const char *rest;
	int rc;

	memset(f, 0, sizeof(*f));
	snprintf(f->remote, sizeof(f->remote), "127.0.0.1");
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "approle") != 0 ||
	    testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	coffer_random(key, sizeof(key));
	rc = barrier_initialize(f->b, key);
	f->svc.barrier = f->b;
	if (rc == 0)
		rc = policy_store_new(f->b, &f->svc.policies);
	if (rc == 0)
		f->svc.tokens = token_store_new(f->b);
	if (rc == 0)
		rc = mount_table_new(&f->svc, registry_engines, true, &f->svc.auth_mounts);
	if (rc == 0)
		rc = mount_table_load(f->svc.auth_mounts);
	if (rc == 0)
		rc = mount_table_add(f->svc.auth_mounts, "approle", "approle", "", 0, 0, NULL);
	if (rc == 0)
		rc = mount_table_find(f->svc.auth_mounts, "approle/login", &f->m, &rest);
	if (rc == 0)
		engine_ctx_init(&f->ctx, &f->svc, approle_engine.uses,
		                mount_entry_store_prefix(f->m));
	return rc;
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	response_clear(&f->resp);
	mount_entry_release(f->m);
	f->m = NULL;
	mount_table_free(f->svc.auth_mounts);
	f->svc.auth_mounts = NULL;
	token_store_free(f->svc.tokens);
	f->svc.tokens = NULL;
	policy_store_free(f->svc.policies);
	f->svc.policies = NULL;
	testutil_close_barrier(&f->st, &f->b);
	f->svc.barrier = NULL;
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
}

static const char *no_query(const struct request *req, const char *key)
{
	(void)req;
	(void)key;
	return NULL;
}

static const struct route *route_find(const char *pattern)
{
	size_t i;

	for (i = 0; i < *approle_engine.n_routes; i++) {
		if (strcmp(approle_engine.routes[i].pattern, pattern) == 0)
			return &approle_engine.routes[i];
	}
	return NULL;
}

/* Run the route with pattern for role (may be NULL) and a JSON body (may be NULL); the status. */
static int call(struct fixture *f, enum req_method method, const char *pattern, const char *role,
                const char *body)
{
	const struct route *r = route_find(pattern);
	struct request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.is_list = method == REQ_LIST;
	req.body = body != NULL ? json_loads(body, 0, NULL) : json_object();
	req.query = no_query;
	req.mount = f->m;
	coffer_uuid(req.request_id);
	snprintf(req.remote_addr, sizeof(req.remote_addr), "%s", f->remote);
	if (role != NULL) {
		request_add_param(&req, "role_name", role, strlen(role));
	}
	response_clear(&f->resp);
	f->resp.status = 0;
	if (r == NULL || req.body == NULL || !(r->methods & REQ_M(method))) {
		json_decref(req.body);
		return -1;
	}
	r->fn(&f->ctx, &req, &f->resp);
	json_decref(req.body);
	return f->resp.status;
}

static json_t *data(const struct fixture *f, const char *key)
{
	return json_object_get(json_object_get(f->resp.json, "data"), key);
}

static const char *data_str(const struct fixture *f, const char *key)
{
	return json_string_value(data(f, key));
}

static bool error_is(const struct fixture *f, const char *msg)
{
	const char *e =
	    json_string_value(json_array_get(json_object_get(f->resp.json, "errors"), 0));

	return e != NULL && strcmp(e, msg) == 0;
}

/* Create role name (body), and copy its role_id into role_id (37+). */
static int make_role(struct fixture *f, const char *name, const char *body, char *role_id)
{
	if (call(f, REQ_POST, "role/:role_name", name, body) != 204)
		return -1;
	if (call(f, REQ_GET, "role/:role_name/role-id", name, NULL) != 200)
		return -1;
	snprintf(role_id, 128, "%s", data_str(f, "role_id"));
	return 0;
}

static int make_secret(struct fixture *f, const char *name, const char *body, char *secret_id)
{
	if (call(f, REQ_POST, "role/:role_name/secret-id", name, body) != 200)
		return -1;
	snprintf(secret_id, 128, "%s", data_str(f, "secret_id"));
	return 0;
}

static int login(struct fixture *f, const char *role_id, const char *secret_id)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"role_id\":\"%s\",\"secret_id\":\"%s\"}", role_id,
	         secret_id);
	return call(f, REQ_POST, "login", NULL, body);
}

static void test_role_create_then_read_has_defaults_and_normalized_lists(void)
{
	struct fixture f = {0};
	json_t *pol;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(
	    call(&f, REQ_POST, "role/:role_name", "web",
	         "{\"token_policies\":\"b, a,b\",\"token_ttl\":\"1h\",\"secret_id_ttl\":600}"),
	    204);
	CHECK_EQ_OUT(call(&f, REQ_GET, "role/:role_name", "web", NULL), 200);
	pol = data(&f, "token_policies");
	CHECK_OUT(json_array_size(pol) == 2);
	CHECK_OUT(strcmp(json_string_value(json_array_get(pol, 0)), "a") == 0);
	CHECK_OUT(strcmp(json_string_value(json_array_get(pol, 1)), "b") == 0);
	CHECK_OUT(json_equal(pol, data(&f, "policies")));
	CHECK_EQ_OUT(json_integer_value(data(&f, "token_ttl")), 3600);
	CHECK_EQ_OUT(json_integer_value(data(&f, "secret_id_ttl")), 600);
	CHECK_EQ_OUT(json_integer_value(data(&f, "token_max_ttl")), 0);
	CHECK_OUT(json_is_true(data(&f, "bind_secret_id")));
	CHECK_OUT(json_is_array(data(&f, "secret_id_bound_cidrs")));
	CHECK_OUT(data(&f, "role_id") == NULL);
out:
	fixture_destroy(&f);
}

static void test_role_update_changes_only_given_fields(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "web", "{\"token_ttl\":\"1h\"}"), 204);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "web",
	                  "{\"token_num_uses\":3,\"policies\":[\"x\"],\"period\":\"1m\"}"),
	             204);
	CHECK_EQ_OUT(call(&f, REQ_GET, "role/:role_name", "web", NULL), 200);
	CHECK_EQ_OUT(json_integer_value(data(&f, "token_ttl")), 3600);
	CHECK_EQ_OUT(json_integer_value(data(&f, "token_num_uses")), 3);
	CHECK_EQ_OUT(json_integer_value(data(&f, "token_period")), 60);
	CHECK_OUT(strcmp(json_string_value(json_array_get(data(&f, "token_policies"), 0)), "x") ==
	          0);
out:
	fixture_destroy(&f);
}

static void test_role_rejects_bad_input(void)
{
	static const char *const bad[] = {
	    "{\"secret_id_bound_cidrs\":\"10.0.0.0/99\"}",
	    "{\"bind_secret_id\":false}",
	    "{\"token_ttl\":\"2h\",\"token_max_ttl\":\"1h\"}",
	    "{\"token_ttl\":\"soon\"}",
	    "{\"token_num_uses\":-1}",
	    "{\"token_policies\":{}}",
	    "{\"bind_secret_id\":\"maybe\"}",
	    "{\"token_type\":\"batch\"}",
	};
	struct fixture f = {0};
	size_t i;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "web", bad[i]), 400);
	CHECK_EQ_OUT(call(&f, REQ_GET, "role/:role_name", "web", NULL), 404);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "bad name", "{}"), 400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "..", "{}"), 400);
	CHECK_OUT(!approle_name_is_valid(""));
	CHECK_OUT(!approle_name_is_valid("a/b"));
	CHECK_OUT(approle_name_is_valid("Web_app-1.prod"));
out:
	fixture_destroy(&f);
}

static void test_login_issues_an_orphan_token_with_role_settings(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL;
	char role_id[128], secret_id[128], token[256];
	json_t *auth;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web",
	                       "{\"token_policies\":\"app\",\"token_ttl\":\"20m\","
	                       "\"token_bound_cidrs\":[\"127.0.0.0/8\"]}",
	                       role_id),
	             0);
	CHECK_EQ_OUT(strlen(role_id), 36);
	CHECK_EQ_OUT(
	    make_secret(&f, "web", "{\"metadata\":\"{\\\"team\\\":\\\"x\\\"}\"}", secret_id), 0);
	CHECK_EQ_OUT(strlen(secret_id), 36);
	CHECK_OUT(data_str(&f, "secret_id_accessor") != NULL);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
	auth = json_object_get(f.resp.json, "auth");
	CHECK_OUT(strncmp(json_string_value(json_object_get(auth, "client_token")), "cof.", 4) ==
	          0);
	CHECK_OUT(strcmp(json_string_value(
	                     json_object_get(json_object_get(auth, "metadata"), "role_name")),
	                 "web") == 0);
	CHECK_EQ_OUT(json_integer_value(json_object_get(auth, "lease_duration")), 1200);
	CHECK_OUT(json_is_true(json_object_get(auth, "orphan")));
	snprintf(token, sizeof(token), "%s",
	         json_string_value(json_object_get(auth, "client_token")));
	CHECK_EQ_OUT(token_lookup(f.svc.tokens, token, &e), 0);
	CHECK_OUT(strcmp(e->path, "auth/approle/login") == 0);
	CHECK_OUT(strcmp(e->display_name, "approle") == 0);
	CHECK_OUT(json_array_size(e->policies) == 2);
	CHECK_OUT(json_array_size(e->bound_cidrs) == 1);
	CHECK_OUT(e->is_renewable);
out:
	token_entry_release(e);
	fixture_destroy(&f);
}

static void test_login_rejects_wrong_credentials(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	CHECK_EQ_OUT(login(&f, "00000000-0000-4000-8000-000000000000", secret_id), 400);
	CHECK_OUT(error_is(&f, "invalid role or secret ID"));
	CHECK_EQ_OUT(login(&f, role_id, "00000000-0000-4000-8000-000000000000"), 400);
	CHECK_OUT(error_is(&f, "invalid secret id"));
	CHECK_EQ_OUT(call(&f, REQ_POST, "login", NULL, "{\"role_id\":\"x\"}"), 400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "login", NULL, "{}"), 400);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
out:
	fixture_destroy(&f);
}

static void test_secret_id_with_one_use_allows_one_login(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", "{\"num_uses\":1}", secret_id), 0);
	CHECK_EQ_OUT(json_integer_value(data(&f, "secret_id_num_uses")), 1);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
	CHECK_OUT(error_is(&f, "invalid secret id"));
	CHECK_EQ_OUT(make_secret(&f, "web", "{\"num_uses\":2}", secret_id), 0);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
out:
	fixture_destroy(&f);
}

static void test_secret_id_limits_follow_the_role(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(
	    make_role(&f, "web", "{\"secret_id_num_uses\":3,\"secret_id_ttl\":\"1h\"}", role_id),
	    0);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	CHECK_EQ_OUT(json_integer_value(data(&f, "secret_id_num_uses")), 3);
	CHECK_EQ_OUT(json_integer_value(data(&f, "secret_id_ttl")), 3600);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id", "web", "{\"num_uses\":4}"),
	             400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id", "web", "{\"ttl\":\"2h\"}"),
	             400);
	CHECK_EQ_OUT(
	    call(&f, REQ_POST, "role/:role_name/secret-id", "web", "{\"metadata\":\"[1]\"}"), 400);
	CHECK_EQ_OUT(
	    call(&f, REQ_POST, "role/:role_name/secret-id", "web", "{\"cidr_list\":\"x\"}"), 400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id", "nope", NULL), 404);
out:
	fixture_destroy(&f);
}

/* The wall clock two seconds ahead of the real one: a 1 s secret_id has expired. */
static int64_t clock_two_seconds_on(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + 2) * 1000000000 + ts.tv_nsec;
}

static void test_expired_secret_id_is_refused(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128], body[256];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", "{\"ttl\":\"1s\"}", secret_id), 0);
	coffer_clock_set(clock_two_seconds_on);
	snprintf(body, sizeof(body), "{\"secret_id\":\"%s\"}", secret_id);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/lookup", "web", body), 404);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
	CHECK_OUT(error_is(&f, "invalid secret id"));
out:
	coffer_clock_set(NULL);
	fixture_destroy(&f);
}

static void test_cidr_bindings_are_enforced(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(
	    make_secret(&f, "web", "{\"cidr_list\":\"10.0.0.0/8, 192.168.1.1\"}", secret_id), 0);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
	snprintf(f.remote, sizeof(f.remote), "10.2.3.4");
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "web",
	                  "{\"secret_id_bound_cidrs\":[\"192.168.0.0/16\"]}"),
	             204);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
	snprintf(f.remote, sizeof(f.remote), "192.168.1.1");
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 200);
out:
	fixture_destroy(&f);
}

static void test_role_without_secret_id_logs_in_by_cidr(void)
{
	struct fixture f = {0};
	char role_id[128], body[256];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(
	    make_role(&f, "svc",
	              "{\"bind_secret_id\":false,\"secret_id_bound_cidrs\":\"127.0.0.0/8\"}",
	              role_id),
	    0);
	snprintf(body, sizeof(body), "{\"role_id\":\"%s\"}", role_id);
	CHECK_EQ_OUT(call(&f, REQ_POST, "login", NULL, body), 200);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id", "svc", NULL), 400);
	snprintf(f.remote, sizeof(f.remote), "::1");
	CHECK_EQ_OUT(call(&f, REQ_POST, "login", NULL, body), 400);
out:
	fixture_destroy(&f);
}

static void test_custom_secret_id_is_unique(void)
{
	struct fixture f = {0};
	char role_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/custom-secret-id", "web",
	                  "{\"secret_id\":\"my-own-secret\"}"),
	             200);
	CHECK_OUT(strcmp(data_str(&f, "secret_id"), "my-own-secret") == 0);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/custom-secret-id", "web",
	                  "{\"secret_id\":\"my-own-secret\"}"),
	             400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/custom-secret-id", "web", "{}"), 400);
	CHECK_EQ_OUT(login(&f, role_id, "my-own-secret"), 200);
out:
	fixture_destroy(&f);
}

static void test_secret_id_lookup_list_and_destroy(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128], accessor[128], body[256];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_role(&f, "other", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", "{\"metadata\":{\"k\":\"v\"}}", secret_id), 0);
	snprintf(accessor, sizeof(accessor), "%s", data_str(&f, "secret_id_accessor"));
	snprintf(body, sizeof(body), "{\"secret_id\":\"%s\"}", secret_id);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/lookup", "web", body), 200);
	CHECK_OUT(strcmp(data_str(&f, "secret_id_accessor"), accessor) == 0);
	CHECK_OUT(data(&f, "secret_id") == NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(data(&f, "metadata"), "k")), "v") == 0);
	CHECK_OUT(strcmp(data_str(&f, "expiration_time"), "0001-01-01T00:00:00Z") == 0);
	CHECK_EQ_OUT(call(&f, REQ_LIST, "role/:role_name/secret-id", "web", NULL), 200);
	CHECK_OUT(strcmp(json_string_value(json_array_get(data(&f, "keys"), 0)), accessor) == 0);
	CHECK_EQ_OUT(call(&f, REQ_LIST, "role/:role_name/secret-id", "other", NULL), 404);
	snprintf(body, sizeof(body), "{\"secret_id_accessor\":\"%s\"}", accessor);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id-accessor/lookup", "other", body),
	             404);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id-accessor/lookup", "web", body),
	             200);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id-accessor/destroy", "web", body),
	             204);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id-accessor/lookup", "web", body),
	             404);
	snprintf(body, sizeof(body), "{\"secret_id\":\"%s\"}", secret_id);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/lookup", "web", body), 404);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/destroy", "web", body), 204);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	snprintf(body, sizeof(body), "{\"secret_id\":\"%s\"}", secret_id);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/destroy", "web", body), 204);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/secret-id/lookup", "web", body), 404);
out:
	fixture_destroy(&f);
}

static void test_custom_role_id_moves_the_index(void)
{
	struct fixture f = {0};
	char old_id[128], other_id[128], secret_id[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", old_id), 0);
	CHECK_EQ_OUT(make_role(&f, "other", "{}", other_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	CHECK_EQ_OUT(
	    call(&f, REQ_POST, "role/:role_name/role-id", "web", "{\"role_id\":\"web-id\"}"), 204);
	CHECK_EQ_OUT(call(&f, REQ_GET, "role/:role_name/role-id", "web", NULL), 200);
	CHECK_OUT(strcmp(data_str(&f, "role_id"), "web-id") == 0);
	CHECK_EQ_OUT(login(&f, old_id, secret_id), 400);
	CHECK_OUT(error_is(&f, "invalid role or secret ID"));
	CHECK_EQ_OUT(login(&f, "web-id", secret_id), 200);
	CHECK_EQ_OUT(
	    call(&f, REQ_POST, "role/:role_name/role-id", "other", "{\"role_id\":\"web-id\"}"),
	    400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name", "other", "{\"role_id\":\"web-id\"}"),
	             400);
	CHECK_EQ_OUT(call(&f, REQ_POST, "role/:role_name/role-id", "web", "{}"), 400);
out:
	fixture_destroy(&f);
}

static size_t count_below(struct fixture *f, const char *rel, char ***keys)
{
	char folder[256];
	size_t n = 0;

	snprintf(folder, sizeof(folder), "%s%s", f->m->storage_prefix, rel);
	*keys = NULL;
	if (barrier_list(f->b, folder, keys, &n) != 0)
		return (size_t)-1;
	return n;
}

static void test_delete_role_removes_its_secret_ids(void)
{
	struct fixture f = {0};
	char role_id[128], new_id[128], secret_id[128], **keys = NULL;
	size_t n;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	CHECK_EQ_OUT(call(&f, REQ_DELETE, "role/:role_name", "web", NULL), 204);
	CHECK_EQ_OUT(call(&f, REQ_DELETE, "role/:role_name", "web", NULL), 204);
	CHECK_EQ_OUT(call(&f, REQ_LIST, "role", NULL, NULL), 404);
	n = count_below(&f, "", &keys);
	barrier_list_free(keys, n);
	CHECK_EQ_OUT(n, 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", new_id), 0);
	CHECK_OUT(strcmp(new_id, role_id) != 0);
	CHECK_EQ_OUT(login(&f, role_id, secret_id), 400);
	CHECK_EQ_OUT(login(&f, new_id, secret_id), 400);
	CHECK_EQ_OUT(call(&f, REQ_LIST, "role", NULL, NULL), 200);
	CHECK_OUT(strcmp(json_string_value(json_array_get(data(&f, "keys"), 0)), "web") == 0);
out:
	fixture_destroy(&f);
}

/* Invariant 1 and 5: neither a role_id nor a secret_id is a storage name. */
static void test_ids_are_stored_only_as_keyed_hashes(void)
{
	struct fixture f = {0};
	char role_id[128], secret_id[128], **keys = NULL;
	size_t n;
	bool is_hash;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", "{}", role_id), 0);
	CHECK_EQ_OUT(make_secret(&f, "web", NULL, secret_id), 0);
	n = count_below(&f, "secret-id/web/", &keys);
	is_hash = n == 1 && strlen(keys[0]) == 64 && strspn(keys[0], "0123456789abcdef") == 64;
	barrier_list_free(keys, n);
	CHECK_OUT(is_hash);
	n = count_below(&f, "role-id/", &keys);
	is_hash = n == 1 && strlen(keys[0]) == 64 && strstr(keys[0], role_id) == NULL;
	barrier_list_free(keys, n);
	CHECK_OUT(is_hash);
out:
	fixture_destroy(&f);
}

static void test_renew_hook_reads_the_role_or_refuses(void)
{
	struct fixture f = {0};
	static const char body[] = "{\"token_ttl\":\"10m\",\"token_max_ttl\":\"1h\","
	                           "\"token_period\":\"5m\"}";
	struct token_renew_limits lim = {0};
	json_t *meta = json_pack("{s:s}", "role_name", "web");
	char role_id[128], msg[128] = "";

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(make_role(&f, "web", body, role_id), 0);
	CHECK_EQ_OUT(approle_engine.renew(&f.ctx, meta, &lim, msg, sizeof(msg)), 0);
	CHECK_EQ_OUT(lim.ttl_s, 600);
	CHECK_EQ_OUT(lim.max_ttl_s, 3600);
	CHECK_EQ_OUT(lim.period_s, 300);
	CHECK_EQ_OUT(call(&f, REQ_DELETE, "role/:role_name", "web", NULL), 204);
	CHECK_EQ_OUT(approle_engine.renew(&f.ctx, meta, &lim, msg, sizeof(msg)),
	             COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(msg, "role \"web\" does not exist during renewal") == 0);
out:
	json_decref(meta);
	fixture_destroy(&f);
}

int main(void)
{
	coffer_json_init();
	RUN(test_role_create_then_read_has_defaults_and_normalized_lists);
	RUN(test_role_update_changes_only_given_fields);
	RUN(test_role_rejects_bad_input);
	RUN(test_login_issues_an_orphan_token_with_role_settings);
	RUN(test_login_rejects_wrong_credentials);
	RUN(test_secret_id_with_one_use_allows_one_login);
	RUN(test_secret_id_limits_follow_the_role);
	RUN(test_expired_secret_id_is_refused);
	RUN(test_cidr_bindings_are_enforced);
	RUN(test_role_without_secret_id_logs_in_by_cidr);
	RUN(test_custom_secret_id_is_unique);
	RUN(test_secret_id_lookup_list_and_destroy);
	RUN(test_custom_role_id_moves_the_index);
	RUN(test_delete_role_removes_its_secret_ids);
	RUN(test_ids_are_stored_only_as_keyed_hashes);
	RUN(test_renew_hook_reads_the_role_or_refuses);
	return test_summary();
}
