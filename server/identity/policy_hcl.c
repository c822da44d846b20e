/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_hcl.c: the HCL subset of Vault policies (path blocks with capabilities or a legacy
 * policy, comments, tolerated parameter constraints), translated into the JSON form that
 * policy_parse() compiles. A hand-written lexer and recursive-descent parser; every error names
 * its line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "identity/policy_caps.h"
#include "identity/policy_hcl.h"
#include "xmalloc.h"

#define HCL_MAX_DEPTH 32 /* nesting of skipped values */

enum hcl_type { HCL_EOF, HCL_IDENT, HCL_STRING, HCL_NUMBER, HCL_PUNCT };

struct hcl_token {
	enum hcl_type type;
	int line;
	char punct;
	char *text; /* IDENT, STRING (unescaped), NUMBER; malloc'd */
};

struct hcl {
	const char *s;
	size_t len, pos;
	int line;
	struct hcl_token tok; /* the lookahead */
	char *err;
	size_t err_len;
};

static int hcl_fail(struct hcl *h, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int hcl_fail(struct hcl *h, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->err != NULL && h->err_len > 0) {
		n = snprintf(h->err, h->err_len, "line %d: ", line);
		if (n > 0 && (size_t)n < h->err_len) {
			va_start(ap, fmt);
			vsnprintf(h->err + n, h->err_len - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return COFFER_ERR_INVALID;
}

/* A short description of the lookahead for error messages. */
static void hcl_describe(const struct hcl_token *t, char *out, size_t out_len)
{
	switch (t->type) {
	case HCL_EOF:
		snprintf(out, out_len, "end of input");
		break;
	case HCL_PUNCT:
		snprintf(out, out_len, "'%c'", t->punct);
		break;
	case HCL_STRING:
		snprintf(out, out_len, "\"%.40s\"", t->text);
		break;
	default:
		snprintf(out, out_len, "%.40s", t->text);
		break;
	}
}

/* Skip spaces and comments. */
static int hcl_skip_space(struct hcl *h)
{
	int start;

	while (h->pos < h->len) {
		char c = h->s[h->pos];

		if (c == '\n') {
			h->line++;
			h->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			h->pos++;
		} else if (c == '#' ||
		           (c == '/' && h->pos + 1 < h->len && h->s[h->pos + 1] == '/')) {
			while (h->pos < h->len && h->s[h->pos] != '\n')
				h->pos++;
		} else if (c == '/' && h->pos + 1 < h->len && h->s[h->pos + 1] == '*') {
			start = h->line;
			for (h->pos += 2;; h->pos++) {
				if (h->pos + 1 >= h->len)
					return hcl_fail(h, start, "unterminated /* comment");
				if (h->s[h->pos] == '\n')
					h->line++;
				else if (h->s[h->pos] == '*' && h->s[h->pos + 1] == '/')
					break;
			}
			h->pos += 2;
		} else {
			break;
		}
	}
	return 0;
}

static int hcl_lex_string(struct hcl *h)
{
	char *out, c;
	size_t n = 0;

	out = xmalloc(h->len - h->pos + 1);
	h->tok.text = out;
	for (h->pos++;; h->pos++) {
		if (h->pos >= h->len || h->s[h->pos] == '\n')
			return hcl_fail(h, h->tok.line, "unterminated string");
		c = h->s[h->pos];
		if (c == '"')
			break;
		if (c == '\\') {
			if (++h->pos >= h->len)
				return hcl_fail(h, h->tok.line, "unterminated string");
			c = h->s[h->pos];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'r')
				c = '\r';
			else if (c != '"' && c != '\\' && c != '/')
				return hcl_fail(h, h->line, "invalid escape '\\%c' in string",
				                c >= 0x20 && c < 0x7f ? c : '?');
		} else if (c == '\0') {
			return hcl_fail(h, h->line, "NUL byte in string");
		}
		out[n++] = c;
	}
	h->pos++;
	out[n] = '\0';
	h->tok.type = HCL_STRING;
	return 0;
}

static bool hcl_is_word(char c, bool is_first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!is_first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

/* Advance the lookahead. */
static int hcl_next(struct hcl *h)
{
	size_t start;
	char c;
	int rc;

	free(h->tok.text);
	memset(&h->tok, 0, sizeof(h->tok));
	rc = hcl_skip_space(h);
	h->tok.line = h->line;
	if (rc != 0 || h->pos >= h->len)
		return rc;
	c = h->s[h->pos];
	if (c == '"')
		return hcl_lex_string(h);
	if (strchr("{}[]=,:", c) != NULL && c != '\0') {
		h->tok.type = HCL_PUNCT;
		h->tok.punct = c;
		h->pos++;
		return 0;
	}
	start = h->pos;
	if (hcl_is_word(c, true)) {
		h->tok.type = HCL_IDENT;
	} else if ((c >= '0' && c <= '9') || c == '-') {
		h->tok.type = HCL_NUMBER;
	} else if (c >= 0x20 && c < 0x7f) {
		return hcl_fail(h, h->line, "unexpected character '%c'", c);
	} else {
		return hcl_fail(h, h->line, "unexpected byte 0x%02x", (unsigned char)c);
	}
	for (h->pos++; h->pos < h->len && hcl_is_word(h->s[h->pos], false); h->pos++)
		;
	h->tok.text = xstrndup(h->s + start, h->pos - start);
	return 0;
}

static bool hcl_is_punct(const struct hcl *h, char p)
{
	return h->tok.type == HCL_PUNCT && h->tok.punct == p;
}

/* Parse and discard a value: a string, number, word, list or map. */
static int hcl_skip_value(struct hcl *h, int depth)
{
	char close;
	int rc, line = h->tok.line;
	char what[64];

	if (depth > HCL_MAX_DEPTH)
		return hcl_fail(h, line, "values nested too deeply");
	if (h->tok.type == HCL_STRING || h->tok.type == HCL_NUMBER || h->tok.type == HCL_IDENT)
		return hcl_next(h);
	if (!hcl_is_punct(h, '[') && !hcl_is_punct(h, '{')) {
		hcl_describe(&h->tok, what, sizeof(what));
		return hcl_fail(h, line, "expected a value, found %s", what);
	}
	close = hcl_is_punct(h, '[') ? ']' : '}';
	rc = hcl_next(h);
	while (rc == 0 && !hcl_is_punct(h, close)) {
		if (h->tok.type == HCL_EOF)
			return hcl_fail(h, line, "missing '%c' to close the value opened here",
			                close);
		if (close == '}') {
			/* key = value, key: value, or key { ... } */
			if (h->tok.type != HCL_STRING && h->tok.type != HCL_IDENT)
				return hcl_fail(h, h->tok.line, "expected a key in a map");
			rc = hcl_next(h);
			if (rc == 0 && (hcl_is_punct(h, '=') || hcl_is_punct(h, ':')))
				rc = hcl_next(h);
		}
		if (rc == 0)
			rc = hcl_skip_value(h, depth + 1);
		if (rc == 0 && hcl_is_punct(h, ','))
			rc = hcl_next(h);
	}
	return rc == 0 ? hcl_next(h) : rc;
}

/* The rule object of pattern in doc's "path" map, created on first use; NULL when pattern is
 * not UTF-8 (a policy sent base64-encoded may decode to any bytes). */
static json_t *hcl_rule(json_t *paths, const char *pattern)
{
	json_t *rule = json_object_get(paths, pattern);

	if (rule == NULL) {
		rule = json_object();
		if (json_object_set_new(paths, pattern, rule) != 0)
			return NULL;
	}
	return rule;
}

/* The capabilities array of rule, created on first use. */
static json_t *hcl_caps(json_t *rule)
{
	json_t *caps = json_object_get(rule, "capabilities");

	if (caps == NULL) {
		caps = json_array();
		json_object_set_new(rule, "capabilities", caps);
	}
	return caps;
}

/* capabilities = ["read", ...] with the lookahead just after the key. */
static int hcl_parse_caps(struct hcl *h, const char *pattern, json_t *rule)
{
	json_t *caps;
	int rc, line;

	if (!hcl_is_punct(h, '='))
		return hcl_fail(h, h->tok.line, "expected '=' after capabilities");
	if ((rc = hcl_next(h)) != 0)
		return rc;
	line = h->tok.line;
	if (!hcl_is_punct(h, '['))
		return hcl_fail(h, line,
		                "capabilities must be a list of strings, such as [\"read\"]");
	caps = hcl_caps(rule);
	rc = hcl_next(h);
	while (rc == 0 && !hcl_is_punct(h, ']')) {
		if (h->tok.type == HCL_EOF)
			return hcl_fail(h, line, "missing ']' to close the capabilities list");
		if (h->tok.type != HCL_STRING)
			return hcl_fail(h, h->tok.line, "capabilities must be a list of strings");
		if (acl_cap_from_name(h->tok.text) == 0)
			return hcl_fail(h, h->tok.line, "unknown capability \"%s\" in path \"%s\"",
			                h->tok.text, pattern);
		/* A known capability's name: ASCII, so json_string() takes it. */
		json_array_append_new(caps, json_string(h->tok.text));
		rc = hcl_next(h);
		if (rc == 0 && hcl_is_punct(h, ','))
			rc = hcl_next(h);
		else if (rc == 0 && !hcl_is_punct(h, ']') && h->tok.type != HCL_EOF)
			return hcl_fail(h, h->tok.line, "expected ',' or ']' in capabilities");
	}
	return rc == 0 ? hcl_next(h) : rc;
}

/* policy = "read" with the lookahead just after the key. A second legacy policy for the same
 * path is merged as capabilities. */
static int hcl_parse_legacy(struct hcl *h, const char *pattern, json_t *rule)
{
	json_t *caps, *names;
	size_t i;
	unsigned mask;
	int rc;

	if (!hcl_is_punct(h, '='))
		return hcl_fail(h, h->tok.line, "expected '=' after policy");
	if ((rc = hcl_next(h)) != 0)
		return rc;
	mask = h->tok.type == HCL_STRING ? acl_cap_from_legacy(h->tok.text) : 0;
	if (mask == 0)
		return hcl_fail(h, h->tok.line,
		                "policy in path \"%s\" must be \"read\", \"write\", \"deny\" or "
		                "\"sudo\"",
		                pattern);
	if (json_object_get(rule, "policy") == NULL) {
		/* A known legacy name: ASCII, so json_string() takes it. */
		json_object_set_new(rule, "policy", json_string(h->tok.text));
	} else {
		names = acl_capabilities_json(mask);
		caps = hcl_caps(rule);
		for (i = 0; i < json_array_size(names); i++)
			json_array_append(caps, json_array_get(names, i));
		json_decref(names);
	}
	return hcl_next(h);
}

/* The body of a path block, with the lookahead just after '{'. */
static int hcl_parse_body(struct hcl *h, const char *pattern, int open_line, json_t *rule)
{
	char key[64], what[64];
	int rc = 0;

	while (rc == 0 && !hcl_is_punct(h, '}')) {
		if (h->tok.type == HCL_EOF)
			return hcl_fail(h, open_line, "missing '}' to close path \"%s\"", pattern);
		if (h->tok.type != HCL_IDENT && h->tok.type != HCL_STRING) {
			hcl_describe(&h->tok, what, sizeof(what));
			return hcl_fail(h, h->tok.line,
			                "expected a key or '}' in path \"%s\", found %s", pattern,
			                what);
		}
		snprintf(key, sizeof(key), "%s", h->tok.text);
		if (strcmp(key, "path") == 0)
			return hcl_fail(h, h->tok.line,
			                "missing '}' to close path \"%s\" (opened on line %d)",
			                pattern, open_line);
		if (strcmp(key, "capabilities") != 0 && strcmp(key, "policy") != 0 &&
		    !policy_rule_key_is_ignored(key))
			return hcl_fail(h, h->tok.line, "unknown key \"%.40s\" in path \"%s\"",
			                h->tok.text, pattern);
		if ((rc = hcl_next(h)) != 0)
			return rc;
		if (strcmp(key, "capabilities") == 0) {
			rc = hcl_parse_caps(h, pattern, rule);
		} else if (strcmp(key, "policy") == 0) {
			rc = hcl_parse_legacy(h, pattern, rule);
		} else {
			if (hcl_is_punct(h, '='))
				rc = hcl_next(h);
			if (rc == 0)
				rc = hcl_skip_value(h, 0);
		}
		if (rc == 0 && hcl_is_punct(h, ','))
			rc = hcl_next(h);
	}
	return rc == 0 ? hcl_next(h) : rc;
}

/* path "<pattern>" { ... }, with the lookahead just after "path". */
static int hcl_parse_path(struct hcl *h, json_t *paths)
{
	char *pattern = NULL, what[64];
	json_t *rule;
	int rc, line;

	if (h->tok.type != HCL_STRING) {
		hcl_describe(&h->tok, what, sizeof(what));
		return hcl_fail(h, h->tok.line, "expected a quoted path after path, found %s",
		                what);
	}
	pattern = h->tok.text;
	h->tok.text = NULL; /* keep it past hcl_next() */
	rc = hcl_next(h);
	if (rc == 0 && hcl_is_punct(h, '='))
		rc = hcl_next(h);
	if (rc != 0)
		goto out;
	line = h->tok.line;
	if (!hcl_is_punct(h, '{')) {
		rc = hcl_fail(h, line, "expected '{' after path \"%s\"", pattern);
		goto out;
	}
	if ((rule = hcl_rule(paths, pattern)) == NULL) {
		rc = hcl_fail(h, line, "the policy must be UTF-8 text");
		goto out;
	}
	rc = hcl_next(h);
	if (rc == 0)
		rc = hcl_parse_body(h, pattern, line, rule);
out:
	free(pattern);
	return rc;
}

/* The top level: path blocks, and a tolerated name = "...". */
static int hcl_parse_doc(struct hcl *h, json_t *paths)
{
	char what[64];
	int rc;

	rc = hcl_next(h);
	while (rc == 0 && h->tok.type != HCL_EOF) {
		if (h->tok.type == HCL_IDENT && strcmp(h->tok.text, "path") == 0) {
			rc = hcl_next(h);
			if (rc == 0)
				rc = hcl_parse_path(h, paths);
		} else if (h->tok.type == HCL_IDENT && strcmp(h->tok.text, "name") == 0) {
			rc = hcl_next(h);
			if (rc == 0 && !hcl_is_punct(h, '='))
				return hcl_fail(h, h->tok.line, "expected '=' after name");
			if (rc == 0)
				rc = hcl_next(h);
			if (rc == 0 && h->tok.type != HCL_STRING)
				return hcl_fail(h, h->tok.line, "name must be a string");
			if (rc == 0)
				rc = hcl_next(h);
		} else {
			hcl_describe(&h->tok, what, sizeof(what));
			return hcl_fail(h, h->tok.line, "expected a path block, found %s", what);
		}
	}
	return rc;
}

int policy_hcl_to_json(const char *text, size_t len, json_t **out, char *err, size_t err_len)
{
	struct hcl h = {.s = text, .len = len, .line = 1, .err = err, .err_len = err_len};
	json_t *doc = NULL, *paths;
	int rc;

	*out = NULL;
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	paths = json_object();
	doc = json_pack("{s:o}", "path", paths);
	rc = hcl_parse_doc(&h, paths);
	if (rc == 0) {
		*out = doc;
		doc = NULL;
	}
	free(h.tok.text);
	json_decref(doc);
	return rc;
}
