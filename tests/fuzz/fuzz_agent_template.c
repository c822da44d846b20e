/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: coffer-agent's templates (agent/template.c). The input is template text, parsed
 * against a fixed config (secrets db, api with paths; tpl, the template itself) and, when it
 * parses, rendered over fixed data that holds strings (quotes, newlines, a NUL, non-ASCII),
 * numbers, null, an object and an array, so that every filter meets every kind of value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_config[] =
    "{\"server\": {\"address\": \"http://127.0.0.1:1\"},"
    " \"auth\": {\"method\": \"token_file\", \"path\": \"/nonexistent\"},"
    " \"destination\": {\"dir\": \"/tmp\"},"
    " \"secrets\": ["
    "  {\"name\": \"db\", \"path\": \"secret/data/db\", \"file\": \"db.env\", \"format\": \"env\"},"
    "  {\"name\": \"api\", \"path\": \"secret/data/api\", \"file\": \"api\", \"format\": \"raw\","
    "   \"key\": \"token\"},"
    "  {\"name\": \"tpl\", \"path\": \"secret/data/tpl\", \"file\": \"app.conf\"}]}";

static const char fuzz_db[] =
    "{\"USER\": \"app\", \"PASS\": \"it's $HOME `id`\\nline2\", \"nul\": \"a\\u0000b\","
    " \"utf8\": \"\\u00e9\\u20ac\\ud83d\\ude00\", \"n\": 42, \"f\": 1.5, \"t\": true,"
    " \"null\": null, \"obj\": {\"a\": [1, \"two\", null]}, \"arr\": [], \"a.b\": \"dotted\","
    " \"\": \"empty key\"}";

static struct agent_config cfg;
static json_t *secrets[3];

static void fuzz_setup(void)
{
	char err[AGENT_ERR_LEN];

	coffer_json_init();
	if (agent_config_parse(fuzz_config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_agent_template: config: %s\n", err);
		abort();
	}
	/* The third secret becomes the template; templates read the other two. */
	cfg.secrets[2].format = AGENT_FORMAT_TEMPLATE;
	secrets[0] = json_loads(fuzz_db, JSON_ALLOW_NUL, NULL);
	secrets[1] = json_pack("{s:s}", "token", "t0k'en");
	if (secrets[0] == NULL || secrets[1] == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = {0};
	struct template *t = NULL;
	char err[AGENT_ERR_LEN];
	int rc;

	if (cfg.n_secrets == 0)
		fuzz_setup();
	err[0] = '\0';
	rc = template_parse((const char *)data, size, &cfg, &t, err, sizeof(err));
	if (rc != 0) {
		if (t != NULL || err[0] == '\0')
			abort(); /* a failure sets no template and says why */
		return 0;
	}
	cfg.secrets[2].tpl = t;
	rc = render_secret(&cfg, 2, secrets, &out, err, sizeof(err));
	if (rc == 0 && (out.data == NULL || out.data[out.len] != '\0'))
		abort();
	/* Rendering twice gives the same bytes (no state kept between renders). */
	if (rc == 0) {
		struct buf again = {0};

		if (render_secret(&cfg, 2, secrets, &again, err, sizeof(err)) != 0 ||
		    again.len != out.len || memcmp(again.data, out.data, out.len) != 0)
			abort();
		buf_free(&again);
	}
	buf_free(&out);
	cfg.secrets[2].tpl = NULL;
	template_free(t);
	return 0;
}
