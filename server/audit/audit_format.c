/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_format.c: the text of audit lines: the request, auth and response members, with every
 * string that may be secret (all non-empty string values of request and response data, client
 * tokens and accessors) replaced by "hmac-sha256:<hex>" under the device's key. Lines are written
 * straight into a buffer (no intermediate JSON tree): this runs twice per request. Called by the
 * broker (audit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "audit/audit_int.h"
#include "duration.h"
#include "log.h"
#include "engines/mount.h"
#include "secmem.h"
#include "identity/token.h"
#include "xmalloc.h"

static const char *const audit_op_names[] = {"read", "list", "create", "update", "patch", "delete"};

void audit_sb_init(struct buf *sb)
{
	buf_init(sb, 2048, 0); /* a read's response line fits */
}

void audit_sb_put(struct buf *sb, const char *s, size_t len)
{
	/* Out of memory is fatal in cofferd (xmalloc.h); lines are bounded by the request's. */
	if (buf_append(sb, s, len) != 0)
		fatal("out of memory");
}

void audit_sb_puts(struct buf *sb, const char *s)
{
	audit_sb_put(sb, s, strlen(s));
}

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t audit_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void audit_sb_put_str(struct buf *sb, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, run, n;

	audit_sb_put(sb, "\"", 1);
	while (i < len) {
		for (run = i; run < len && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' &&
		              u[run] != '\\';
		     run++)
			;
		audit_sb_put(sb, s + i, run - i);
		i = run;
		if (i == len)
			break;
		if (u[i] >= 0x80) {
			n = audit_utf8_len(u + i, len - i);
			if (n == 0)
				audit_sb_put(sb, "\\ufffd", 6);
			else
				audit_sb_put(sb, s + i, n);
			i += n == 0 ? 1 : n;
			continue;
		}
		if (u[i] == '"' || u[i] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", u[i]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
		audit_sb_puts(sb, esc);
		i++;
	}
	audit_sb_put(sb, "\"", 1);
}

void audit_format_now(char out[COFFER_TIME_LEN])
{
	int64_t ns = coffer_clock_now_ns();

	coffer_time_format(ns / 1000000000, (long)(ns % 1000000000), 6, out);
}

int audit_hmac_text(struct audit_device *d, const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	struct hmac_sha256_ctx st;
	uint8_t mac[SHA256_DIGEST_SIZE];
	size_t i;

	if (d->hmac == NULL)
		return COFFER_ERR_SEALED;
	/* The keyed state is copied, so the key's pads are not recomputed for every string. */
	memcpy(&st, d->hmac, sizeof(st));
	hmac_sha256_update(&st, len, (const uint8_t *)s);
	hmac_sha256_digest(&st, sizeof(mac), mac);
	secmem_wipe(&st, sizeof(st));
	memcpy(out, "hmac-sha256:", 12);
	for (i = 0; i < sizeof(mac); i++) {
		out[12 + 2 * i] = hex[mac[i] >> 4];
		out[13 + 2 * i] = hex[mac[i] & 15];
	}
	out[AUDIT_HMAC_TEXT_LEN] = '\0';
	return 0;
}

/* A string value: "" stays "" (emptiness is no secret), anything else becomes its HMAC. */
int audit_sb_put_hmac_str(struct buf *sb, struct audit_device *d, const char *s, size_t len)
{
	char text[AUDIT_HMAC_TEXT_LEN + 1];

	if (len == 0) {
		audit_sb_put(sb, "\"\"", 2);
		return 0;
	}
	if (audit_hmac_text(d, s, len, text) != 0)
		return COFFER_ERR_SEALED;
	audit_sb_put(sb, "\"", 1);
	audit_sb_put(sb, text, AUDIT_HMAC_TEXT_LEN);
	audit_sb_put(sb, "\"", 1);
	return 0;
}

/* Numbers, booleans and null say nothing secret: as they are. */
static void audit_sb_put_scalar(struct buf *sb, const json_t *v)
{
	char buf[32];
	char *text;

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		audit_sb_puts(sb, buf);
	} else if (json_is_true(v)) {
		audit_sb_put(sb, "true", 4);
	} else if (json_is_false(v)) {
		audit_sb_put(sb, "false", 5);
	} else if (json_is_real(v) && (text = json_dumps(v, JSON_ENCODE_ANY)) != NULL) {
		audit_sb_puts(sb, text);
		free(text);
	} else {
		audit_sb_put(sb, "null", 4);
	}
}

int audit_sb_put_hmac_json(struct buf *sb, struct audit_device *d, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i, n = 0;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (d == NULL) {
			audit_sb_put_str(sb, json_string_value(v), json_string_length(v));
			return 0;
		}
		return audit_sb_put_hmac_str(sb, d, json_string_value(v), json_string_length(v));
	case JSON_OBJECT:
		audit_sb_put(sb, "{", 1);
		json_object_foreach((json_t *)v, key, item)
		{
			if (n++ > 0)
				audit_sb_put(sb, ",", 1);
			audit_sb_put_str(sb, key, strlen(key));
			audit_sb_put(sb, ":", 1);
			if (audit_sb_put_hmac_json(sb, d, item) != 0)
				return COFFER_ERR_SEALED;
		}
		audit_sb_put(sb, "}", 1);
		return 0;
	case JSON_ARRAY:
		audit_sb_put(sb, "[", 1);
		json_array_foreach(v, i, item)
		{
			if (i > 0)
				audit_sb_put(sb, ",", 1);
			if (audit_sb_put_hmac_json(sb, d, item) != 0)
				return COFFER_ERR_SEALED;
		}
		audit_sb_put(sb, "]", 1);
		return 0;
	default:
		audit_sb_put_scalar(sb, v);
		return 0;
	}
}

/* ,"key":"<hmac of s>" when s is not NULL. */
static int audit_sb_put_hmac_member(struct buf *sb, struct audit_device *d, const char *key,
                                    const char *s)
{
	if (s == NULL)
		return 0;
	audit_sb_puts(sb, key);
	return audit_sb_put_hmac_str(sb, d, s, strlen(s));
}

/* Take the finished text of sb (NUL-terminated). */
static char *audit_sb_take(struct buf *sb)
{
	char *out = xmalloc(sb->len + 1);

	memcpy(out, sb->data != NULL ? sb->data : "", sb->len + 1);
	buf_free(sb);
	return out;
}

/* A copy of the cached auth text of token e, or NULL. */
static char *audit_auth_cached(struct audit_device *d, const struct token_entry *e)
{
	struct audit_auth_slot *slot = &d->auth_cache[e->hash[0] % AUDIT_AUTH_CACHE];
	char *out = NULL;

	pthread_mutex_lock(&d->auth_mu);
	if (slot->text != NULL &&
	    sodium_memcmp(slot->token_hash, e->hash, sizeof(slot->token_hash)) == 0 &&
	    strcmp(slot->accessor, e->accessor) == 0) {
		out = xmalloc(slot->len + 1);
		memcpy(out, slot->text, slot->len + 1);
	}
	pthread_mutex_unlock(&d->auth_mu);
	return out;
}

static void audit_auth_remember(struct audit_device *d, const struct token_entry *e,
                                const char *text)
{
	struct audit_auth_slot *slot = &d->auth_cache[e->hash[0] % AUDIT_AUTH_CACHE];
	char *copy = xstrdup(text);

	pthread_mutex_lock(&d->auth_mu);
	free(slot->text);
	memcpy(slot->token_hash, e->hash, sizeof(slot->token_hash));
	snprintf(slot->accessor, sizeof(slot->accessor), "%s", e->accessor);
	slot->text = copy;
	slot->len = strlen(copy);
	pthread_mutex_unlock(&d->auth_mu);
}

void audit_auth_cache_clear(struct audit_device *d)
{
	pthread_mutex_lock(&d->auth_mu);
	for (size_t i = 0; i < AUDIT_AUTH_CACHE; i++) {
		free(d->auth_cache[i].text);
		d->auth_cache[i].text = NULL;
	}
	pthread_mutex_unlock(&d->auth_mu);
}

/* {"accessor":...,"client_token":...,"display_name":...,"policies":[...]}: the same for every
 * request of a token (its policies and name do not change), so kept per token. */
char *audit_auth_text(struct audit_device *d, const struct request *req, int *err)
{
	const struct token_entry *e = req->auth;
	struct buf sb;
	char *out;
	size_t i;

	*err = 0;
	if (e == NULL && (req->token == NULL || req->token[0] == '\0'))
		return NULL;
	if (e != NULL && d->hmac != NULL && (out = audit_auth_cached(d, e)) != NULL)
		return out;
	audit_sb_init(&sb);
	audit_sb_put(&sb, "{", 1);
	if (e != NULL)
		*err = audit_sb_put_hmac_member(&sb, d, "\"accessor\":", e->accessor);
	if (*err == 0)
		*err = audit_sb_put_hmac_member(
		    &sb, d, e != NULL ? ",\"client_token\":" : "\"client_token\":", req->token);
	if (*err == 0 && e != NULL) {
		audit_sb_puts(&sb, ",\"display_name\":");
		audit_sb_put_str(&sb, e->display_name, strlen(e->display_name));
		audit_sb_puts(&sb, ",\"policies\":[");
		for (i = 0; i < json_array_size(e->policies); i++) {
			if (i > 0)
				audit_sb_put(&sb, ",", 1);
			audit_sb_put_str(&sb, json_string_value(json_array_get(e->policies, i)),
			                 json_string_length(json_array_get(e->policies, i)));
		}
		audit_sb_put(&sb, "]", 1);
	}
	audit_sb_put(&sb, "}", 1);
	if (*err != 0) {
		buf_free(&sb);
		return NULL;
	}
	out = audit_sb_take(&sb);
	if (e != NULL)
		audit_auth_remember(d, e, out);
	return out;
}

/* ,"key":<JSON string of s> */
static void audit_sb_put_member(struct buf *sb, const char *key, const char *s)
{
	audit_sb_puts(sb, key);
	audit_sb_put_str(sb, s, strlen(s));
}

char *audit_request_text(struct audit_device *d, const struct request *req, int *err)
{
	struct buf sb;

	*err = 0;
	audit_sb_init(&sb);
	audit_sb_put_member(&sb, "{\"id\":", req->request_id);
	audit_sb_put_member(&sb, ",\"operation\":", audit_op_names[req->op]);
	if (req->mount != NULL) {
		audit_sb_put_member(&sb, ",\"mount_type\":", req->mount->type);
		audit_sb_put_member(&sb, ",\"mount_point\":", req->mount->path);
	}
	/* Below a secrets engine the path names a secret: HMAC'd like the values (DESIGN.md
	 * §10.1); sys/audit-hash of the full path finds it. */
	if (req->mount != NULL && !req->mount->is_auth) {
		audit_sb_puts(&sb, ",\"path\":");
		*err = audit_sb_put_hmac_str(&sb, d, req->path, strlen(req->path));
	} else {
		audit_sb_put_member(&sb, ",\"path\":", req->path);
	}
	audit_sb_put_member(&sb, ",\"remote_address\":", req->remote_addr);
	if (*err != 0) {
		buf_free(&sb);
		return NULL;
	}
	return audit_sb_take(&sb);
}

/* ,"auth":{...} of a response, with its token and accessor HMAC'd; the rest as is. */
static int audit_sb_put_response_auth(struct buf *sb, struct audit_device *d, const json_t *auth)
{
	const char *key;
	json_t *v;
	size_t n = 0;
	int rc = 0;

	audit_sb_puts(sb, ",\"auth\":{");
	json_object_foreach((json_t *)auth, key, v)
	{
		if (n++ > 0)
			audit_sb_put(sb, ",", 1);
		audit_sb_put_str(sb, key, strlen(key));
		audit_sb_put(sb, ":", 1);
		if (json_is_string(v) &&
		    (strcmp(key, "client_token") == 0 || strcmp(key, "accessor") == 0))
			rc = audit_sb_put_hmac_str(sb, d, json_string_value(v),
			                           json_string_length(v));
		else
			rc = audit_sb_put_hmac_json(sb, NULL, v);
		if (rc != 0)
			return rc;
	}
	audit_sb_put(sb, "}", 1);
	return 0;
}

int audit_sb_put_response(struct buf *sb, struct audit_device *d, const struct response *resp,
                          const json_t *body)
{
	const json_t *data = json_object_get(body, "data"), *auth = json_object_get(body, "auth");
	const json_t *warnings = json_object_get(body, "warnings");
	char buf[48];

	snprintf(buf, sizeof(buf), ",\"response\":{\"status\":%d", resp->status);
	audit_sb_puts(sb, buf);
	if (data != NULL && !json_is_null(data)) {
		audit_sb_puts(sb, ",\"data\":");
		if (audit_sb_put_hmac_json(sb, d, data) != 0)
			return COFFER_ERR_SEALED;
	}
	if (json_is_object(auth) && audit_sb_put_response_auth(sb, d, auth) != 0)
		return COFFER_ERR_SEALED;
	if (json_is_array(warnings)) {
		audit_sb_puts(sb, ",\"warnings\":");
		(void)audit_sb_put_hmac_json(sb, NULL, warnings);
	}
	audit_sb_put(sb, "}", 1);
	return 0;
}

const char *audit_body_error(const json_t *body)
{
	return json_string_value(json_array_get(json_object_get(body, "errors"), 0));
}

bool audit_is_path_keyed(const char *path)
{
	return path != NULL && (strcmp(path, "sys/capabilities-self") == 0 ||
	                        strcmp(path, "sys/capabilities") == 0 ||
	                        strcmp(path, "sys/capabilities-accessor") == 0);
}

/* data with every key but "capabilities" replaced by its HMAC text (a new object). */
static json_t *audit_hmac_keys(struct audit_device *d, const json_t *data)
{
	char text[AUDIT_HMAC_TEXT_LEN + 1];
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)data, key, v)
	{
		if (out == NULL)
			break;
		if (strcmp(key, "capabilities") == 0)
			json_object_set(out, key, v);
		else if (audit_hmac_text(d, key, strlen(key), text) == 0)
			json_object_set(out, text, v);
		else {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

int audit_sb_put_response_paths(struct buf *sb, struct audit_device *d, const struct response *resp,
                                const json_t *body)
{
	const json_t *data = json_object_get(body, "data");
	json_t *copy, *keyed;
	int rc;

	if (!json_is_object(data))
		return audit_sb_put_response(sb, d, resp, body);
	keyed = audit_hmac_keys(d, data);
	if (keyed == NULL)
		return COFFER_ERR_SEALED; /* no key: no line */
	copy = json_copy((json_t *)body); /* shallow: only its data is replaced */
	json_object_set_new(copy, "data", keyed);
	rc = audit_sb_put_response(sb, d, resp, copy);
	json_decref(copy);
	return rc;
}
