/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kv.c: unit tests of the KV engine's pure parts (server/engines/kv/kv_util.c,
 * server/engines/kv/kv_codec.c): RFC 7386 merge patch, subkeys, time formatting, check-and-set
 * decisions, pruning, custom metadata limits, version lists and the metadata record's round trip;
 * then the route handlers of kv_v2.c, kv_versions.c, kv_meta.c and kv_v1.c called directly over a
 * real barrier (the router and HTTP are left to the integration tests).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/barrier.h"
#include "api/engine.h"
#include "crypto.h"
#include "json.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

/* json_equal of the two JSON texts' values; false if either does not parse. */
static bool json_text_equal(const json_t *v, const char *text)
{
	json_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
	bool is_equal = want != NULL && v != NULL && json_equal(v, want);

	json_decref(want);
	return is_equal;
}

static bool merge_gives(const char *target, const char *patch, const char *want)
{
	json_t *t = json_loads(target, JSON_DECODE_ANY, NULL);
	json_t *p = json_loads(patch, JSON_DECODE_ANY, NULL);
	json_t *r = kv_merge_patch(t, p);
	bool ok = json_text_equal(r, want);

	if (!ok) {
		char *got = r != NULL ? json_dumps(r, JSON_ENCODE_ANY) : NULL;

		fprintf(stderr, "merge %s + %s: got %s, want %s\n", target, patch,
		        got != NULL ? got : "(null)", want);
		free(got);
	}
	json_decref(t);
	json_decref(p);
	json_decref(r);
	return ok;
}

/* Every example of RFC 7386 Appendix A. */
static void test_merge_patch_follows_rfc7386_examples(void)
{
	CHECK(merge_gives("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"));
	CHECK(merge_gives("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"));
	CHECK(merge_gives("{\"a\":\"b\"}", "{\"a\":null}", "{}"));
	CHECK(merge_gives("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"));
	CHECK(merge_gives("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"));
	CHECK(merge_gives("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"));
	CHECK(merge_gives("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
	                  "{\"a\":{\"b\":\"d\"}}"));
	CHECK(merge_gives("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"));
	CHECK(merge_gives("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"));
	CHECK(merge_gives("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"));
	CHECK(merge_gives("{\"a\":\"foo\"}", "null", "null"));
	CHECK(merge_gives("{\"a\":\"foo\"}", "\"bar\"", "\"bar\""));
	CHECK(merge_gives("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"));
	CHECK(merge_gives("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"));
	CHECK(merge_gives("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"));
}

static void test_merge_patch_leaves_target_untouched(void)
{
	json_t *t = json_pack("{s:{s:s}}", "a", "b", "c");
	json_t *p = json_pack("{s:{s:n,s:i}}", "a", "b", "d", 1);
	json_t *r = kv_merge_patch(t, p);

	CHECK_OUT(json_text_equal(r, "{\"a\":{\"d\":1}}"));
	CHECK_OUT(json_text_equal(t, "{\"a\":{\"b\":\"c\"}}"));
out:
	json_decref(t);
	json_decref(p);
	json_decref(r);
}

static void test_merge_patch_of_absent_target_is_the_patch_without_nulls(void)
{
	json_t *p = json_pack("{s:s,s:n}", "a", "b", "c");
	json_t *r = kv_merge_patch(NULL, p);

	CHECK_OUT(json_text_equal(r, "{\"a\":\"b\"}"));
out:
	json_decref(p);
	json_decref(r);
}

static void test_subkeys_replaces_leaves_with_null(void)
{
	json_t *d = json_loads("{\"foo\":\"abc\",\"bar\":{\"baz\":\"def\",\"q\":{\"x\":[1]}},"
	                       "\"n\":null,\"arr\":[{\"a\":1}]}",
	                       0, NULL);
	json_t *all = kv_subkeys(d, 0), *one = kv_subkeys(d, 1), *two = kv_subkeys(d, 2);

	CHECK_OUT(json_text_equal(all, "{\"foo\":null,\"bar\":{\"baz\":null,\"q\":{\"x\":null}},"
	                               "\"n\":null,\"arr\":null}"));
	CHECK_OUT(json_text_equal(one, "{\"foo\":null,\"bar\":null,\"n\":null,\"arr\":null}"));
	CHECK_OUT(json_text_equal(two, "{\"foo\":null,\"bar\":{\"baz\":null,\"q\":null},\"n\":null,"
	                               "\"arr\":null}"));
out:
	json_decref(d);
	json_decref(all);
	json_decref(one);
	json_decref(two);
}

static void test_subkeys_rejects_negative_depth_and_non_objects(void)
{
	json_t *d = json_object(), *s = json_string("x");

	CHECK_OUT(kv_subkeys(d, -1) == NULL);
	CHECK_OUT(kv_subkeys(s, 0) == NULL);
out:
	json_decref(d);
	json_decref(s);
}

static void test_format_time_is_rfc3339_nanoseconds_utc(void)
{
	char out[KV_TIME_LEN];

	kv_format_time(1795916725123456789LL, out);
	CHECK(strcmp(out, "2026-11-29T01:45:25.123456789Z") == 0);
	kv_format_time(1000000001LL, out);
	CHECK(strcmp(out, "1970-01-01T00:00:01.000000001Z") == 0);
}

static void test_format_time_of_unset_is_empty(void)
{
	char out[KV_TIME_LEN] = "junk";

	kv_format_time(0, out);
	CHECK(out[0] == '\0');
}

static void test_effective_max_versions_is_max_or_ten(void)
{
	CHECK_EQ(kv_effective_max_versions(0, 0), 10);
	CHECK_EQ(kv_effective_max_versions(3, 0), 3);
	CHECK_EQ(kv_effective_max_versions(0, 4), 4);
	CHECK_EQ(kv_effective_max_versions(3, 5), 5);
	CHECK_EQ(kv_effective_max_versions(7, 5), 7);
}

static void test_effective_delete_after_takes_the_stricter(void)
{
	CHECK_EQ(kv_effective_delete_after(0, 0), 0);
	CHECK_EQ(kv_effective_delete_after(60, 0), 60);
	CHECK_EQ(kv_effective_delete_after(0, 30), 30);
	CHECK_EQ(kv_effective_delete_after(60, 30), 30);
	CHECK_EQ(kv_effective_delete_after(10, 30), 10);
}

static void test_cas_decisions(void)
{
	CHECK_EQ(kv_cas_decide(false, 0, false, 0), KV_CAS_OK);
	CHECK_EQ(kv_cas_decide(false, 0, false, 7), KV_CAS_OK);
	CHECK_EQ(kv_cas_decide(false, 0, true, 0), KV_CAS_REQUIRED);
	CHECK_EQ(kv_cas_decide(true, 0, true, 0), KV_CAS_OK);
	CHECK_EQ(kv_cas_decide(true, 0, false, 1), KV_CAS_MISMATCH);
	CHECK_EQ(kv_cas_decide(true, 3, false, 3), KV_CAS_OK);
	CHECK_EQ(kv_cas_decide(true, 2, true, 3), KV_CAS_MISMATCH);
	CHECK_EQ(kv_cas_decide(true, 4, false, 3), KV_CAS_MISMATCH);
}

static void test_options_cas_parsing(void)
{
	json_t *b = json_loads("{\"options\":{\"cas\":2}}", 0, NULL);
	json_t *s = json_loads("{\"options\":{\"cas\":\"5\"}}", 0, NULL);
	json_t *none = json_loads("{\"options\":null,\"data\":{}}", 0, NULL);
	json_t *neg = json_loads("{\"options\":{\"cas\":-1}}", 0, NULL);
	json_t *bad = json_loads("{\"options\":\"cas\"}", 0, NULL);
	bool has = true;
	uint64_t cas = 9;
	int ok = 1;

	ok &= kv_options_cas(b, &has, &cas) == 0 && has && cas == 2;
	ok &= kv_options_cas(s, &has, &cas) == 0 && has && cas == 5;
	ok &= kv_options_cas(none, &has, &cas) == 0 && !has;
	ok &= kv_options_cas(neg, &has, &cas) == COFFER_ERR_INVALID;
	ok &= kv_options_cas(bad, &has, &cas) == COFFER_ERR_INVALID;
	json_decref(b);
	json_decref(s);
	json_decref(none);
	json_decref(neg);
	json_decref(bad);
	CHECK(ok);
}

/* A meta with versions first..last, all live. */
static void meta_with_versions(struct kv_meta *m, uint64_t last)
{
	uint64_t i;

	kv_meta_init(m, 1);
	for (i = 1; i <= last; i++)
		kv_meta_add_version(m, (int64_t)i * 1000, 0);
}

static void test_prune_keeps_the_newest_max_versions(void)
{
	struct kv_meta m = {0};
	size_t n;

	meta_with_versions(&m, 12);
	n = kv_meta_prune_count(&m, 10);
	kv_meta_drop_oldest(&m, n);
	CHECK_EQ_OUT(n, 2);
	CHECK_EQ_OUT(m.n_versions, 10);
	CHECK_EQ_OUT(m.versions[0].version, 3);
	CHECK_EQ_OUT(m.oldest_version, 3);
	CHECK_EQ_OUT(m.current_version, 12);
	CHECK_EQ_OUT(kv_meta_prune_count(&m, 10), 0);
	/* Lowering max_versions prunes at once. */
	n = kv_meta_prune_count(&m, 2);
	kv_meta_drop_oldest(&m, n);
	CHECK_EQ_OUT(n, 8);
	CHECK_EQ_OUT(m.versions[0].version, 11);
	CHECK_EQ_OUT(m.oldest_version, 11);
	CHECK_OUT(kv_meta_find(&m, 10) == NULL);
	CHECK_OUT(kv_meta_find(&m, 12) != NULL);
out:
	kv_meta_clear(&m);
}

static void test_prune_reports_oldest_zero_until_first_prune(void)
{
	struct kv_meta m = {0};

	meta_with_versions(&m, 3);
	CHECK_EQ_OUT(kv_meta_prune_count(&m, 10), 0);
	CHECK_EQ_OUT(m.oldest_version, 0);
	CHECK_EQ_OUT(kv_meta_prune_count(&m, 3), 0);
	CHECK_EQ_OUT(kv_meta_prune_count(&m, 1), 2);
out:
	kv_meta_clear(&m);
}

static void test_version_deleted_only_after_its_deletion_time(void)
{
	struct kv_version v = {1, 100, 0, false};

	CHECK(!kv_version_is_deleted(&v, 500));
	v.deletion_ns = 400;
	CHECK(kv_version_is_deleted(&v, 500));
	CHECK(kv_version_is_deleted(&v, 400));
	CHECK(!kv_version_is_deleted(&v, 399));
}

static void test_custom_metadata_limits(void)
{
	char msg[256], key[200];
	json_t *ok = json_pack("{s:s,s:s}", "owner", "ops", "ticket", "T-1");
	json_t *num = json_pack("{s:i}", "n", 1);
	json_t *many = json_object(), *longkey = json_object(), *longval = json_object();
	char *val = calloc(1, KV_MAX_CUSTOM_METADATA_VALUE_LEN + 2);
	int i, rc = 1;

	for (i = 0; i <= KV_MAX_CUSTOM_METADATA_KEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(many, key, json_string("v"));
	}
	memset(key, 'k', KV_MAX_CUSTOM_METADATA_KEY_LEN + 1);
	key[KV_MAX_CUSTOM_METADATA_KEY_LEN + 1] = '\0';
	json_object_set_new(longkey, key, json_string("v"));
	memset(val, 'v', KV_MAX_CUSTOM_METADATA_VALUE_LEN + 1);
	json_object_set_new(longval, "k", json_string(val));

	rc &= kv_custom_metadata_check(ok, msg, sizeof(msg)) == 0;
	rc &= kv_custom_metadata_check(num, msg, sizeof(msg)) == COFFER_ERR_INVALID &&
	      strstr(msg, "must be a string") != NULL;
	rc &= kv_custom_metadata_check(many, msg, sizeof(msg)) == COFFER_ERR_INVALID &&
	      strstr(msg, "keys") != NULL;
	rc &= kv_custom_metadata_check(longkey, msg, sizeof(msg)) == COFFER_ERR_INVALID;
	rc &= kv_custom_metadata_check(longval, msg, sizeof(msg)) == COFFER_ERR_INVALID &&
	      strstr(msg, "longer than") != NULL;
	json_decref(ok);
	json_decref(num);
	json_decref(many);
	json_decref(longkey);
	json_decref(longval);
	free(val);
	CHECK(rc);
}

static void test_parse_versions_forms(void)
{
	json_t *arr = json_loads("[1, \"2\", 3]", 0, NULL);
	json_t *str = json_string("4, 5,6");
	json_t *one = json_integer(7), *empty = json_array(), *bad = json_loads("[1.5]", 0, NULL);
	json_t *junk = json_string("1,x");
	uint64_t *v = NULL;
	size_t n = 0;
	int rc = 1;

	rc &= kv_parse_versions(arr, &v, &n) == 0 && n == 3 && v[0] == 1 && v[1] == 2 && v[2] == 3;
	free(v);
	rc &= kv_parse_versions(str, &v, &n) == 0 && n == 3 && v[0] == 4 && v[2] == 6;
	free(v);
	rc &= kv_parse_versions(one, &v, &n) == 0 && n == 1 && v[0] == 7;
	free(v);
	rc &= kv_parse_versions(NULL, &v, &n) == COFFER_ERR_NOT_FOUND;
	rc &= kv_parse_versions(empty, &v, &n) == COFFER_ERR_NOT_FOUND;
	rc &= kv_parse_versions(bad, &v, &n) == COFFER_ERR_INVALID;
	rc &= kv_parse_versions(junk, &v, &n) == COFFER_ERR_INVALID;
	json_decref(arr);
	json_decref(str);
	json_decref(one);
	json_decref(empty);
	json_decref(bad);
	json_decref(junk);
	CHECK(rc);
}

static void test_parse_query_uint(void)
{
	int64_t v = -1;

	CHECK(kv_parse_query_uint(NULL, &v) == 0 && v == 0);
	CHECK(kv_parse_query_uint("", &v) == 0 && v == 0);
	CHECK(kv_parse_query_uint("12", &v) == 0 && v == 12);
	CHECK_EQ(kv_parse_query_uint("-1", &v), COFFER_ERR_INVALID);
	CHECK_EQ(kv_parse_query_uint("1x", &v), COFFER_ERR_INVALID);
	CHECK_EQ(kv_parse_query_uint("99999999999999999999", &v), COFFER_ERR_INVALID);
}

static void test_meta_round_trips_through_its_stored_form(void)
{
	struct kv_meta m = {0}, back = {0};
	json_t *api = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	meta_with_versions(&m, 3);
	m.cas_required = true;
	m.max_versions = 4;
	m.delete_version_after_s = 3600;
	m.created_ns = -7; /* signed fields survive */
	m.oldest_version = UINT64_MAX;
	m.versions[1].deletion_ns = 5000;
	m.versions[2].is_destroyed = true;
	m.custom_metadata = json_pack("{s:s}", "owner", "ops");
	CHECK_EQ_OUT(kv_meta_encode(&m, &buf, &len), 0);
	rc = kv_meta_decode(buf, len, &back);
	free(buf);
	buf = NULL;
	CHECK_EQ_OUT(rc, 0);
	CHECK_OUT(back.created_ns == -7 && back.oldest_version == UINT64_MAX);
	CHECK_OUT(back.cas_required && back.max_versions == 4 &&
	          back.delete_version_after_s == 3600);
	CHECK_EQ_OUT(back.current_version, 3);
	CHECK_EQ_OUT(back.n_versions, 3);
	CHECK_EQ_OUT(back.versions[1].deletion_ns, 5000);
	CHECK_OUT(back.versions[2].is_destroyed);
	CHECK_OUT(json_equal(back.custom_metadata, m.custom_metadata));
	api = kv_meta_api_json(&back);
	rc = json_text_equal(json_object_get(api, "delete_version_after"), "\"1h0m0s\"") &&
	     json_is_object(json_object_get(json_object_get(api, "versions"), "3")) &&
	     json_is_true(json_object_get(json_object_get(json_object_get(api, "versions"), "3"),
	                                  "destroyed"));
	CHECK_OUT(rc);
out:
	json_decref(api);
	kv_meta_clear(&back);
	free(buf);
	kv_meta_clear(&m);
}

/* Every truncation and every bad marker byte of a valid record is refused, never misread. */
static void test_meta_decode_rejects_malformed_records(void)
{
	struct kv_meta m = {0}, out = {0};
	uint8_t *buf = NULL;
	size_t len = 0;

	meta_with_versions(&m, 2);
	m.custom_metadata = json_pack("{s:s}", "k", "v");
	CHECK_EQ_OUT(kv_meta_encode(&m, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		CHECK_EQ_OUT(kv_meta_decode(buf, cut, &out), COFFER_ERR_INTEGRITY);
	buf[0] = '{'; /* not the format's marker (the old JSON form started so) */
	CHECK_EQ_OUT(kv_meta_decode(buf, len, &out), COFFER_ERR_INTEGRITY);
	buf[0] = 'M';
	buf[2] = 2; /* cas_required is 0 or 1 */
	CHECK_EQ_OUT(kv_meta_decode(buf, len, &out), COFFER_ERR_INTEGRITY);
	buf[2] = 0;
	buf[len - 2] = '!'; /* custom metadata that is not a JSON object */
	CHECK_EQ_OUT(kv_meta_decode(buf, len, &out), COFFER_ERR_INTEGRITY);
	CHECK_EQ_OUT(kv_meta_decode((const uint8_t *)"M", 1, &out), COFFER_ERR_INTEGRITY);
out:
	kv_meta_clear(&out);
	free(buf);
	kv_meta_clear(&m);
}

/* The read path's text is the same JSON as the object the other routes build. */
static void test_version_api_text_equals_json(void)
{
	struct kv_meta m = {0};
	json_t *j = NULL, *t = NULL;
	char *text = NULL;

	meta_with_versions(&m, 2);
	m.versions[1].deletion_ns = 1700000000123456789;
	m.custom_metadata = json_pack("{s:s}", "owner", "a\"b");
	for (size_t i = 0; i < 2; i++) {
		j = kv_version_api_json(&m, &m.versions[i]);
		text = kv_version_api_text(&m, &m.versions[i]);
		t = text != NULL ? json_loads(text, 0, NULL) : NULL;
		CHECK_OUT(t != NULL && json_equal(j, t));
		json_decref(j);
		j = NULL;
		json_decref(t);
		t = NULL;
		free(text);
		text = NULL;
	}
out:
	free(text);
	json_decref(t);
	json_decref(j);
	kv_meta_clear(&m);
}

static void test_version_api_json_shape(void)
{
	struct kv_meta m;
	json_t *v;
	int rc;

	meta_with_versions(&m, 1);
	v = kv_version_api_json(&m, &m.versions[0]);
	rc = json_text_equal(json_object_get(v, "deletion_time"), "\"\"") &&
	     json_is_null(json_object_get(v, "custom_metadata")) &&
	     json_is_false(json_object_get(v, "destroyed")) &&
	     json_integer_value(json_object_get(v, "version")) == 1 && json_object_size(v) == 5;
	json_decref(v);
	kv_meta_clear(&m);
	CHECK(rc);
}

static void test_settings_parse_only_given_fields(void)
{
	json_t *b =
	    json_loads("{\"max_versions\":\"5\",\"delete_version_after\":\"1h30m\"}", 0, NULL);
	json_t *bad = json_loads("{\"max_versions\":-2}", 0, NULL);
	struct kv_config set = {0};
	bool hm, hc, hd;
	char msg[128];
	int rc;

	rc = kv_parse_settings(b, &set, &hm, &hc, &hd, msg, sizeof(msg)) == 0 && hm && !hc && hd &&
	     set.max_versions == 5 && set.delete_version_after_s == 5400;
	rc &= kv_parse_settings(bad, &set, &hm, &hc, &hd, msg, sizeof(msg)) == COFFER_ERR_INVALID &&
	      strstr(msg, "max_versions") != NULL;
	json_decref(b);
	json_decref(bad);
	CHECK(rc);
}

/* Handler fixture: a barrier over a temporary store, a core holding only it, and one mount. */
static struct testutil_mount fx;

static int fixture_open(void)
{
	return testutil_mount_open(&fx, "kv", "11111111-2222-3333-4444-555555555555");
}

static void fixture_close(void)
{
	testutil_mount_close(&fx);
}

/* The query of the request being built: "k=v" pairs. */
static const char *fixture_query_pairs[4];

static const char *fixture_query(const struct request *req, const char *key)
{
	size_t i, len = strlen(key);

	(void)req;
	for (i = 0; i < 4 && fixture_query_pairs[i] != NULL; i++) {
		if (strncmp(fixture_query_pairs[i], key, len) == 0 &&
		    fixture_query_pairs[i][len] == '=')
			return fixture_query_pairs[i] + len + 1;
	}
	return NULL;
}

/* Run fn as method on the secret path p with body (JSON text, NULL = {}) and query q; the
 * response status, and the body in *out (may be NULL). */
static int call(route_fn fn, enum req_method method, const char *p, const char *body, const char *q,
                json_t **out)
{
	struct request req;
	struct response resp = {0};

	memset(&req, 0, sizeof(req));
	req.method = method == REQ_LIST ? REQ_GET : method;
	req.is_list = method == REQ_LIST;
	req.body = body != NULL ? json_loads(body, 0, NULL) : json_object();
	req.query = fixture_query;
	fixture_query_pairs[0] = q;
	req.mount = &fx.mount;
	snprintf(req.request_id, sizeof(req.request_id), "test");
	if (p != NULL) {
		request_add_param(&req, "*", p, strlen(p));
	}
	fn(&fx.ctx, &req, &resp);
	json_decref(req.body);
	/* The hot read answers with text (the envelope with the secret spliced in). */
	if (resp.text != NULL) {
		resp.json = json_loads(resp.text, 0, NULL);
		free(resp.text);
		resp.text = NULL;
	}
	if (out != NULL)
		*out = resp.json;
	else
		json_decref(resp.json);
	return resp.status;
}

/* data.<a>.<b> of an envelope as an integer. */
static json_int_t env_int(const json_t *env, const char *a, const char *b)
{
	const json_t *v = json_object_get(json_object_get(env, "data"), a);

	return json_integer_value(b != NULL ? json_object_get(v, b) : v);
}

static void test_handlers_write_read_and_versions(void)
{
	json_t *r = NULL;
	int st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(
	    call(kv_data_route, REQ_POST, "app/db", "{\"data\":{\"pw\":\"s1\"}}", NULL, &r), 200);
	CHECK_EQ_OUT(env_int(r, "version", NULL), 1);
	json_decref(r);
	r = NULL;
	CHECK_EQ_OUT(call(kv_data_route, REQ_PUT, "app/db",
	                  "{\"data\":{\"pw\":\"s2\",\"u\":\"x\"}}", NULL, NULL),
	             200);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "app/db", NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(json_object_get(r, "data"), "data"),
	                     "{\"pw\":\"s2\",\"u\":\"x\"}") &&
	     env_int(r, "metadata", "version") == 2;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "app/db", NULL, "version=1", &r), 200);
	st =
	    json_text_equal(json_object_get(json_object_get(r, "data"), "data"), "{\"pw\":\"s1\"}");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "app/db", NULL, "version=9", NULL), 404);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "app/db", NULL, "version=x", NULL), 400);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "app/none", NULL, NULL, NULL), 404);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "app/db", "{\"data\":\"x\"}", NULL, NULL), 400);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "", "{\"data\":{}}", NULL, NULL), 400);
out:
	json_decref(r);
	fixture_close();
}

static void test_handlers_check_and_set(void)
{
	json_t *r = NULL;
	int st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(
	    call(kv_data_route, REQ_POST, "k", "{\"options\":{\"cas\":1},\"data\":{}}", NULL, &r),
	    400);
	st = strstr(json_string_value(json_array_get(json_object_get(r, "errors"), 0)),
	            "did not match") != NULL;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(
	    call(kv_data_route, REQ_POST, "k", "{\"options\":{\"cas\":0},\"data\":{}}", NULL, NULL),
	    200);
	CHECK_EQ_OUT(
	    call(kv_data_route, REQ_POST, "k", "{\"options\":{\"cas\":0},\"data\":{}}", NULL, NULL),
	    400);
	CHECK_EQ_OUT(call(kv_config_route, REQ_POST, NULL, "{\"cas_required\":true}", NULL, NULL),
	             204);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "k", "{\"data\":{}}", NULL, &r), 400);
	st = strstr(json_string_value(json_array_get(json_object_get(r, "errors"), 0)),
	            "required") != NULL;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(
	    call(kv_data_route, REQ_POST, "k", "{\"options\":{\"cas\":1},\"data\":{}}", NULL, NULL),
	    200);
	CHECK_EQ_OUT(call(kv_config_route, REQ_GET, NULL, NULL, NULL, &r), 200);
	st = json_is_true(json_object_get(json_object_get(r, "data"), "cas_required"));
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
out:
	json_decref(r);
	fixture_close();
}

static void test_handlers_prune_and_metadata(void)
{
	json_t *r = NULL;
	int i, st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_POST, "p",
	                  "{\"max_versions\":3,"
	                  "\"custom_metadata\":{\"owner\":\"ops\"}}",
	                  NULL, NULL),
	             204);
	for (i = 0; i < 5; i++)
		CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "p", "{\"data\":{\"a\":1}}", NULL, NULL),
		             200);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_GET, "p", NULL, NULL, &r), 200);
	st = env_int(r, "current_version", NULL) == 5 && env_int(r, "oldest_version", NULL) == 3 &&
	     json_object_size(json_object_get(json_object_get(r, "data"), "versions")) == 3 &&
	     json_text_equal(json_object_get(json_object_get(r, "data"), "custom_metadata"),
	                     "{\"owner\":\"ops\"}");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "p", NULL, "version=2", NULL), 404);
	/* Lowering max_versions prunes at once; PATCH merges custom_metadata. */
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_PATCH, "p",
	                  "{\"max_versions\":1,"
	                  "\"custom_metadata\":{\"owner\":null,\"team\":\"b\"}}",
	                  NULL, NULL),
	             204);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_GET, "p", NULL, NULL, &r), 200);
	st = env_int(r, "oldest_version", NULL) == 5 &&
	     json_text_equal(json_object_get(json_object_get(r, "data"), "custom_metadata"),
	                     "{\"team\":\"b\"}");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_PATCH, "nope", "{\"max_versions\":1}", NULL, NULL),
	             404);
	CHECK_EQ_OUT(
	    call(kv_metadata_route, REQ_POST, "p", "{\"custom_metadata\":{\"a\":1}}", NULL, NULL),
	    400);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_DELETE, "p", NULL, NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_GET, "p", NULL, NULL, NULL), 404);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "p", NULL, NULL, NULL), 404);
out:
	json_decref(r);
	fixture_close();
}

static void test_handlers_delete_undelete_destroy(void)
{
	json_t *r = NULL;
	int st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "d", "{\"data\":{\"v\":1}}", NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "d", "{\"data\":{\"v\":2}}", NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_data_route, REQ_DELETE, "d", NULL, NULL, NULL), 204);
	/* A deleted version: 404 with the full envelope. */
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "d", NULL, NULL, &r), 404);
	st = json_is_null(json_object_get(json_object_get(r, "data"), "data")) &&
	     json_string_length(json_object_get(
	         json_object_get(json_object_get(r, "data"), "metadata"), "deletion_time")) > 0;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_undelete_route, REQ_POST, "d", "{\"versions\":[2]}", NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "d", NULL, NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_delete_route, REQ_POST, "d", "{}", NULL, NULL), 400);
	CHECK_EQ_OUT(call(kv_destroy_route, REQ_POST, "d", "{\"versions\":[1]}", NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "d", NULL, "version=1", &r), 404);
	st = json_is_true(
	    json_object_get(json_object_get(json_object_get(r, "data"), "metadata"), "destroyed"));
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_undelete_route, REQ_POST, "d", "{\"versions\":[1]}", NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_data_route, REQ_GET, "d", NULL, "version=1", NULL), 404);
	/* PATCH merges into the latest; a deleted latest is 404. */
	CHECK_EQ_OUT(call(kv_data_route, REQ_PATCH, "d", "{\"data\":{\"w\":3}}", NULL, &r), 200);
	st = env_int(r, "version", NULL) == 3;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_subkeys_route, REQ_GET, "d", NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(json_object_get(r, "data"), "subkeys"),
	                     "{\"v\":null,\"w\":null}");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_data_route, REQ_DELETE, "d", NULL, NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_data_route, REQ_PATCH, "d", "{\"data\":{\"w\":4}}", NULL, NULL), 404);
	CHECK_EQ_OUT(call(kv_data_route, REQ_PATCH, "none", "{\"data\":{\"w\":4}}", NULL, NULL),
	             404);
out:
	json_decref(r);
	fixture_close();
}

static void test_handlers_list(void)
{
	json_t *r = NULL;
	int st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_LIST, NULL, NULL, NULL, &r), 404);
	st = json_array_size(json_object_get(r, "errors")) == 0;
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "a", "{\"data\":{}}", NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "dir/b", "{\"data\":{}}", NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_data_route, REQ_POST, "dir/c/d", "{\"data\":{}}", NULL, NULL), 200);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_LIST, NULL, NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(json_object_get(r, "data"), "keys"),
	                     "[\"a\",\"dir/\"]");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_LIST, "dir", NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(json_object_get(r, "data"), "keys"), "[\"b\",\"c/\"]");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_metadata_route, REQ_LIST, "zzz", NULL, NULL, NULL), 404);
out:
	json_decref(r);
	fixture_close();
}

static void test_handlers_v1(void)
{
	json_t *r = NULL;
	int st;

	CHECK_OUT(fixture_open() == 0);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_POST, "app/x", "{\"k\":\"v\"}", NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_GET, "app/x", NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(r, "data"), "{\"k\":\"v\"}");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_LIST, NULL, NULL, NULL, &r), 200);
	st = json_text_equal(json_object_get(json_object_get(r, "data"), "keys"), "[\"app/\"]");
	json_decref(r);
	r = NULL;
	CHECK_OUT(st);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_POST, "app/x", "{}", NULL, NULL), 400);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_DELETE, "app/x", NULL, NULL, NULL), 204);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_GET, "app/x", NULL, NULL, NULL), 404);
	CHECK_EQ_OUT(call(kv_v1_route, REQ_LIST, "app", NULL, NULL, NULL), 404);
out:
	json_decref(r);
	fixture_close();
}

int main(void)
{
	coffer_json_init();
	RUN(test_merge_patch_follows_rfc7386_examples);
	RUN(test_merge_patch_leaves_target_untouched);
	RUN(test_merge_patch_of_absent_target_is_the_patch_without_nulls);
	RUN(test_subkeys_replaces_leaves_with_null);
	RUN(test_subkeys_rejects_negative_depth_and_non_objects);
	RUN(test_format_time_is_rfc3339_nanoseconds_utc);
	RUN(test_format_time_of_unset_is_empty);
	RUN(test_effective_max_versions_is_max_or_ten);
	RUN(test_effective_delete_after_takes_the_stricter);
	RUN(test_cas_decisions);
	RUN(test_options_cas_parsing);
	RUN(test_prune_keeps_the_newest_max_versions);
	RUN(test_prune_reports_oldest_zero_until_first_prune);
	RUN(test_version_deleted_only_after_its_deletion_time);
	RUN(test_custom_metadata_limits);
	RUN(test_parse_versions_forms);
	RUN(test_parse_query_uint);
	RUN(test_meta_round_trips_through_its_stored_form);
	RUN(test_meta_decode_rejects_malformed_records);
	RUN(test_version_api_text_equals_json);
	RUN(test_version_api_json_shape);
	RUN(test_settings_parse_only_given_fields);
	RUN(test_handlers_write_read_and_versions);
	RUN(test_handlers_check_and_set);
	RUN(test_handlers_prune_and_metadata);
	RUN(test_handlers_delete_undelete_destroy);
	RUN(test_handlers_list);
	RUN(test_handlers_v1);
	return test_summary();
}
