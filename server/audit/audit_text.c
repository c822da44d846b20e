/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_text.c: the response line of a response built as JSON text (a KV read, whose envelope is
 * spliced text, request.c response_envelope_text), written straight from that text: its "data"
 * copied with every string value HMAC'd, as audit_sb_put_response() does for a JSON tree, without
 * parsing the text into one. The text is the server's own output, so it is valid JSON; anything
 * unexpected makes the caller fall back to the tree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "secmem.h"
#include "xmalloc.h"

/* A cursor over JSON text. */
struct jt {
	const char *p, *end;
};

static void jt_ws(struct jt *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
		t->p++;
}

static int jt_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Append code point cp as UTF-8 at out; returns the bytes written. */
static size_t jt_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the string at t (its opening quote) into out (at least as long as the token; never
 * longer than it once decoded) and move past it. The length, or -1 when malformed. */
static long jt_string(struct jt *t, char *out)
{
	const char *p = t->p + 1;
	size_t n = 0;
	unsigned cp, lo;

	while (p < t->end && *p != '"') {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		if (++p >= t->end)
			return -1;
		switch (*p++) {
		case '"':
			out[n++] = '"';
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case '/':
			out[n++] = '/';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (t->end - p < 4 || jt_hex4(p, &cp) != 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && t->end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && jt_hex4(p + 2, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n += jt_utf8(out + n, cp);
			break;
		default:
			return -1;
		}
	}
	if (p >= t->end)
		return -1;
	t->p = p + 1;
	return (long)n;
}

/* Step back over the whitespace jt_skip() passed after the value that began at start. */
static void jt_unskip_ws(struct jt *t, const char *start)
{
	while (t->p > start && strchr(" \t\r\n", t->p[-1]) != NULL)
		t->p--;
}

/* Move past the value at t (any type) and the whitespace after it; -1 when malformed. */
static int jt_skip(struct jt *t)
{
	int depth = 0;

	do {
		jt_ws(t);
		if (t->p >= t->end)
			return -1;
		if (*t->p == '"') {
			for (t->p++; t->p < t->end && *t->p != '"'; t->p++) {
				if (*t->p == '\\')
					t->p++;
			}
			if (t->p >= t->end)
				return -1;
			t->p++;
		} else if (*t->p == '{' || *t->p == '[') {
			depth++;
			t->p++;
		} else if (*t->p == '}' || *t->p == ']') {
			depth--;
			t->p++;
		} else {
			while (t->p < t->end && strchr(",:]} \t\r\n", *t->p) == NULL)
				t->p++;
		}
		jt_ws(t);
		if (depth > 0 && t->p < t->end && (*t->p == ',' || *t->p == ':'))
			t->p++;
	} while (depth > 0);
	return depth == 0 ? 0 : -1;
}

/* Copy the value at t to sb with every string value replaced by its HMAC (object keys stay);
 * buf has room for any string of the text. 0, AUDIT_TEXT_FALLBACK when malformed, or
 * COFFER_ERR_SEALED. */
static int jt_put_hmac(struct jt *t, struct buf *sb, struct audit_device *d, char *buf)
{
	const char *start;
	long len;
	int rc;

	jt_ws(t);
	if (t->p >= t->end)
		return AUDIT_TEXT_FALLBACK;
	switch (*t->p) {
	case '"':
		if ((len = jt_string(t, buf)) < 0)
			return AUDIT_TEXT_FALLBACK;
		rc = audit_sb_put_hmac_str(sb, d, buf, (size_t)len);
		secmem_wipe(buf, (size_t)len);
		return rc;
	case '{':
	case '[': {
		char close = *t->p == '{' ? '}' : ']';
		bool is_object = close == '}';

		audit_sb_put(sb, t->p++, 1);
		jt_ws(t);
		for (size_t i = 0; t->p < t->end && *t->p != close; i++) {
			if (i > 0) {
				if (*t->p != ',')
					return AUDIT_TEXT_FALLBACK;
				t->p++;
				audit_sb_put(sb, ",", 1);
				jt_ws(t);
			}
			if (is_object) {
				start = t->p;
				if (t->p >= t->end || *t->p != '"' || jt_skip(t) != 0)
					return AUDIT_TEXT_FALLBACK;
				jt_unskip_ws(t, start);
				audit_sb_put(sb, start, (size_t)(t->p - start));
				jt_ws(t);
				if (t->p >= t->end || *t->p != ':')
					return AUDIT_TEXT_FALLBACK;
				t->p++;
				audit_sb_put(sb, ":", 1);
			}
			if ((rc = jt_put_hmac(t, sb, d, buf)) != 0)
				return rc;
			jt_ws(t);
		}
		if (t->p >= t->end)
			return AUDIT_TEXT_FALLBACK;
		audit_sb_put(sb, t->p++, 1);
		return 0;
	}
	default:
		/* Numbers, true, false, null: say nothing secret, copied as they are. */
		start = t->p;
		if (jt_skip(t) != 0)
			return AUDIT_TEXT_FALLBACK;
		jt_unskip_ws(t, start);
		audit_sb_put(sb, start, (size_t)(t->p - start));
		return 0;
	}
}

/* Whether the value at t is the literal null (and then move past it). */
static bool jt_null(struct jt *t)
{
	jt_ws(t);
	if (t->end - t->p >= 4 && memcmp(t->p, "null", 4) == 0) {
		t->p += 4;
		return true;
	}
	return false;
}

int audit_sb_put_response_text(struct buf *sb, struct audit_device *d, int status, const char *text)
{
	struct jt t = {text, text + strlen(text)};
	size_t mark = sb->len;
	char head[48], *buf;
	long key_len;
	int rc = 0;

	jt_ws(&t);
	if (t.p >= t.end || *t.p != '{')
		return AUDIT_TEXT_FALLBACK;
	buf = xmalloc(strlen(text) + 1);
	t.p++;
	snprintf(head, sizeof(head), ",\"response\":{\"status\":%d", status);
	audit_sb_puts(sb, head);
	for (jt_ws(&t); rc == 0 && t.p < t.end && *t.p != '}'; jt_ws(&t)) {
		if (*t.p == ',')
			t.p++;
		jt_ws(&t);
		if (t.p >= t.end || *t.p != '"' || (key_len = jt_string(&t, buf)) < 0) {
			rc = AUDIT_TEXT_FALLBACK;
			break;
		}
		buf[key_len] = '\0';
		jt_ws(&t);
		if (t.p >= t.end || *t.p++ != ':') {
			rc = AUDIT_TEXT_FALLBACK;
		} else if (jt_null(&t)) {
			continue; /* a null member is left out, as the tree leaves it */
		} else if (strcmp(buf, "data") == 0) {
			audit_sb_puts(sb, ",\"data\":");
			rc = jt_put_hmac(&t, sb, d, buf);
		} else if (strcmp(buf, "auth") == 0) {
			rc = AUDIT_TEXT_FALLBACK; /* a login's auth: the tree knows what to hash */
		} else if (strcmp(buf, "warnings") == 0) {
			const char *start = t.p;

			rc = jt_skip(&t) == 0 ? 0 : AUDIT_TEXT_FALLBACK;
			jt_unskip_ws(&t, start);
			audit_sb_puts(sb, ",\"warnings\":");
			audit_sb_put(sb, start, (size_t)(t.p - start));
		} else {
			rc = jt_skip(&t) == 0 ? 0 : AUDIT_TEXT_FALLBACK;
		}
	}
	free(buf);
	if (rc == 0 && (t.p >= t.end || *t.p != '}'))
		rc = AUDIT_TEXT_FALLBACK;
	if (rc == 0)
		audit_sb_put(sb, "}", 1);
	else
		buf_truncate(sb, mark); /* nothing of a half-written response stays */
	return rc;
}
