/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_agent_render.c: coffer-agent's renderers (agent/render.c, value.c, template.c): raw, json,
 * env quoting that a POSIX shell reads back byte for byte (quotes, newlines, $, backticks), every
 * template filter with known answers, and a missing key as an error that names the key only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "secmem.h"
#include "test.h"

/* A config with secrets db (env), api (raw key token), cfg (template from text). */
static int make_config(struct agent_config *cfg, const char *tpl_text)
{
	char err[AGENT_ERR_LEN];
	static const char *text =
	    "{\"server\": {\"address\": \"http://127.0.0.1:1\"},"
	    " \"auth\": {\"method\": \"token_file\", \"path\": \"/nonexistent\"},"
	    " \"destination\": {\"dir\": \"/tmp\"},"
	    " \"secrets\": ["
	    "  {\"name\": \"db\", \"path\": \"secret/data/db\", \"file\": \"db.env\", \"format\": "
	    "\"env\"},"
	    "  {\"name\": \"api\", \"path\": \"secret/data/api\", \"file\": \"api\", \"format\": "
	    "\"raw\","
	    "   \"key\": \"token\"},"
	    "  {\"name\": \"js\", \"path\": \"secret/data/api\", \"file\": \"api.json\"}]}";
	int rc;

	rc = agent_config_parse(text, cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "config: %s\n", err);
		return rc;
	}
	if (tpl_text != NULL) {
		rc = template_parse(tpl_text, strlen(tpl_text), cfg, &cfg->secrets[2].tpl, err,
		                    sizeof(err));
		if (rc != 0)
			fprintf(stderr, "template: %s\n", err);
		cfg->secrets[2].format = AGENT_FORMAT_TEMPLATE;
	}
	return rc;
}

/* Render template text over db = db_json and api = {"token": "t0k"}; NULL on error (in err). */
static char *render_template(const char *tpl, const char *db_json, char *err, size_t err_len)
{
	struct agent_config cfg;
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL};
	char *result = NULL;

	if (make_config(&cfg, tpl) != 0) {
		snprintf(err, err_len, "parse failed");
		agent_config_free(&cfg);
		return NULL;
	}
	data[0] = json_loads(db_json, 0, NULL);
	data[1] = json_pack("{s:s}", "token", "t0k");
	if (render_secret(&cfg, 2, data, &out, err, err_len) == 0)
		result = strndup(out.data, out.len);
	buf_free(&out);
	json_decref(data[0]);
	json_decref(data[1]);
	agent_config_free(&cfg);
	return result;
}

static bool template_is(const char *tpl, const char *db_json, const char *want)
{
	char err[AGENT_ERR_LEN] = "", *got = render_template(tpl, db_json, err, sizeof(err));
	bool ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "template %s: got [%s] want [%s] err [%s]\n", tpl,
		        got ? got : "(null)", want, err);
	free(got);
	return ok;
}

/* What `sh` reads back as $name after sourcing the env text. The file and the name reach the
 * shell as its arguments ($1, $2), never inside its script. */
static char *shell_read_back(const char *env_text, const char *name)
{
	static const char script[] = ". \"$1\" && eval \"v=\\${$2}\" && printf %s \"$v\"";
	char path[] = "/tmp/test_agent_env.XXXXXX", *buf;
	size_t len = 0;
	int fd, pipefd[2], status = -1;
	ssize_t n;
	pid_t pid;
	FILE *f;

	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	fputs(env_text, f);
	fclose(f);
	buf = calloc(1, 4096);
	if (buf == NULL || pipe(pipefd) != 0) {
		free(buf);
		unlink(path);
		return NULL;
	}
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execl("/bin/sh", "sh", "-c", script, "sh", path, name, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && (n = read(pipefd[0], buf + len, 4095 - len)) > 0)
		len += (size_t)n;
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		free(buf);
		buf = NULL;
	}
	unlink(path);
	return buf;
}

static void test_env_quoting_survives_a_shell(void)
{
	static const char *values[] = {
	    "plain",      "it's",          "''",           "a\nb\nc", "$HOME and ${PATH}",
	    "`id` $(id)", "\\n \\ \"dq\"", "; rm -rf / #", "",        " leading and trailing ",
	    "tab\there",  "ünïcødé",
	};
	struct agent_config cfg = {0};
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL};
	char err[AGENT_ERR_LEN], *back = NULL;
	size_t i;

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		data[0] = json_pack("{s:s,s:s}", "SAFE", "x", "VALUE", values[i]);
		CHECK_EQ_OUT(render_secret(&cfg, 0, data, &out, err, sizeof(err)), 0);
		json_decref(data[0]);
		data[0] = NULL;
		back = shell_read_back(out.data, "VALUE");
		if (back == NULL || strcmp(back, values[i]) != 0)
			fprintf(stderr, "value [%s] read back as [%s] from [%s]\n", values[i],
			        back ? back : "(null)", out.data);
		CHECK_OUT(back != NULL && strcmp(back, values[i]) == 0);
		free(back);
		back = NULL;
	}
out:
	free(back);
	json_decref(data[0]);
	buf_free(&out);
	agent_config_free(&cfg);
}

static void test_env_format_is_exact(void)
{
	struct agent_config cfg = {0};
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	data[0] = json_loads(
	    "{\"USER\": \"app\", \"PASS\": \"it's\", \"PORT\": 5432, \"ON\": true}", 0, NULL);
	CHECK_EQ_OUT(render_secret(&cfg, 0, data, &out, err, sizeof(err)), 0);
	CHECK_OUT(strcmp(out.data, "USER='app'\nPASS='it'\\''s'\nPORT='5432'\nON='true'\n") == 0);
out:
	json_decref(data[0]);
	buf_free(&out);
	agent_config_free(&cfg);
}

static void test_env_rejects_bad_names_without_the_value(void)
{
	static const char *bad[] = {"1ABC", "A-B", "A B", "", "A=B", "a.b", "$X"};
	struct agent_config cfg = {0};
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL};
	char err[AGENT_ERR_LEN];
	size_t i;

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		data[0] = json_pack("{s:s}", bad[i], "SECRETVALUE");
		CHECK_EQ_OUT(render_secret(&cfg, 0, data, &out, err, sizeof(err)),
		             COFFER_ERR_INVALID);
		CHECK_OUT(strstr(err, "not a valid variable name") != NULL);
		CHECK_OUT(strstr(err, "SECRETVALUE") == NULL);
		json_decref(data[0]);
		data[0] = NULL;
	}
	CHECK_OUT(value_is_env_name("_a1") && value_is_env_name("A") && !value_is_env_name("9"));
out:
	json_decref(data[0]);
	buf_free(&out);
	agent_config_free(&cfg);
}

static void test_raw_writes_one_key_and_a_missing_key_is_an_error(void)
{
	struct agent_config cfg = {0};
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	data[1] = json_pack("{s:s,s:s}", "token", "abc\n", "other", "zzz");
	CHECK_EQ_OUT(render_secret(&cfg, 1, data, &out, err, sizeof(err)), 0);
	CHECK_EQ_OUT(out.len, 4);
	CHECK_OUT(memcmp(out.data, "abc\n", 4) == 0);
	json_decref(data[1]);
	data[1] = json_pack("{s:s}", "other", "SECRETVALUE");
	CHECK_EQ_OUT(render_secret(&cfg, 1, data, &out, err, sizeof(err)), COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(err, "no key \"token\"") == 0);
out:
	json_decref(data[1]);
	buf_free(&out);
	agent_config_free(&cfg);
}

static void test_json_format_is_the_data_object(void)
{
	struct agent_config cfg = {0};
	struct buf out = {0};
	json_t *data[3] = {NULL, NULL, NULL}, *back = NULL;
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	data[2] = json_loads("{\"a\": \"x\\\"y\", \"n\": [1, 2]}", 0, NULL);
	CHECK_EQ_OUT(render_secret(&cfg, 2, data, &out, err, sizeof(err)), 0);
	back = json_loads(out.data, 0, NULL);
	CHECK_OUT(back != NULL && json_equal(back, data[2]));
out:
	json_decref(back);
	json_decref(data[2]);
	buf_free(&out);
	agent_config_free(&cfg);
}

static void test_template_substitutes_and_keeps_literal_text(void)
{
	CHECK(template_is("user={{db.user}}\npass={{ db.password }}\n",
	                  "{\"user\": \"app\", \"password\": \"p@ss\"}", "user=app\npass=p@ss\n"));
	CHECK(template_is("no vars at all", "{}", "no vars at all"));
	CHECK(template_is("{{ api.token }}{{ api.token }}", "{}", "t0kt0k"));
	CHECK(template_is("port {{ db.port }} {{ db.on }}", "{\"port\": 5432, \"on\": false}",
	                  "port 5432 false"));
	CHECK(template_is("dotted {{ db.a.b }}", "{\"a.b\": \"key with dot\"}",
	                  "dotted key with dot"));
	CHECK(template_is("", "{}", ""));
}

static void test_template_filters_have_known_answers(void)
{
	const char *db = "{\"p\": \"a'b \\\"c\\\"\\n$x&y=z/\\u00e9\", \"foo\": \"foobar\"}";

	CHECK(template_is("{{ db.foo | base64 }}", db, "Zm9vYmFy"));
	CHECK(template_is("{{ db.p | json }}", db, "\"a'b \\\"c\\\"\\n$x&y=z/\xc3\xa9\""));
	CHECK(template_is("{{ db.p | urlquery }}", db, "a%27b%20%22c%22%0A%24x%26y%3Dz%2F%C3%A9"));
	CHECK(template_is("{{ db.p | shell }}", db, "'a'\\''b \"c\"\n$x&y=z/\xc3\xa9'"));
	CHECK(
	    template_is("{{ db.u | urlquery }}", "{\"u\": \"a-b.c_d~e f+\"}", "a-b.c_d~e%20f%2B"));
	CHECK(template_is("{{ db.foo | base64 | base64 }}", db, "Wm05dlltRnk="));
	CHECK(template_is("{{ db.foo | base64 | json }}", db, "\"Zm9vYmFy\""));
	CHECK(template_is("{{ db.n | json }}", "{\"n\": [1, \"x\"]}", "[1,\"x\"]"));
}

static void test_template_missing_key_is_an_error_that_names_it(void)
{
	char err[AGENT_ERR_LEN] = "", *got = NULL;

	got = render_template("a={{ db.user }} b={{ db.nosuch }}", "{\"user\": \"SECRETVALUE\"}",
	                      err, sizeof(err));
	CHECK_OUT(got == NULL);
	CHECK_OUT(strcmp(err, "no key \"nosuch\" in secret db") == 0);
out:
	free(got);
}

static void test_template_syntax_errors(void)
{
	static const char *bad[] = {"{{ }}",        "{{ db }}",
	                            "{{ db. }}",    "{{ .x }}",
	                            "{{ db.x | }}", "{{ db.x | nope }}",
	                            "{{ db.x y }}", "{{ nosuch.x }}",
	                            "text {{ db.x", "{{ db.x | base64 json }}"};
	struct agent_config cfg = {0};
	struct template *t = NULL;
	char err[AGENT_ERR_LEN];
	size_t i;

	CHECK_EQ_OUT(make_config(&cfg, NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = template_parse(bad[i], strlen(bad[i]), &cfg, &t, err, sizeof(err));

		if (rc == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_EQ_OUT(rc, COFFER_ERR_INVALID);
		CHECK_OUT(t == NULL);
		CHECK_OUT(strncmp(err, "line 1: ", 8) == 0);
	}
out:
	template_free(t);
	agent_config_free(&cfg);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_env_quoting_survives_a_shell);
	RUN(test_env_format_is_exact);
	RUN(test_env_rejects_bad_names_without_the_value);
	RUN(test_raw_writes_one_key_and_a_missing_key_is_an_error);
	RUN(test_json_format_is_the_data_object);
	RUN(test_template_substitutes_and_keeps_literal_text);
	RUN(test_template_filters_have_known_answers);
	RUN(test_template_missing_key_is_an_error_that_names_it);
	RUN(test_template_syntax_errors);
	return test_summary();
}
