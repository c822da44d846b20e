/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template.c: the agent's logic-less templates (DESIGN.md §7): literal text and
 * `{{ name.key | filter ... }}`, where name is a secret declared in the config and the filters are
 * json, base64, urlquery and shell. Parsed once at start-up (a syntax error or an unknown secret
 * or filter stops the agent), rendered after each fetch (a missing key is an error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "codec.h"
#include "json.h"
#include "secmem.h"

#define TEMPLATE_MAX_FILTERS 8

enum template_filter_id { TF_JSON, TF_BASE64, TF_URLQUERY, TF_SHELL };

static const char *const template_filter_names[] = {"json", "base64", "urlquery", "shell"};

struct template_node {
	const char *lit; /* literal text (into t->text), or NULL for a variable */
	size_t lit_len;
	int secret; /* index in cfg->secrets */
	char *key;
	int filters[TEMPLATE_MAX_FILTERS];
	size_t n_filters;
};

struct template
{
	char *text;
	struct template_node *nodes;
	size_t n_nodes;
};

void template_free(struct template *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_nodes; i++)
		free(t->nodes[i].key);
	free(t->nodes);
	free(t->text);
	free(t);
}

static bool template_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool template_is_word(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* The index of the secret named name in cfg, or -1. */
static int template_find_secret(const struct agent_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_secrets; i++)
		if (strcmp(cfg->secrets[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The 1-based line of position p in text, for messages. */
static int template_line(const char *text, const char *p)
{
	int line = 1;

	for (; text < p; text++)
		if (*text == '\n')
			line++;
	return line;
}

/* Parse the inside of one {{ }} (s..end) into n. */
static int template_parse_var(const char *s, const char *end, const struct agent_config *cfg,
                              struct template_node *n, char *err, size_t err_len)
{
	const char *p = s, *w, *dot;
	char word[256];
	size_t len, i;
	int idx;

	while (p < end && template_is_space(*p))
		p++;
	for (w = p; p < end && template_is_word(*p); p++)
		;
	len = (size_t)(p - w);
	dot = memchr(w, '.', len);
	if (len == 0 || len >= sizeof(word) || dot == NULL || dot == w || dot == p - 1) {
		snprintf(err, err_len, "expected {{ name.key }}");
		return COFFER_ERR_INVALID;
	}
	memcpy(word, w, (size_t)(dot - w));
	word[dot - w] = '\0';
	idx = template_find_secret(cfg, word);
	if (idx < 0 || cfg->secrets[idx].path == NULL) {
		snprintf(err, err_len, "no secret named \"%s\" with a path", word);
		return COFFER_ERR_INVALID;
	}
	n->secret = idx;
	n->key = strndup(dot + 1, (size_t)(p - dot - 1));
	if (n->key == NULL)
		return COFFER_ERR_NOMEM;
	for (;;) {
		while (p < end && template_is_space(*p))
			p++;
		if (p == end)
			return 0;
		if (*p != '|' || n->n_filters == TEMPLATE_MAX_FILTERS) {
			snprintf(err, err_len, "expected | filter or }}");
			return COFFER_ERR_INVALID;
		}
		for (p++; p < end && template_is_space(*p); p++)
			;
		for (w = p; p < end && template_is_word(*p); p++)
			;
		len = (size_t)(p - w);
		for (i = 0; i < 4; i++)
			if (strlen(template_filter_names[i]) == len &&
			    memcmp(template_filter_names[i], w, len) == 0)
				break;
		if (i == 4) {
			snprintf(err, err_len,
			         "unknown filter \"%.*s\" (json, base64, urlquery, shell)",
			         (int)(len > 40 ? 40 : len), w);
			return COFFER_ERR_INVALID;
		}
		n->filters[n->n_filters++] = (int)i;
	}
}

int template_parse(const char *text, size_t len, const struct agent_config *cfg,
                   struct template **out, char *err, size_t err_len)
{
	struct template *t;
	const char *p, *end, *open, *close;
	char msg[AGENT_ERR_LEN];
	int rc = 0;

	*out = NULL;
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, err_len, "the template holds a NUL byte");
		return COFFER_ERR_INVALID;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->text = strndup(text, len)) == NULL ||
	    (t->nodes = calloc(len + 1, sizeof(*t->nodes))) == NULL) {
		template_free(t);
		return COFFER_ERR_NOMEM;
	}
	p = t->text;
	end = t->text + len;
	while (p < end) {
		struct template_node *n = &t->nodes[t->n_nodes];

		open = strstr(p, "{{");
		if (open == NULL)
			open = end;
		if (open > p) {
			n->lit = p;
			n->lit_len = (size_t)(open - p);
			t->n_nodes++;
			n = &t->nodes[t->n_nodes];
		}
		if (open == end)
			break;
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			snprintf(err, err_len, "line %d: {{ without }}",
			         template_line(t->text, open));
			rc = COFFER_ERR_INVALID;
			break;
		}
		t->n_nodes++;
		rc = template_parse_var(open + 2, close, cfg, n, msg, sizeof(msg));
		if (rc != 0) {
			snprintf(err, err_len, "line %d: %s", template_line(t->text, open), msg);
			break;
		}
		p = close + 2;
	}
	if (rc != 0) {
		template_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int template_urlquery(const char *in, size_t in_len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_append(out, in + i, 1);
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 15];
		rc = buf_append(out, enc, 3);
	}
	return rc;
}

static int template_base64(const char *in, size_t in_len, struct buf *out)
{
	size_t cap = codec_b64_len(in_len, CODEC_B64_STD) + 1;
	char *enc = malloc(cap);
	int rc;

	if (enc == NULL)
		return COFFER_ERR_NOMEM;
	rc = codec_b64_encode(enc, cap, (const uint8_t *)in, in_len, CODEC_B64_STD);
	if (rc == 0)
		rc = buf_append(out, enc, cap - 1);
	secmem_freezero(enc, cap);
	return rc;
}

int template_filter(const char *name, const char *in, size_t in_len, struct buf *out)
{
	json_t *s;
	char *text;
	int rc;

	if (strcmp(name, "base64") == 0)
		return template_base64(in, in_len, out);
	if (strcmp(name, "urlquery") == 0)
		return template_urlquery(in, in_len, out);
	if (strcmp(name, "shell") == 0)
		return value_shell_quote(in, in_len, out);
	if (strcmp(name, "json") != 0)
		return COFFER_ERR_INVALID;
	s = json_stringn(in, in_len);
	if (s == NULL)
		return COFFER_ERR_INVALID; /* not UTF-8 */
	text = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ALLOW_NUL);
	json_decref(s);
	if (text == NULL)
		return COFFER_ERR_NOMEM;
	rc = buf_append(out, text, strlen(text));
	coffer_json_free_text(text);
	return rc;
}

/* One variable: the value, then each filter in turn. */
static int template_render_var(const struct template_node *n, const struct agent_config *cfg,
                               json_t *const *data, struct buf *out, char *err, size_t err_len)
{
	struct buf a = {0}, b = {0}, tmp;
	const json_t *d = data[n->secret], *v;
	size_t i;
	int rc;

	v = d != NULL ? json_object_get(d, n->key) : NULL;
	if (v == NULL) {
		snprintf(err, err_len, "no key \"%s\" in secret %s", n->key,
		         cfg->secrets[n->secret].name);
		return COFFER_ERR_INVALID;
	}
	rc = value_text(v, &a);
	for (i = 0; rc == 0 && i < n->n_filters; i++) {
		const char *name = template_filter_names[n->filters[i]];

		buf_reset(&b);
		/* json of a non-string value is its JSON text, not a quoted string of it. */
		if (n->filters[i] == TF_JSON && i == 0 && !json_is_string(v))
			rc = buf_append(&b, a.data, a.len);
		else
			rc = template_filter(name, a.data != NULL ? a.data : "", a.len, &b);
		if (rc == COFFER_ERR_INVALID)
			snprintf(err, err_len, "filter %s failed on %s.%s (not UTF-8?)", name,
			         cfg->secrets[n->secret].name, n->key);
		tmp = a;
		a = b;
		b = tmp;
	}
	if (rc == 0)
		rc = buf_append(out, a.data != NULL ? a.data : "", a.len);
	buf_free(&a);
	buf_free(&b);
	return rc;
}

int template_render(const struct template *t, const struct agent_config *cfg, json_t *const *data,
                    struct buf *out, char *err, size_t err_len)
{
	size_t i;
	int rc = 0;

	buf_reset(out);
	rc = buf_append(out, "", 0);
	for (i = 0; rc == 0 && i < t->n_nodes; i++) {
		const struct template_node *n = &t->nodes[i];

		if (n->lit != NULL)
			rc = buf_append(out, n->lit, n->lit_len);
		else
			rc = template_render_var(n, cfg, data, out, err, err_len);
	}
	if (rc == COFFER_ERR_NOMEM)
		snprintf(err, err_len, "out of memory");
	return rc;
}
