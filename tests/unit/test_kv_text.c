/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kv_text.c: a differential test of the KV v2 read fast path (kv_v2.c kv_data_read(), the
 * text branch of kv_read_version(), kv_store_load_version_text(), kv_read_body(), request.c
 * response_envelope_text()), which splices the stored version's JSON text unparsed into the
 * envelope. The oracle is the generic path it replaced, built here over the same stored rows:
 * kv_store_load_meta() and kv_meta_find(), kv_store_load_version() (the row parsed by jansson),
 * kv_version_api_json() and response_envelope(), serialised by coffer_json_dump() as front/http.c
 * http_send() does. Each read must give both the same status, the same JSON (duplicate keys
 * refused; same types; reals bit for bit, so -0.0 is not 0.0; strings byte for byte) and the same
 * bytes, as response_envelope_text() promises. More witnesses: the subkeys route runs
 * kv_read_version()'s parsed branch in a real handler (same status and metadata, subkeys of the
 * same data); the data read is the data written (parsed as http.c parses a body); GET metadata
 * lists each version as its read reports it.
 * The corpus: fixed adversarial bodies; built ones (127 levels deep, large, at the size limit and
 * one unit over it; rows over the record cache's 64 KiB entry limit come from the database); a
 * few thousand seeded random values in randomly spelled JSON with patches, deletes, destroys and
 * undeletes between reads; deleted, destroyed, pruned and missing versions through ?version=.
 * COFFER_TEST_SEED=<n> replays another seed.
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
#include "jsontest.h"

#define RANDOM_KEYS 48
#define RANDOM_OPS 4000

/* {"data":{"v":"..."}} around a jsontest_repeat(): the stored text is {"v":"..."}. */
#define KV_BODY_HEAD "{\"data\":{\"v\":\""
#define KV_BODY_TAIL "\"}}"

/* Handler fixture as in test_kv.c: a barrier over a temporary store and one mount (no watch). */
static struct testutil_mount fx;
static const char *fixture_query_pair; /* "version=N" of the request being run, or NULL */
static unsigned long request_seq;

static int fixture_open(void)
{
	return testutil_mount_open(&fx, "kvtext", "66666666-7777-4888-9999-aaaaaaaaaaaa");
}

static void fixture_close(void)
{
	testutil_mount_close(&fx);
}

static const char *fixture_query(const struct request *req, const char *key)
{
	size_t len = strlen(key);

	(void)req;
	if (fixture_query_pair != NULL && strncmp(fixture_query_pair, key, len) == 0 &&
	    fixture_query_pair[len] == '=')
		return fixture_query_pair + len + 1;
	return NULL;
}

/* The request of a call; request_id NULL: a new one, so that a fast path that dropped or garbled
 * it would show. */
static void request_init(struct request *req, enum req_method method, const char *p, json_t *body,
                         const char *q, const char *request_id)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->body = body;
	req->query = fixture_query;
	fixture_query_pair = q;
	req->mount = &fx.mount;
	if (request_id != NULL)
		snprintf(req->request_id, sizeof(req->request_id), "%s", request_id);
	else
		snprintf(req->request_id, sizeof(req->request_id),
		         "%08lx-0000-4000-8000-000000000000", ++request_seq);
	if (p != NULL)
		request_add_param(req, "*", p, strlen(p));
}

/* An answer as front/http.c sends it: the status and the body's bytes ("" for none). */
struct answer {
	int status;
	char *body; /* malloc'd */
};

static void answer_take(struct response *resp, struct answer *out)
{
	char *dump;

	out->status = resp->status;
	if (resp->text != NULL) {
		out->body = resp->text;
		resp->text = NULL;
	} else if (resp->json != NULL) {
		dump = coffer_json_dump(resp->json);
		out->body = dump != NULL ? strdup(dump) : NULL;
		coffer_json_free_text(dump);
	} else {
		out->body = strdup("");
	}
	response_clear(resp);
}

static void answer_free(struct answer *a)
{
	free(a->body);
	a->body = NULL;
}

/* Run fn on secret path p with body (JSON text parsed as http.c parses a body; NULL = empty) and
 * query q. A body the parser refuses is 400 without a call, as in http.c. The status; the answer
 * in *out when out is not NULL. request_id: the request's, or NULL for a new one. */
static int call_id(route_fn fn, enum req_method method, const char *p, const char *body,
                   const char *q, struct answer *out, const char *request_id)
{
	struct request req;
	struct response resp = {0};
	struct answer a = {400, NULL};
	json_t *parsed = NULL;

	if (coffer_json_parse_object(body, body != NULL ? strlen(body) : 0, &parsed, NULL, 0) ==
	    0) {
		request_init(&req, method, p, parsed, q, request_id);
		fn(&fx.ctx, &req, &resp);
		answer_take(&resp, &a);
		json_decref(parsed);
	} else {
		a.body = strdup("");
	}
	if (out != NULL)
		*out = a;
	else
		answer_free(&a);
	return a.status;
}

static int call(route_fn fn, enum req_method method, const char *p, const char *body, const char *q,
                struct answer *out)
{
	return call_id(fn, method, p, body, q, out, NULL);
}

/* The generic path's answer to GET data/p?q under request_id: the read as it was before the
 * fast path, from parsed objects and response_envelope(), over the same rows. */
static void generic_read(const char *p, const char *q, const char *request_id, struct answer *out)
{
	struct request req;
	struct response resp = {0};
	struct kv_meta meta = {0};
	const struct kv_version *v;
	json_t *data = NULL;
	int64_t want = 0;
	int err;

	request_init(&req, REQ_GET, p, NULL, q, request_id);
	if (kv_parse_query_uint(req.query(&req, "version"), &want) != 0) {
		response_invalid(&resp, "version must be a non-negative integer");
		goto out;
	}
	err = kv_store_load_meta(&fx.ctx, p, &meta);
	if (err != 0) {
		kv_respond_err(&resp, err, "metadata read");
		goto out;
	}
	v = kv_meta_find(&meta, want == 0 ? meta.current_version : (uint64_t)want);
	if (v == NULL) {
		response_not_found(&resp);
	} else if (v->is_destroyed || kv_version_is_deleted(v, kv_now_ns())) {
		response_envelope(
		    &resp, &req,
		    json_pack("{s:n,s:o}", "data", "metadata", kv_version_api_json(&meta, v)), NULL,
		    NULL);
		resp.status = 404;
	} else if ((err = kv_store_load_version(&fx.ctx, p, v->version, &data)) != 0) {
		kv_respond_err(&resp, err, "version read");
	} else {
		response_envelope(
		    &resp, &req,
		    json_pack("{s:o,s:o}", "data", data, "metadata", kv_version_api_json(&meta, v)),
		    NULL, NULL);
	}
out:
	kv_meta_clear(&meta);
	answer_take(&resp, out);
}

/* A response body as a client's parser sees it: duplicate keys refused, NUL allowed. */
static json_t *parse_body(const char *label, const char *who, const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

	if (v == NULL)
		fprintf(stderr, "%s: the %s body is not JSON: %s at byte %d: %.120s\n", label, who,
		        jerr.text, jerr.position, text);
	return v;
}

static void report(const char *label, const char *what, const struct answer *fast,
                   const struct answer *gen)
{
	size_t i = 0, la = strlen(fast->body), lb = strlen(gen->body), from;

	while (i < la && i < lb && fast->body[i] == gen->body[i])
		i++;
	from = i > 40 ? i - 40 : 0;
	fprintf(stderr,
	        "%s: %s differ: status %d/%d, %zu/%zu bytes, first difference at byte %zu\n"
	        "  fast:    %.120s\n  generic: %.120s\n",
	        label, what, fast->status, gen->status, la, lb, i, fast->body + from,
	        gen->body + from);
}

static const json_t *get2(const json_t *v, const char *a, const char *b)
{
	return json_object_get(json_object_get(v, a), b);
}

/* The subkeys route agrees with the fast path's answer jf of the same read. */
static bool subkeys_agree(const char *label, const json_t *jf, const struct answer *sub)
{
	json_t *js = parse_body(label, "subkeys", sub->body), *sk = NULL;
	const json_t *data = get2(jf, "data", "data");
	bool ok = js != NULL;

	if (ok && json_object_get(jf, "errors") != NULL)
		ok = jsontest_same(json_object_get(jf, "errors"), json_object_get(js, "errors"));
	else if (ok)
		ok = jsontest_same(get2(jf, "data", "metadata"), get2(js, "data", "metadata"));
	if (ok && data != NULL && !json_is_null(data)) {
		sk = kv_subkeys(data, 0);
		ok = jsontest_same(sk, get2(js, "data", "subkeys"));
	} else if (ok && data != NULL) {
		ok = json_is_null(get2(js, "data", "subkeys"));
	}
	if (!ok)
		fprintf(stderr, "%s: the subkeys route disagrees: %.200s\n", label, sub->body);
	json_decref(sk);
	json_decref(js);
	return ok;
}

/* The data read back is what was written: truth[version] (a JSON array by version). */
static bool truth_agrees(const char *label, const json_t *jf, const json_t *truth)
{
	json_int_t v = json_integer_value(json_object_get(get2(jf, "data", "metadata"), "version"));
	const json_t *want = json_array_get(truth, (size_t)v);

	if (jsontest_same(get2(jf, "data", "data"), want))
		return true;
	fprintf(stderr, "%s: version %lld reads back other data than was written\n", label,
	        (long long)v);
	return false;
}

/*
 * One read of key p with query q (NULL, "version=N"): the fast path, the generic path and the
 * subkeys route agree, and a 200 gives back truth's data for its version (truth NULL: not checked).
 * The status in *status and the fast path's parsed body in *body (each may be NULL).
 */
static bool read_agrees(const char *p, const char *q, const json_t *truth, int *status,
                        json_t **body)
{
	static bool is_fast_first;
	struct answer fast = {0, NULL}, gen = {0, NULL}, sub = {0, NULL};
	json_t *jf = NULL, *jg = NULL;
	char label[160], id[37];
	bool ok = false;

	snprintf(label, sizeof(label), "GET data/%.80s?%s", p, q != NULL ? q : "");
	snprintf(id, sizeof(id), "%08lx-0000-4000-8000-000000000000", ++request_seq);
	/* Taking turns at the first read: the first fills the record cache (storage_cache.c) for
	 * rows of 64 KiB or less, so each path reads from the database and from the cache. */
	is_fast_first = !is_fast_first;
	if (is_fast_first)
		call_id(kv_data_route, REQ_GET, p, NULL, q, &fast, id);
	generic_read(p, q, id, &gen);
	if (!is_fast_first)
		call_id(kv_data_route, REQ_GET, p, NULL, q, &fast, id);
	call(kv_subkeys_route, REQ_GET, p, NULL, q, &sub);
	if (fast.body == NULL || gen.body == NULL || sub.body == NULL)
		goto out;
	if (status != NULL)
		*status = fast.status;
	if (fast.status != gen.status || sub.status != fast.status) {
		report(label, "statuses", &fast, &gen);
		fprintf(stderr, "  subkeys route: %d\n", sub.status);
		goto out;
	}
	jf = parse_body(label, "fast path's", fast.body);
	jg = parse_body(label, "generic path's", gen.body);
	if (jf == NULL || jg == NULL)
		goto out;
	if (!jsontest_same(jf, jg)) {
		report(label, "parsed bodies", &fast, &gen);
		goto out;
	}
	if (strcmp(fast.body, gen.body) != 0) {
		report(label, "bytes", &fast, &gen);
		goto out;
	}
	ok = subkeys_agree(label, jf, &sub) &&
	     (fast.status != 200 || truth == NULL || truth_agrees(label, jf, truth));
	if (ok && body != NULL)
		*body = json_incref(jf);
out:
	json_decref(jf);
	json_decref(jg);
	answer_free(&fast);
	answer_free(&gen);
	answer_free(&sub);
	return ok;
}

/* A read's metadata says of its version what GET metadata's versions map does. */
static bool version_md_agrees(const json_t *md, const json_t *listed)
{
	static const char *const fields[] = {"created_time", "deletion_time", "destroyed"};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!jsontest_same(json_object_get(md, fields[i]),
		                   json_object_get(listed, fields[i])))
			return false;
	}
	return true;
}

/* Every version of p up to two past the current one, and the latest, read alike by both paths;
 * a read's metadata is what GET metadata lists for the version, and an unlisted one is a plain
 * 404. */
static bool key_agrees(const char *p, const json_t *truth)
{
	struct answer m = {0, NULL};
	json_t *jm = NULL, *jr = NULL;
	const json_t *listed, *md;
	json_int_t v, cur;
	char q[40], name[24];
	bool ok;

	ok = call(kv_metadata_route, REQ_GET, p, NULL, NULL, &m) == 200 &&
	     (jm = parse_body(p, "metadata", m.body)) != NULL &&
	     read_agrees(p, NULL, truth, NULL, NULL) &&
	     read_agrees(p, "version=0", truth, NULL, NULL);
	cur = json_integer_value(get2(jm, "data", "current_version"));
	for (v = 1; ok && v <= cur + 2; v++) {
		snprintf(q, sizeof(q), "version=%lld", (long long)v);
		snprintf(name, sizeof(name), "%lld", (long long)v);
		listed = json_object_get(get2(jm, "data", "versions"), name);
		ok = read_agrees(p, q, truth, NULL, &jr);
		md = get2(jr, "data", "metadata");
		if (ok && listed != NULL)
			ok = version_md_agrees(md, listed) &&
			     jsontest_same(json_object_get(md, "custom_metadata"),
			                   get2(jm, "data", "custom_metadata"));
		else if (ok)
			ok = json_object_get(jr, "errors") != NULL;
		if (!ok && jr != NULL)
			fprintf(stderr, "GET data/%s?%s disagrees with GET metadata: %.300s\n", p,
			        q, m.body);
		json_decref(jr);
		jr = NULL;
	}
	json_decref(jm);
	answer_free(&m);
	return ok;
}

/* truth[v] = value (stolen), growing truth with nulls. */
static void truth_set(json_t *truth, json_int_t v, json_t *value)
{
	while (json_array_size(truth) <= (size_t)v)
		json_array_append_new(truth, json_null());
	json_array_set_new(truth, (size_t)v, value);
}

/* POST data/p with the body's text; on 200 the new version's data goes to truth. The status. */
static int write_version(const char *p, const char *body, json_t *truth)
{
	struct answer a = {0, NULL};
	json_t *parsed = NULL, *ja;
	int status = call(kv_data_route, REQ_POST, p, body, NULL, &a);

	if (status == 200 && coffer_json_parse_object(body, strlen(body), &parsed, NULL, 0) == 0) {
		ja = json_loads(a.body, 0, NULL);
		truth_set(truth, json_integer_value(get2(ja, "data", "version")),
		          json_incref(json_object_get(parsed, "data")));
		json_decref(ja);
	}
	json_decref(parsed);
	answer_free(&a);
	return status;
}

/* Data objects as JSON text, each a hazard for a text splice or for a parse/serialise round. */
static const char *const fixed_corpus[] = {
    "{}",
    "{\"\":\"\"}",
    "{\"esc\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\",\"slash\":\"</script>\"}",
    "{\"ctl\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\u0009\\u000a\\u000b"
    "\\u000c\\u000d\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
    "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001F\\u007f\"}",
    "{\"ls\":\"\\u2028\\u2029\",\"raw\":\"\xe2\x80\xa8\xe2\x80\xa9\",\"del\":\"\x7f\"}",
    "{\"bmp\":\"\xc3\xa9\xe4\xb8\xad\xed\x95\x9c\xc3\x9f\xce\xa9\",\"astral\":\"\xf0\x9f\x98\x80"
    "\xf0\x9d\x84\x9e\",\"pair\":\"\\ud83d\\ude00\\uD834\\uDD1E\",\"max\":\"\\udbff\\udfff\","
    "\"comb\":\"e\\u0301 a\xcc\x88\xcc\x84\",\"zwj\":\"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
    "\xa7\",\"bom\":\"\\ufeff\",\"nonchar\":\"\\uffff\\ufffe\",\"repl\":\"\xef\xbf\xbd\"}",
    "{\"\\\"\":1,\"\\\\\":2,\"\\n\":3,\"\\u0001\":4,\"/\":5,\"\\u2028\":6,\"\xf0\x9f\x98\x80\":7,"
    "\"e\\u0301\":8,\"data\":9,\"metadata\":10,\"request_id\":\"x\",\"\":11,\"}\":12,\",\":13}",
    "{\"i\":[0,-0,1,-1,9223372036854775807,-9223372036854775808,4294967296,-4294967297,"
    "9007199254740993]}",
    "{\"r\":[-0.0,0.0,-0e0,0e0,1e23,0.1,0.30000000000000004,1.7976931348623157e308,"
    "-1.7976931348623157e308,2.2250738585072014e-308,5e-324,4.9406564584124654e-324,1E+2,1e-2,"
    "1.5e300,123456789012345678901234567890.0,9007199254740993.0,1e-400,-1e-400,0.1e1,100e-2,"
    "2.5E-3,1.0,-1.0]}",
    "{\"a\":{\"b\":{\"c\":[[[[{\"d\":[]}]]]]}},\"e\":[{}],\"f\":[[]]}",
    "{\"t\":true,\"f\":false,\"n\":null,\"arr\":[null,true,false,{},[],\"\",0]}",
    "{\"a\":1,\"a\":2,\"b\":{\"c\":1,\"c\":[3]}}",
    "  {  \"a\" : [ 1 ,\n2 ] ,\r\n\"b\":{}\t}  ",
    "{\"json\":\"{\\\"data\\\":1}\",\"wrap_info\":{\"token\":\"x\"},\"auth\":null,"
    "\"warnings\":[\"w\"]}",
};

static void test_text_read_equals_generic_for_fixed_corpus(void)
{
	json_t *truth = json_array();
	char p[32], body[2048];
	bool ok = true;
	size_t i;

	CHECK_OUT(fixture_open() == 0);
	for (i = 0; ok && i < sizeof(fixed_corpus) / sizeof(fixed_corpus[0]); i++) {
		snprintf(p, sizeof(p), "fixed/%zu", i);
		snprintf(body, sizeof(body), "{\"data\":%s}", fixed_corpus[i]);
		json_array_clear(truth);
		ok = write_version(p, body, truth) == 200 && key_agrees(p, truth);
		if (!ok)
			fprintf(stderr, "fixed corpus entry %zu: %s\n", i, fixed_corpus[i]);
	}
	/* Every fixed entry again as versions of one key, custom metadata with escapes on it. */
	ok = ok && call(kv_metadata_route, REQ_POST, "fixed/all",
	                "{\"custom_metadata\":{\"q\\\"uote\":\"a\\\\b\\n\",\"\xc3\xbc\":"
	                "\"\xf0\x9f\x98\x80\\u2028\\u0001\",\"data\":\"}\"}}",
	                NULL, NULL) == 204;
	json_array_clear(truth);
	for (i = 0; ok && i < sizeof(fixed_corpus) / sizeof(fixed_corpus[0]); i++) {
		snprintf(body, sizeof(body), "{\"data\":%s}", fixed_corpus[i]);
		ok = write_version("fixed/all", body, truth) == 200;
	}
	ok = ok && key_agrees("fixed/all", truth);
	CHECK_OUT(ok);
out:
	json_decref(truth);
	fixture_close();
}

/* {"data":{"v":"<n copies of unit>"}}: the stored text is {"v":"..."}. */
static char *body_repeat(const char *unit, size_t n)
{
	return jsontest_repeat("{\"data\":{\"v\":\"", unit, n, "\"}}");
}

/* A built body that fits stores and reads alike; over (may be NULL), one past a limit, is refused
 * with over_status and leaves the key as it was. Frees both bodies. */
static bool built_agrees(const char *p, char *fits, char *over, int over_status)
{
	json_t *truth = json_array();
	int s_fits = write_version(p, fits, truth);
	int s_over = over != NULL ? write_version(p, over, truth) : over_status;
	bool ok = s_fits == 200 && s_over == over_status && key_agrees(p, truth);

	if (!ok)
		fprintf(stderr, "%s: writes gave %d and %d, expected 200 and %d\n", p, s_fits,
		        s_over, over_status);
	free(fits);
	free(over);
	json_decref(truth);
	return ok;
}

static void test_text_read_equals_generic_for_built_values(void)
{
	const size_t max = KV_DEFAULT_MAX_VALUE_SIZE, wrap = sizeof("{\"v\":\"\"}") - 1;
	bool ok;

	CHECK_OUT(fixture_open() == 0);
	/* The body may nest COFFER_JSON_MAX_DEPTH deep: the data one level less. */
	ok = built_agrees("deep", jsontest_nested("{\"data\":", COFFER_JSON_MAX_DEPTH - 1, "}"),
	                  jsontest_nested("{\"data\":", COFFER_JSON_MAX_DEPTH, "}"), 400) &&
	     built_agrees("large", jsontest_large("{\"data\":", 60000, "}"), NULL, 0);
	/* Stored text of exactly the limit (or as near as the unit allows) and one unit over it:
	 * plain bytes, escapes that jansson writes in two or six bytes, four-byte characters. */
	ok = ok && built_agrees("max/plain", body_repeat("a", max - wrap),
	                        body_repeat("a", max - wrap + 1), 413);
	ok = ok && built_agrees("max/nl", body_repeat("\\n", (max - wrap) / 2),
	                        body_repeat("\\n", (max - wrap) / 2 + 1), 413);
	ok = ok && built_agrees("max/ctl", body_repeat("\\u0001", (max - wrap) / 6),
	                        body_repeat("\\u0001", (max - wrap) / 6 + 1), 413);
	ok = ok && built_agrees("max/astral", body_repeat("\xf0\x9f\x98\x80", (max - wrap) / 4),
	                        body_repeat("\\ud83d\\ude00", (max - wrap) / 4 + 1), 413);
	CHECK_OUT(ok);
out:
	fixture_close();
}

/* Bodies that could store a text the generic path cannot parse back never get past the body
 * parser, so the corpus needs none of them: NUL, raw control characters, lone surrogates, bad
 * UTF-8, integers beyond int64, reals beyond double, NaN, and nesting past the limit. */
static void test_body_parser_refuses_what_could_not_be_read_back(void)
{
	static const char *const refused[] = {
	    "{\"data\":{\"a\":\"\\u0000\"}}",
	    "{\"data\":{\"\\u0000\":1}}",
	    "{\"data\":{\"a\":\"x\ny\"}}",
	    "{\"data\":{\"a\":\"\\ud800\"}}",
	    "{\"data\":{\"a\":\"\\udc00\\ud800\"}}",
	    "{\"data\":{\"a\":\"\xff\"}}",
	    "{\"data\":{\"a\":\"\xc0\xaf\"}}",
	    "{\"data\":{\"a\":\"\xed\xa0\x80\"}}",
	    "{\"data\":{\"a\":9223372036854775808}}",
	    "{\"data\":{\"a\":-9223372036854775809}}",
	    "{\"data\":{\"a\":1e400}}",
	    "{\"data\":{\"a\":NaN}}",
	    "{\"data\":{\"a\":Infinity}}",
	    "{\"data\":{\"a\":[1,]}}",
	};
	json_t *truth = json_array();
	bool ok = true;
	size_t i;
	char *deep;

	CHECK_OUT(fixture_open() == 0);
	for (i = 0; ok && i < sizeof(refused) / sizeof(refused[0]); i++) {
		ok = write_version("refused", refused[i], truth) == 400;
		if (!ok)
			fprintf(stderr, "not refused: %s\n", refused[i]);
	}
	deep = jsontest_nested("{\"data\":", COFFER_JSON_MAX_DEPTH, "}");
	ok = ok && write_version("refused", deep, truth) == 400;
	free(deep);
	ok = ok && call(kv_metadata_route, REQ_GET, "refused", NULL, NULL, NULL) == 404;
	CHECK_OUT(ok);
out:
	json_decref(truth);
	fixture_close();
}

/* POST data/p with data that no other write has ("n"), so that a read of the wrong version
 * shows; truths maps each key to the data of its versions. */
static int write_numbered(json_t *truths, const char *p)
{
	static int n;
	json_t *truth = json_object_get(truths, p);
	char body[96];

	if (truth == NULL) {
		truth = json_array();
		json_object_set_new(truths, p, truth);
	}
	snprintf(body, sizeof(body), "{\"data\":{\"v\":[\"\\u2028\",1e-7,-0.0,{}],\"n\":%d}}", ++n);
	return write_version(p, body, truth);
}

/* Versions in every state: both paths agree, and the status is the one API.md gives. */
static void test_text_read_equals_generic_for_deleted_destroyed_and_missing(void)
{
	static const struct {
		const char *p, *q;
		int status;
	} reads[] = {{"d", "version=1", 200},
	             {"d", "version=2", 404},
	             {"d", "version=3", 404},
	             {"d", "version=4", 200},
	             {"d", "version=5", 404},
	             {"d", "version=6", 404},
	             {"d", NULL, 404},
	             {"d", "version=0", 404},
	             {"d", "version=", 404},
	             {"d", "version=7", 404},
	             {"d", "version=x", 400},
	             {"d", "version=-1", 400},
	             {"d", "version=99999999999999999999", 400},
	             {"pruned", "version=1", 404},
	             {"pruned", "version=2", 404},
	             {"pruned", "version=3", 200},
	             {"pruned", NULL, 200},
	             {"gone", NULL, 404},
	             {"gone", "version=1", 404},
	             {"later", NULL, 200},
	             {"none", NULL, 404},
	             {"none", "version=1", 404},
	             {"destroyed", NULL, 404},
	             {"undel", NULL, 200}};
	json_t *truths = json_object();
	bool ok = true;
	int i, status = 0;

	CHECK_OUT(fixture_open() == 0);
	for (i = 1; ok && i <= 6; i++)
		ok = write_numbered(truths, "d") == 200;
	ok = ok && call(kv_delete_route, REQ_POST, "d", "{\"versions\":[2,4]}", NULL, NULL) == 204;
	ok = ok && call(kv_destroy_route, REQ_POST, "d", "{\"versions\":[3,5]}", NULL, NULL) == 204;
	ok =
	    ok && call(kv_undelete_route, REQ_POST, "d", "{\"versions\":[4,5]}", NULL, NULL) == 204;
	ok = ok && call(kv_data_route, REQ_DELETE, "d", NULL, NULL, NULL) == 204;
	ok = ok &&
	     call(kv_metadata_route, REQ_POST, "pruned", "{\"max_versions\":2}", NULL, NULL) == 204;
	for (i = 1; ok && i <= 4; i++)
		ok = write_numbered(truths, "pruned") == 200;
	ok = ok && write_numbered(truths, "gone") == 200 &&
	     call(kv_metadata_route, REQ_DELETE, "gone", NULL, NULL, NULL) == 204;
	ok = ok &&
	     call(kv_metadata_route, REQ_POST, "later", "{\"delete_version_after\":\"1h\"}", NULL,
	          NULL) == 204 &&
	     write_numbered(truths, "later") == 200;
	ok = ok && write_numbered(truths, "destroyed") == 200 &&
	     call(kv_destroy_route, REQ_POST, "destroyed", "{\"versions\":[1]}", NULL, NULL) == 204;
	ok = ok && write_numbered(truths, "undel") == 200 &&
	     call(kv_data_route, REQ_DELETE, "undel", NULL, NULL, NULL) == 204 &&
	     call(kv_undelete_route, REQ_POST, "undel", "{\"versions\":[1]}", NULL, NULL) == 204;
	for (i = 0; ok && i < (int)(sizeof(reads) / sizeof(reads[0])); i++) {
		ok = read_agrees(reads[i].p, reads[i].q, json_object_get(truths, reads[i].p),
		                 &status, NULL) &&
		     status == reads[i].status;
		if (!ok)
			fprintf(stderr, "GET %s?%s: %d (want %d), or the paths disagree\n",
			        reads[i].p, reads[i].q != NULL ? reads[i].q : "", status,
			        reads[i].status);
	}
	ok = ok && key_agrees("d", json_object_get(truths, "d")) &&
	     key_agrees("pruned", json_object_get(truths, "pruned"));
	CHECK_OUT(ok);
out:
	json_decref(truths);
	fixture_close();
}

/* {"data": value} spelled at random; the parse of that text must be value itself. */
static char *rand_body(const json_t *value)
{
	struct jsontest_text t = {0};
	json_t *parsed = NULL;

	jsontest_puts(&t, "{\"data\":");
	jsontest_spell(&t, value);
	jsontest_puts(&t, "}");
	if (coffer_json_parse_object(t.s, t.len, &parsed, NULL, 0) != 0 ||
	    !jsontest_same(json_object_get(parsed, "data"), value)) {
		fprintf(stderr, "the generator's text does not parse to its value: %.300s\n", t.s);
		free(t.s);
		t.s = NULL;
	}
	json_decref(parsed);
	return t.s;
}

/* Give each random key a config: pruning at 3, a deletion time an hour on, or custom metadata. */
static bool rand_keys_setup(char paths[][48], size_t n)
{
	static const char *const settings[] = {
	    NULL, "{\"max_versions\":3}", "{\"delete_version_after\":\"1h\"}",
	    "{\"custom_metadata\":{\"\\u2028\":\"\\\"}\\\\\",\"k\":\"\xf0\x9f\x98\x80\\u0001\"}}"};
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(paths[i], 48,
		         i % 3 == 0   ? "rand/%zu"
		         : i % 3 == 1 ? "rand/\xc3\xbc %zu/x"
		                      : "rand/%zu/\xf0\x9f\x94\x91",
		         i);
		if (settings[i % 4] != NULL &&
		    call(kv_metadata_route, REQ_POST, paths[i], settings[i % 4], NULL, NULL) != 204)
			return false;
	}
	return true;
}

/* One random operation on key p, keeping truth (the data of each version written). */
static bool rand_op(const char *p, json_t *truth)
{
	uint64_t kind = jsontest_rng_below(100), cur = json_array_size(truth);
	json_t *value, *merged, *pre = NULL, *ja;
	char *body, arg[64];
	struct answer a;
	bool ok = true;
	int status;

	if (kind < 82 || cur <= 1) {
		value = jsontest_rand_value(kind < 70 ? 4 : 2);
		if (!json_is_object(value)) {
			json_decref(value);
			value = jsontest_rand_container(2, true);
		}
		if ((body = rand_body(value)) == NULL) {
			json_decref(value);
			return false;
		}
		if (kind < 70 || cur <= 1) {
			status = write_version(p, body, truth);
			ok = status == 200;
		} else {
			/* PATCH: the merge into the latest version, when that is live. */
			pre = json_deep_copy(json_array_get(truth, cur - 1));
			status = call(kv_data_route, REQ_PATCH, p, body, NULL, &a);
			ok = status == 200 || status == 404;
			if (status == 200 && (ja = json_loads(a.body, 0, NULL)) != NULL) {
				merged = kv_merge_patch(pre, value);
				truth_set(truth, json_integer_value(get2(ja, "data", "version")),
				          merged);
				json_decref(ja);
			}
			answer_free(&a);
		}
		free(body);
		json_decref(value);
		json_decref(pre);
		return ok;
	}
	snprintf(arg, sizeof(arg), "{\"versions\":[%llu]}",
	         (unsigned long long)(1 + jsontest_rng_below(cur - 1)));
	if (kind < 88)
		return call(kv_data_route, REQ_DELETE, p, NULL, NULL, NULL) == 204;
	if (kind < 92)
		return call(kv_destroy_route, REQ_POST, p, arg, NULL, NULL) == 204;
	if (kind < 97)
		return call(kv_undelete_route, REQ_POST, p, arg, NULL, NULL) == 204;
	return call(kv_delete_route, REQ_POST, p, arg, NULL, NULL) == 204;
}

/* Random values, patches, deletes, destroys and undeletes on a few dozen keys, each followed by
 * a read of the latest and of a random ?version=; then every version of every key. */
static void test_text_read_equals_generic_for_random_values(void)
{
	static char paths[RANDOM_KEYS][48];
	json_t *truth[RANDOM_KEYS];
	const char *env = getenv("COFFER_TEST_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 20261204, k;
	char q[40];
	bool ok;
	size_t i;

	jsontest_rng_seed(seed);
	fprintf(stderr, "random corpus: seed %llu, %d operations on %d keys\n",
	        (unsigned long long)seed, RANDOM_OPS, RANDOM_KEYS);
	for (i = 0; i < RANDOM_KEYS; i++)
		truth[i] = json_array();
	CHECK_OUT(fixture_open() == 0);
	ok = rand_keys_setup(paths, RANDOM_KEYS);
	for (i = 0; ok && i < RANDOM_OPS; i++) {
		k = jsontest_rng_below(RANDOM_KEYS);
		ok = rand_op(paths[k], truth[k]);
		if (!ok) {
			fprintf(stderr, "operation %zu on %s failed\n", i, paths[k]);
			break;
		}
		snprintf(q, sizeof(q), "version=%llu",
		         (unsigned long long)jsontest_rng_below(json_array_size(truth[k]) + 1));
		ok = read_agrees(paths[k], NULL, truth[k], NULL, NULL) &&
		     read_agrees(paths[k], q, truth[k], NULL, NULL);
	}
	for (i = 0; ok && i < RANDOM_KEYS; i++)
		ok = key_agrees(paths[i], truth[i]);
	if (!ok)
		fprintf(stderr, "replay with COFFER_TEST_SEED=%llu\n", (unsigned long long)seed);
	CHECK_OUT(ok);
out:
	for (i = 0; i < RANDOM_KEYS; i++)
		json_decref(truth[i]);
	fixture_close();
}

int main(void)
{
	coffer_json_init();
	RUN(test_body_parser_refuses_what_could_not_be_read_back);
	RUN(test_text_read_equals_generic_for_fixed_corpus);
	RUN(test_text_read_equals_generic_for_built_values);
	RUN(test_text_read_equals_generic_for_deleted_destroyed_and_missing);
	RUN(test_text_read_equals_generic_for_random_values);
	return test_summary();
}
