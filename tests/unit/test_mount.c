/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mount.c: unit tests of server/engines/mount.c over a real barrier on a temporary SQLite
 * store: built-in mounts, longest-prefix lookup, the add validations, persistence across reloads,
 * removal with its data purge, tuning, reference counting, and the JSON shape of sys/auth.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/barrier.h"
#include "api/tables.h"
#include "crypto.h"
#include "json.h"
#include "engines/mount.h"
#include "front/registry.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

struct fixture {
	char dir[64];
	char db[128];
	struct storage *st;
	struct barrier *b;
	struct engine_services svc;
	struct mount_table *auth;
};

/* A fresh unsealed barrier and a loaded auth table. */
static int fixture_init(struct fixture *f)
{
	uint8_t key[COFFER_KEY_LEN];
	int rc;

	memset(f, 0, sizeof(*f));
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "mount") != 0 ||
	    testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	coffer_random(key, sizeof(key));
	rc = barrier_initialize(f->b, key);
	f->svc.barrier = f->b;
	if (rc == 0)
		rc = mount_table_new(&f->svc, registry_engines, true, &f->auth);
	if (rc == 0)
		rc = mount_table_load(f->auth);
	f->svc.auth_mounts = f->auth;
	return rc;
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	mount_table_free(f->auth);
	f->auth = NULL;
	f->svc.auth_mounts = NULL;
	testutil_close_barrier(&f->st, &f->b);
	f->svc.barrier = NULL;
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
}

/* A new auth table loaded from the barrier, as at the next unseal. */
static int fixture_reload(struct fixture *f)
{
	mount_table_free(f->auth);
	f->auth = NULL;
	if (mount_table_new(&f->svc, registry_engines, true, &f->auth) != 0)
		return -1;
	f->svc.auth_mounts = f->auth;
	return mount_table_load(f->auth);
}

static int put_str(struct barrier *b, const char *path, const char *value)
{
	return barrier_put(b, path, (const uint8_t *)value, strlen(value));
}

static size_t count_below(struct barrier *b, const char *folder)
{
	char **keys = NULL;
	size_t n = 0;

	if (barrier_list(b, folder, &keys, &n) != 0)
		return (size_t)-1;
	barrier_list_free(keys, n);
	return n;
}

static void test_load_creates_builtin_token_mount(void)
{
	struct fixture f = {0};
	struct mount_entry *m = NULL;
	const char *rest = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "token/lookup-self", &m, &rest), 0);
	CHECK_OUT(strcmp(m->path, "token/") == 0 && strcmp(m->type, "token") == 0);
	CHECK_OUT(strcmp(rest, "lookup-self") == 0);
	CHECK_OUT(m->is_auth && m->engine == &token_engine);
	CHECK_OUT(strncmp(m->accessor, "auth_token_", 11) == 0 && strlen(m->accessor) == 19);
	CHECK_OUT(strncmp(m->storage_prefix, "auth/", 5) == 0);
	CHECK_OUT(strncmp(m->storage_prefix + 5, m->uuid, 36) == 0);
	CHECK_OUT(strcmp(m->storage_prefix + 41, "/") == 0);
out:
	mount_entry_release(m);
	fixture_destroy(&f);
}

static void test_secrets_table_has_secret_mount_only_with_kv(void)
{
	struct fixture f = {0};
	struct mount_table *t = NULL;
	struct mount_entry *m = NULL;
	const char *rest = NULL;
	int rc;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_new(&f.svc, registry_engines, false, &t), 0);
	CHECK_EQ_OUT(mount_table_load(t), 0);
	rc = mount_table_find(t, "secret/data/x", &m, &rest);
	if (mount_table_engine(t, "kv") == NULL) {
		CHECK_EQ_OUT(rc, COFFER_ERR_NOT_FOUND);
	} else {
		CHECK_EQ_OUT(rc, 0);
		CHECK_OUT(strcmp(m->type, "kv") == 0 && strcmp(rest, "data/x") == 0);
		CHECK_OUT(strcmp(json_string_value(json_object_get(m->options, "version")), "2") ==
		          0);
		CHECK_OUT(strncmp(m->storage_prefix, "logical/", 8) == 0);
	}
out:
	mount_entry_release(m);
	mount_table_free(t);
	fixture_destroy(&f);
}

static void test_find_matches_longest_mount_and_bare_name(void)
{
	struct fixture f = {0};
	struct mount_entry *m = NULL, *stale = NULL;
	const char *rest = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "approle", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "team/app", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "team/apps/", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "approle/role/x", &m, &rest), 0);
	CHECK_OUT(strcmp(m->path, "approle/") == 0 && strcmp(rest, "role/x") == 0);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(mount_table_find(f.auth, "approle", &m, &rest), 0);
	CHECK_OUT(strcmp(m->path, "approle/") == 0 && strcmp(rest, "") == 0);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(mount_table_find(f.auth, "team/apps/login", &m, &rest), 0);
	CHECK_OUT(strcmp(m->path, "team/apps/") == 0 && strcmp(rest, "login") == 0);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(mount_table_find(f.auth, "team/app/login", &m, &rest), 0);
	CHECK_OUT(strcmp(m->path, "team/app/") == 0);
	mount_entry_release(m);
	/* m is left stale, not reset: the failed finds below must clear it themselves, as the last
	 * check pins; out: does not release a pointer they left stale. */
	stale = m;
	CHECK_EQ_OUT(mount_table_find(f.auth, "approle2/login", &m, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(mount_table_find(f.auth, "team", &m, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(m == NULL);
out:
	if (m != stale)
		mount_entry_release(m);
	fixture_destroy(&f);
}

static void test_add_rejects_overlapping_paths(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a/b", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a/b/", "approle", "", 0, 0, NULL), COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a", "approle", "", 0, 0, NULL), COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a/b/c", "approle", "", 0, 0, NULL),
	             COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a/bc", "approle", "", 0, 0, NULL), 0);
out:
	fixture_destroy(&f);
}

static void test_add_rejects_reserved_paths_and_unknown_types(void)
{
	struct fixture f = {0};
	struct mount_table *t = NULL;
	json_t *arr = json_array();

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "token", "approle", "", 0, 0, NULL),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "token/x", "approle", "", 0, 0, NULL),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "tok2", "token", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", "bogus", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", "kv", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", NULL, "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "", "approle", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "/", "approle", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a/../b", "approle", "", 0, 0, NULL),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "a//b", "approle", "", 0, 0, NULL),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", "approle", "", 7200, 3600, NULL),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", "approle", "", -1, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(f.auth, "x", "approle", "", 0, 0, arr), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_new(&f.svc, registry_engines, false, &t), 0);
	CHECK_EQ_OUT(mount_table_add(t, "x", "approle", "", 0, 0, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_add(t, "sys/x", "approle", "", 0, 0, NULL), COFFER_ERR_INVALID);
out:
	mount_table_free(t);
	fixture_destroy(&f);
	json_decref(arr);
}

static void test_mounts_survive_reload(void)
{
	struct fixture f = {0};
	struct mount_entry *m = NULL;
	const char *rest;
	char uuid[37], accessor[64];
	int64_t dttl = 600;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "ci/approle", "approle", "for CI", 60, 3600, NULL), 0);
	CHECK_EQ_OUT(mount_table_tune(f.auth, "ci/approle", "tuned", &dttl, NULL), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "ci/approle/login", &m, &rest), 0);
	snprintf(uuid, sizeof(uuid), "%s", m->uuid);
	snprintf(accessor, sizeof(accessor), "%s", m->accessor);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(fixture_reload(&f), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "ci/approle/login", &m, &rest), 0);
	CHECK_OUT(strcmp(m->uuid, uuid) == 0 && strcmp(m->accessor, accessor) == 0);
	CHECK_OUT(strcmp(m->description, "tuned") == 0);
	CHECK_EQ_OUT(m->default_lease_ttl_s, 600);
	CHECK_EQ_OUT(m->max_lease_ttl_s, 3600);
	CHECK_OUT(m->engine == &approle_engine);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(mount_table_find(f.auth, "token/create", &m, &rest), 0);
out:
	mount_entry_release(m);
	fixture_destroy(&f);
}

static void test_remove_purges_the_mounts_data_only(void)
{
	struct fixture f = {0};
	struct mount_entry *a = NULL, *b = NULL;
	char pa[128], pb[128];
	const char *rest;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "one", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "two", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "one", &a, &rest), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "two", &b, &rest), 0);
	snprintf(pa, sizeof(pa), "%srole/x", a->storage_prefix);
	CHECK_EQ_OUT(put_str(f.b, pa, "{}"), 0);
	snprintf(pa, sizeof(pa), "%ssecret-id/x/abc", a->storage_prefix);
	CHECK_EQ_OUT(put_str(f.b, pa, "{}"), 0);
	snprintf(pb, sizeof(pb), "%srole/y", b->storage_prefix);
	CHECK_EQ_OUT(put_str(f.b, pb, "{}"), 0);
	CHECK_EQ_OUT(mount_table_remove(f.auth, "one/"), 0);
	/* The entry stays valid for a request that still holds it. */
	CHECK_OUT(strcmp(a->path, "one/") == 0);
	CHECK_EQ_OUT(count_below(f.b, a->storage_prefix), 0);
	CHECK_EQ_OUT(count_below(f.b, b->storage_prefix), 1);
	mount_entry_release(a);
	a = NULL;
	mount_entry_release(b);
	b = NULL;
	CHECK_EQ_OUT(mount_table_find(f.auth, "one/login", &a, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(fixture_reload(&f), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "one/login", &a, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(mount_table_find(f.auth, "two/login", &b, &rest), 0);
out:
	mount_entry_release(b);
	mount_entry_release(a);
	fixture_destroy(&f);
}

static void test_remove_refuses_token_and_reports_missing(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_remove(f.auth, "token"), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_remove(f.auth, "nothing"), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(mount_table_remove(f.auth, ""), COFFER_ERR_NOT_FOUND);
out:
	fixture_destroy(&f);
}

static void test_tune_rejects_default_above_max(void)
{
	struct fixture f = {0};
	int64_t big = 7200, small = 60;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "approle", "approle", "", 0, 3600, NULL), 0);
	CHECK_EQ_OUT(mount_table_tune(f.auth, "approle", NULL, &big, NULL), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_tune(f.auth, "approle", NULL, &big, &big), 0);
	CHECK_EQ_OUT(mount_table_tune(f.auth, "approle", NULL, NULL, &small), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(mount_table_tune(f.auth, "missing", NULL, &small, NULL), COFFER_ERR_NOT_FOUND);
out:
	fixture_destroy(&f);
}

static void test_json_has_vault_shape(void)
{
	struct fixture f = {0};
	json_t *o = NULL, *tok, *ar;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "approle", "approle", "machines", 60, 0, NULL), 0);
	o = mount_table_json(f.auth);
	CHECK_OUT(o != NULL && json_object_size(o) == 2);
	tok = json_object_get(o, "token/");
	ar = json_object_get(o, "approle/");
	CHECK_OUT(tok != NULL && ar != NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(ar, "type")), "approle") == 0);
	CHECK_OUT(strcmp(json_string_value(json_object_get(ar, "description")), "machines") == 0);
	CHECK_OUT(
	    strncmp(json_string_value(json_object_get(ar, "accessor")), "auth_approle_", 13) == 0);
	CHECK_OUT(json_string_length(json_object_get(ar, "uuid")) == 36);
	CHECK_OUT(json_integer_value(
	              json_object_get(json_object_get(ar, "config"), "default_lease_ttl")) == 60);
	CHECK_OUT(json_is_false(json_object_get(json_object_get(ar, "config"), "force_no_cache")));
	CHECK_OUT(json_is_null(json_object_get(ar, "options")));
	CHECK_OUT(json_is_false(json_object_get(ar, "local")));
	CHECK_OUT(json_is_false(json_object_get(ar, "seal_wrap")));
out:
	json_decref(o);
	fixture_destroy(&f);
}

static void test_clear_drops_entries_until_load(void)
{
	struct fixture f = {0};
	struct mount_entry *m = NULL;
	const char *rest;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(mount_table_add(f.auth, "approle", "approle", "", 0, 0, NULL), 0);
	mount_table_clear(f.auth);
	CHECK_EQ_OUT(mount_table_find(f.auth, "token/create", &m, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(mount_table_load(f.auth), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "approle/login", &m, &rest), 0);
out:
	mount_entry_release(m);
	fixture_destroy(&f);
}

/* A stored mount whose engine this build lacks is not served, but kept and still reserved. */
static void test_unknown_stored_engine_is_kept_but_not_served(void)
{
	struct fixture f = {0};
	struct mount_entry *m = NULL;
	const char *rest;
	uint8_t *text = NULL;
	size_t len = 0;
	json_t *arr = NULL, *o = NULL;
	char *dump = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(barrier_get(f.b, "core/mounts/auth", &text, &len), 0);
	arr = json_loadb((const char *)text, len, 0, NULL);
	secmem_freezero(text, len);
	text = NULL;
	CHECK_OUT(json_is_array(arr));
	json_array_append_new(arr,
	                      json_pack("{s:s,s:s,s:s,s:s,s:s,s:{}}", "path", "future/", "type",
	                                "oidc", "description", "", "accessor", "auth_oidc_00000000",
	                                "uuid", "00000000-0000-4000-8000-000000000000", "options"));
	dump = coffer_json_dump(arr);
	json_decref(arr);
	arr = NULL;
	CHECK_EQ_OUT(put_str(f.b, "core/mounts/auth", dump), 0);
	coffer_json_free_text(dump);
	dump = NULL;
	CHECK_EQ_OUT(fixture_reload(&f), 0);
	CHECK_EQ_OUT(mount_table_find(f.auth, "future/login", &m, &rest), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(mount_table_add(f.auth, "future", "approle", "", 0, 0, NULL),
	             COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(mount_table_add(f.auth, "approle", "approle", "", 0, 0, NULL), 0);
	CHECK_EQ_OUT(fixture_reload(&f), 0);
	o = mount_table_json(f.auth);
	CHECK_OUT(json_object_get(o, "future/") != NULL && json_object_get(o, "approle/") != NULL);
out:
	json_decref(o);
	coffer_json_free_text(dump);
	json_decref(arr);
	secmem_freezero(text, len);
	fixture_destroy(&f);
}

static void test_corrupt_stored_table_fails_load(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "core/mounts/auth", "[{\"path\":\"x\"}]"), 0);
	CHECK_OUT(fixture_reload(&f) != 0);
	CHECK_EQ_OUT(put_str(f.b, "core/mounts/auth", "not json"), 0);
	CHECK_OUT(fixture_reload(&f) != 0);
out:
	fixture_destroy(&f);
}

static void test_path_normalize_appends_slash(void)
{
	char out[64];

	CHECK_EQ(mount_path_normalize("approle", out, sizeof(out)), 0);
	CHECK(strcmp(out, "approle/") == 0);
	CHECK_EQ(mount_path_normalize("/a/b/", out, sizeof(out)), 0);
	CHECK(strcmp(out, "a/b/") == 0);
	CHECK_EQ(mount_path_normalize("", out, sizeof(out)), COFFER_ERR_INVALID);
	CHECK_EQ(mount_path_normalize("a/./b", out, sizeof(out)), COFFER_ERR_INVALID);
	CHECK_EQ(mount_path_normalize("abcdef", out, 6), COFFER_ERR_INVALID);
}

static const char *no_query(const struct request *req, const char *key)
{
	(void)req;
	(void)key;
	return NULL;
}

/* Run a sys/auth route: path_param and rest are the ":path" and "*" parameters (NULL: none). */
static int sys_call(struct fixture *f, struct response *resp, enum req_method method,
                    const char *path_param, const char *rest, const char *body)
{
	const struct route *r = &mount_sys_routes[path_param != NULL ? 1 : 0];
	struct engine_ctx ctx;
	struct request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.body = body != NULL ? json_loads(body, 0, NULL) : json_object();
	req.query = no_query;
	coffer_uuid(req.request_id);
	if (path_param != NULL)
		request_add_param(&req, "path", path_param, strlen(path_param));
	if (rest != NULL)
		request_add_param(&req, "*", rest, strlen(rest));
	response_clear(resp);
	resp->status = 0;
	if (req.body == NULL || !(r->methods & REQ_M(method))) {
		json_decref(req.body);
		return -1;
	}
	engine_ctx_init(&ctx, &f->svc, ENGINE_USES_MOUNTS, NULL);
	r->fn(&ctx, &req, resp);
	json_decref(req.body);
	return resp->status;
}

static const char *first_error(const struct response *resp)
{
	return json_string_value(json_array_get(json_object_get(resp->json, "errors"), 0));
}

static void test_sys_auth_enable_list_tune_disable(void)
{
	struct fixture f = {0};
	struct response resp = {0};
	json_t *data;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_OUT(mount_sys_routes_len >= 2 &&
	          strcmp(mount_sys_routes[1].pattern, "sys/auth/:path") == 0);
	CHECK_OUT(mount_sys_routes[1].flags & ROUTE_SUDO);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "approle", NULL,
	                      "{\"type\":\"approle\",\"description\":\"m\",\"config\":{\"max_lease_"
	                      "ttl\":\"2h\"}}"),
	             204);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "approle", NULL, "{\"type\":\"approle\"}"), 400);
	CHECK_OUT(strcmp(first_error(&resp), "path is already in use at approle/") == 0);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "x", NULL, "{\"type\":\"nope\"}"), 400);
	CHECK_OUT(strncmp(first_error(&resp), "unsupported auth type", 21) == 0);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "x", NULL, "{}"), 400);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_GET, NULL, NULL, NULL), 200);
	CHECK_OUT(json_object_get(resp.json, "approle/") != NULL);
	data = json_object_get(resp.json, "data");
	CHECK_OUT(json_integer_value(
	              json_object_get(json_object_get(json_object_get(data, "approle/"), "config"),
	                              "max_lease_ttl")) == 7200);
	CHECK_OUT(json_object_get(data, "token/") != NULL);
	CHECK_EQ_OUT(
	    sys_call(&f, &resp, REQ_POST, "approle", "tune", "{\"default_lease_ttl\":\"1h\"}"),
	    204);
	CHECK_EQ_OUT(
	    sys_call(&f, &resp, REQ_POST, "approle", "tune", "{\"default_lease_ttl\":\"3h\"}"),
	    400);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_GET, "approle", "tune", NULL), 200);
	data = json_object_get(resp.json, "data");
	CHECK_EQ_OUT(json_integer_value(json_object_get(data, "default_lease_ttl")), 3600);
	CHECK_EQ_OUT(json_integer_value(json_object_get(data, "max_lease_ttl")), 7200);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_GET, "token", "tune", NULL), 200);
	CHECK_EQ_OUT(json_integer_value(
	                 json_object_get(json_object_get(resp.json, "data"), "max_lease_ttl")),
	             768 * 3600);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_DELETE, "approle", NULL, NULL), 204);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_DELETE, "approle", NULL, NULL), 204);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_DELETE, "token", NULL, NULL), 400);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "token", NULL, "{\"type\":\"token\"}"), 400);
out:
	response_clear(&resp);
	fixture_destroy(&f);
}

static void test_sys_auth_paths_may_have_several_segments(void)
{
	struct fixture f = {0};
	struct response resp = {0};
	struct mount_entry *m = NULL;
	const char *rest;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "ci", "approle", "{\"type\":\"approle\"}"), 204);
	CHECK_EQ_OUT(mount_table_find(f.auth, "ci/approle/login", &m, &rest), 0);
	mount_entry_release(m);
	m = NULL;
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_POST, "ci", "approle/tune", "{\"description\":\"d\"}"),
	             204);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_GET, "ci", "approle", NULL), 200);
	CHECK_OUT(strcmp(json_string_value(
	                     json_object_get(json_object_get(resp.json, "data"), "description")),
	                 "d") == 0);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_GET, "ci", "nothing", NULL), 400);
	CHECK_EQ_OUT(sys_call(&f, &resp, REQ_DELETE, "ci", "approle", NULL), 204);
	CHECK_EQ_OUT(mount_table_find(f.auth, "ci/approle/login", &m, &rest), COFFER_ERR_NOT_FOUND);
out:
	mount_entry_release(m);
	response_clear(&resp);
	fixture_destroy(&f);
}

int main(void)
{
	coffer_json_init();
	RUN(test_load_creates_builtin_token_mount);
	RUN(test_secrets_table_has_secret_mount_only_with_kv);
	RUN(test_find_matches_longest_mount_and_bare_name);
	RUN(test_add_rejects_overlapping_paths);
	RUN(test_add_rejects_reserved_paths_and_unknown_types);
	RUN(test_mounts_survive_reload);
	RUN(test_remove_purges_the_mounts_data_only);
	RUN(test_remove_refuses_token_and_reports_missing);
	RUN(test_tune_rejects_default_above_max);
	RUN(test_json_has_vault_shape);
	RUN(test_clear_drops_entries_until_load);
	RUN(test_unknown_stored_engine_is_kept_but_not_served);
	RUN(test_corrupt_stored_table_fails_load);
	RUN(test_path_normalize_appends_slash);
	RUN(test_sys_auth_enable_list_tune_disable);
	RUN(test_sys_auth_paths_may_have_several_segments);
	return test_summary();
}
