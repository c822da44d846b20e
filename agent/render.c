/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render.c: turns the data of a KV v2 secret into file content: raw (one key), json, env
 * (dotenv, single-quoted), or a template (template.c), into a struct buf (buf.h), which wipes
 * what it held. Errors name keys, never values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "json.h"

/* KEY='value' lines, one per key of data, in the secret's order. */
static int render_env(const json_t *data, struct buf *out, char *err, size_t err_len)
{
	struct buf val = {0};
	const char *key;
	json_t *v;
	int rc = 0;

	json_object_foreach((json_t *)data, key, v)
	{
		if (!value_is_env_name(key)) {
			snprintf(err, err_len, "key \"%.100s\" is not a valid variable name", key);
			rc = COFFER_ERR_INVALID;
			break;
		}
		buf_reset(&val);
		if ((rc = value_text(v, &val)) != 0)
			break;
		if (memchr(val.data, '\0', val.len) != NULL) {
			snprintf(err, err_len, "the value of key \"%s\" holds a NUL byte", key);
			rc = COFFER_ERR_INVALID;
			break;
		}
		if ((rc = buf_append(out, key, strlen(key))) != 0 ||
		    (rc = buf_append(out, "=", 1)) != 0 ||
		    (rc = value_shell_quote(val.data, val.len, out)) != 0 ||
		    (rc = buf_append(out, "\n", 1)) != 0)
			break;
	}
	buf_free(&val);
	return rc;
}

static int render_json(const json_t *data, struct buf *out)
{
	char *text = json_dumps(data, JSON_INDENT(2) | JSON_ENCODE_ANY);
	int rc;

	if (text == NULL)
		return COFFER_ERR_NOMEM;
	rc = buf_append(out, text, strlen(text));
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	coffer_json_free_text(text);
	return rc;
}

int render_secret(const struct agent_config *cfg, size_t idx, json_t *const *data, struct buf *out,
                  char *err, size_t err_len)
{
	const struct agent_secret *s = &cfg->secrets[idx];
	const json_t *d = data[idx], *v;
	int rc;

	buf_reset(out);
	if (s->format == AGENT_FORMAT_TEMPLATE)
		return template_render(s->tpl, cfg, data, out, err, err_len);
	if (d == NULL || !json_is_object(d)) {
		snprintf(err, err_len, "no data");
		return COFFER_ERR_INVALID;
	}
	switch (s->format) {
	case AGENT_FORMAT_RAW:
		v = json_object_get(d, s->key);
		if (v == NULL) {
			snprintf(err, err_len, "no key \"%s\"", s->key);
			return COFFER_ERR_INVALID;
		}
		rc = value_text(v, out);
		break;
	case AGENT_FORMAT_JSON:
		rc = render_json(d, out);
		break;
	case AGENT_FORMAT_ENV:
		rc = render_env(d, out, err, err_len);
		break;
	default:
		rc = COFFER_ERR_INTERNAL;
		break;
	}
	if (rc == COFFER_ERR_NOMEM)
		snprintf(err, err_len, "out of memory");
	return rc;
}
