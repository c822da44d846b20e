/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_text.c: the response line of a body built as text (audit_text.c) is the same as the
 * line built from its parse (audit_format.c), for envelopes with escapes, non-ASCII text, nesting
 * and every scalar; and envelopes it does not understand fall back with nothing written.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_int.h"
#include "json.h"
#include "api/request.h"
#include "secmem.h"
#include "test.h"

static struct audit_device dev;

static const uint8_t device_key[32] = {1, 2, 3};

static void device_init(void)
{
	pthread_rwlock_init(&dev.key_lock, NULL);
	pthread_mutex_init(&dev.auth_mu, NULL);
	dev.hmac = secmem_alloc(sizeof(*dev.hmac));
	hmac_sha256_set_key(dev.hmac, sizeof(device_key), device_key);
}

/* The device's HMAC (nettle) is HMAC-SHA256 as libsodium computes it, for strings of every
 * length around the hash's block boundaries. */
static void test_hmac_is_hmac_sha256(void)
{
	char text[AUDIT_HMAC_TEXT_LEN + 1], want[AUDIT_HMAC_TEXT_LEN + 1], msg[300];
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	for (size_t len = 1; len < sizeof(msg); len++) {
		for (size_t i = 0; i < len; i++)
			msg[i] = (char)('a' + (i * 7 + len) % 26);
		crypto_auth_hmacsha256_init(&st, device_key, sizeof(device_key));
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, len);
		crypto_auth_hmacsha256_final(&st, mac);
		memcpy(want, "hmac-sha256:", 12);
		sodium_bin2hex(want + 12, sizeof(want) - 12, mac, sizeof(mac));
		CHECK_EQ(audit_hmac_text(&dev, msg, len, text), 0);
		CHECK(strcmp(text, want) == 0);
	}
}

/* The response part of a line for text, built both ways; 1 when both agree. */
static int same_both_ways(const char *text)
{
	struct response resp = {.status = 200};
	struct buf a, b;
	json_t *parsed = json_loads(text, 0, NULL);
	int ok, rc_text, rc_tree = -1;

	audit_sb_init(&a);
	audit_sb_init(&b);
	rc_text = audit_sb_put_response_text(&a, &dev, 200, text);
	if (parsed != NULL)
		rc_tree = audit_sb_put_response(&b, &dev, &resp, parsed);
	ok = rc_text == 0 && rc_tree == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
	if (!ok && a.data != NULL && b.data != NULL)
		fprintf(stderr, "%s\n%d %d\ntext: %.*s\ntree: %.*s\n", text, rc_text, rc_tree,
		        (int)a.len, a.data, (int)b.len, b.data);
	json_decref(parsed);
	buf_free(&a);
	buf_free(&b);
	return ok;
}

static void test_text_and_tree_agree(void)
{
	static const char *const texts[] = {
	    "{\"request_id\":\"x\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
	    "\"data\":{\"data\":{\"v\":\"s3cr3t\"},\"metadata\":{\"created_time\":\"2026-11-29T01:"
	    "02:03.000000001Z\",\"custom_metadata\":null,\"deletion_time\":\"\",\"destroyed\":"
	    "false,"
	    "\"version\":1}},\"wrap_info\":null,\"warnings\":null,\"auth\":null}",
	    "{\"data\":{\"a\":\"q\\\"uote\\\\back\\/slash\\n\\t\\u00e9\\ud83d\\ude00\",\"b\":[1,-2,"
	    "3,true,false,null,[\"x\",{\"y\":\"z\"}]],\"c\":{},\"d\":[],\"e\":\"\"}}",
	    "{\"data\":{\"k\":\"caf\xc3\xa9\",\"n\":{\"deep\":{\"deeper\":[\"1\",\"2\"]}}},"
	    "\"warnings\":[\"careful\"]}",
	    "{\"data\":null,\"warnings\":null}",
	    "  { \"data\" : { \"sp\" : \"a b\" , \"arr\" : [ 1 , \"two\" ] } }  ",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		CHECK(same_both_ways(texts[i]));
}

static void test_unknown_envelopes_fall_back_untouched(void)
{
	static const char *const texts[] = {
	    "{\"data\":{\"a\":1},\"auth\":{\"client_token\":\"t\"}}", /* auth: the tree's job */
	    "{\"data\":{\"a\":\"unterminated}}",
	    "[1,2]",
	    "",
	};
	struct buf sb = {0};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		audit_sb_init(&sb);
		audit_sb_puts(&sb, "{\"before\":1");
		size_t len = sb.len;

		CHECK_EQ_OUT(audit_sb_put_response_text(&sb, &dev, 200, texts[i]),
		             AUDIT_TEXT_FALLBACK);
		CHECK_EQ_OUT(sb.len, len);
		buf_free(&sb);
	}
out:
	buf_free(&sb);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	device_init();
	RUN(test_hmac_is_hmac_sha256);
	RUN(test_text_and_tree_agree);
	RUN(test_unknown_envelopes_fall_back_untouched);
	return test_summary();
}
