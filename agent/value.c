/* SPDX-License-Identifier: Apache-2.0 */
/*
 * value.c: a secret's value as file text: a JSON value as written, single-quoting for a POSIX
 * shell or dotenv, and the variable names an env file accepts. Shared by render.c's formats,
 * template.c's filters and config.c's name check; it calls none of them.
 */
#include <string.h>

#include "agent.h"
#include "json.h"

int value_text(const json_t *v, struct buf *out)
{
	char *text;
	int rc;

	if (json_is_string(v))
		return buf_append(out, json_string_value(v), json_string_length(v));
	if (v == NULL || json_is_null(v))
		return buf_append(out, "", 0);
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL)
		return COFFER_ERR_NOMEM;
	rc = buf_append(out, text, strlen(text));
	coffer_json_free_text(text);
	return rc;
}

int value_shell_quote(const char *s, size_t len, struct buf *out)
{
	size_t i, start = 0;
	int rc = buf_append(out, "'", 1);

	for (i = 0; rc == 0 && i < len; i++) {
		if (s[i] != '\'')
			continue;
		rc = buf_append(out, s + start, i - start);
		if (rc == 0)
			rc = buf_append(out, "'\\''", 4);
		start = i + 1;
	}
	if (rc == 0)
		rc = buf_append(out, s + start, len - start);
	if (rc == 0)
		rc = buf_append(out, "'", 1);
	return rc;
}

bool value_is_env_name(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}
