/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: coffer-agent's JSON config (agent/config.c). The input is the config text; a
 * config that parses is then rendered, every secret over the same fixed data, so that the
 * renderers see every format, key and mode the parser lets through. A template secret may name
 * FUZZ_TEMPLATE_PATH, a small template written at start-up (the seeds do).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"

#define FUZZ_TEMPLATE_PATH "/tmp/coffer-fuzz-agent-config.tpl"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_setup(void)
{
	static const char tpl[] = "user={{ db.USER }} pass={{ db.PASS | urlquery | shell }}\n"
	                          "n={{ db.n | json }} {{ api.token | base64 }}\n";
	FILE *f;
	int fd;

	coffer_json_init();
	/* A template path of /dev/stdin must not block the run. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		abort();
	close(fd);
	f = fopen(FUZZ_TEMPLATE_PATH, "we");
	if (f == NULL || fwrite(tpl, 1, sizeof(tpl) - 1, f) != sizeof(tpl) - 1 || fclose(f) != 0)
		abort();
}

/* Render every secret with a file over the same data; errors are expected and ignored. */
static void fuzz_render(const struct agent_config *cfg)
{
	struct buf out = {0};
	char err[AGENT_ERR_LEN];
	json_t **secrets, *fixed;
	size_t i;

	fixed = json_loads("{\"USER\": \"app\", \"PASS\": \"it's $HOME\\n\", \"n\": 42, \"token\": "
	                   "\"tok\", \"a\": {\"b\": [1, null]}, \"bad-name\": \"x\"}",
	                   0, NULL);
	secrets = calloc(cfg->n_secrets, sizeof(*secrets));
	if (fixed == NULL || secrets == NULL)
		abort();
	for (i = 0; i < cfg->n_secrets; i++)
		secrets[i] = cfg->secrets[i].path != NULL ? fixed : NULL;
	for (i = 0; i < cfg->n_secrets; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->secrets[j].name, cfg->secrets[i].name) == 0)
				abort(); /* names are unique: templates find each by its name */
		if (cfg->secrets[i].file == NULL)
			continue;
		if (render_secret(cfg, i, secrets, &out, err, sizeof(err)) == 0 &&
		    out.data != NULL && out.data[out.len] != '\0')
			abort(); /* a struct buf keeps a terminating NUL */
	}
	buf_free(&out);
	free(secrets);
	json_decref(fixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool is_setup;
	struct agent_config cfg;
	char err[AGENT_ERR_LEN], *text;

	if (!is_setup) {
		fuzz_setup();
		is_setup = true;
	}
	text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (agent_config_parse(text, &cfg, err, sizeof(err)) == 0) {
		fuzz_render(&cfg);
	} else if (err[0] == '\0' || cfg.secrets != NULL || cfg.n_secrets != 0) {
		abort(); /* a failure names its reason and leaves the config empty */
	}
	agent_config_free(&cfg);
	free(text);
	return 0;
}
