/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_agent_config.c: coffer-agent's config parser (agent/config.c): the example config parses
 * with the documented defaults, and every bad key or value is an error that names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "secmem.h"
#include "test.h"

static char tpl_path[64];

/* The example config with three %s: the template path, extra secrets, extra top-level keys. */
#define BASE_FMT                                                                                   \
	"{\"server\": {\"address\": \"http://127.0.0.1:8200\", \"ca_cert\": null, \"timeout\": "   \
	"\"10s\"},"                                                                                \
	" \"auth\": {\"method\": \"token_file\", \"path\": \"/var/run/coffer/token\"},"            \
	" \"destination\": {\"dir\": \"/run/secrets\", \"uid\": 1000, \"gid\": 1000, \"mode\": "   \
	"\"0400\","                                                                                \
	"   \"require_tmpfs\": true, \"ready_file\": \".ready\"},"                                 \
	" \"secrets\": ["                                                                          \
	"  {\"name\": \"db\", \"path\": \"secret/data/app/db\", \"file\": \"db.env\", "            \
	"\"format\": \"env\"},"                                                                    \
	"  {\"name\": \"api\", \"path\": \"secret/data/app/api\", \"file\": \"api-key\", "         \
	"\"format\": \"raw\","                                                                     \
	"   \"key\": \"token\", \"mode\": \"0440\"},"                                              \
	"  {\"name\": \"cfg\", \"file\": \"app.conf\", \"template\": \"%s\"}%s],"                  \
	" \"mode\": \"sidecar\", \"watch\": true, \"poll_interval\": \"5m\","                      \
	" \"notify\": {\"signal\": \"SIGHUP\", \"pid_file\": \"/run/app/app.pid\"},"               \
	" \"on_exit\": {\"remove_files\": false}%s}"

/* Parse the base config with extra secrets and extra top-level keys; the error goes to err. */
static int parse_with(const char *extra_secret, const char *extra_top, char *err, size_t err_len)
{
	struct agent_config cfg;
	char text[4096];
	int rc;

	snprintf(text, sizeof(text), BASE_FMT, tpl_path, extra_secret, extra_top);
	err[0] = '\0';
	rc = agent_config_parse(text, &cfg, err, err_len);
	agent_config_free(&cfg);
	return rc;
}

/* Parse text with one replacement of from by to in the base config. */
static int parse_replaced(const char *from, const char *to, char *err, size_t err_len)
{
	char text[4096], out[4096], *p;
	struct agent_config cfg;
	int rc;

	snprintf(text, sizeof(text), BASE_FMT, tpl_path, "", "");
	p = strstr(text, from);
	if (p == NULL)
		return 999;
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	err[0] = '\0';
	rc = agent_config_parse(out, &cfg, err, err_len);
	agent_config_free(&cfg);
	return rc;
}

static void test_example_config_parses_with_its_values(void)
{
	struct agent_config cfg = {0};
	char text[4096], err[AGENT_ERR_LEN] = "";

	snprintf(text, sizeof(text), BASE_FMT, tpl_path, "", "");
	CHECK_EQ_OUT(agent_config_parse(text, &cfg, err, sizeof(err)), 0);
	CHECK_OUT(strcmp(cfg.address, "http://127.0.0.1:8200") == 0);
	CHECK_OUT(cfg.ca_cert == NULL);
	CHECK_EQ_OUT(cfg.timeout_s, 10);
	CHECK_EQ_OUT(cfg.auth_method, AGENT_AUTH_TOKEN_FILE);
	CHECK_EQ_OUT(cfg.uid, 1000);
	CHECK_EQ_OUT(cfg.mode, 0400);
	CHECK_EQ_OUT(cfg.n_secrets, 3);
	CHECK_EQ_OUT(cfg.secrets[0].format, AGENT_FORMAT_ENV);
	CHECK_EQ_OUT(cfg.secrets[0].mode, 0400);
	CHECK_EQ_OUT(cfg.secrets[1].format, AGENT_FORMAT_RAW);
	CHECK_EQ_OUT(cfg.secrets[1].mode, 0440);
	CHECK_OUT(strcmp(cfg.secrets[1].key, "token") == 0);
	CHECK_EQ_OUT(cfg.secrets[2].format, AGENT_FORMAT_TEMPLATE);
	CHECK_OUT(cfg.secrets[2].tpl != NULL);
	CHECK_EQ_OUT(cfg.mode_run, AGENT_MODE_SIDECAR);
	CHECK_EQ_OUT(cfg.poll_interval_s, 300);
	CHECK_EQ_OUT(cfg.notify_signal, 1);
	CHECK_OUT(strcmp(cfg.ready_file, ".ready") == 0);
	CHECK_OUT(!cfg.require_landlock); /* off unless asked for */
	agent_config_free(&cfg);
	snprintf(text, sizeof(text), BASE_FMT, tpl_path, "", ", \"require_landlock\": true");
	CHECK_EQ_OUT(agent_config_parse(text, &cfg, err, sizeof(err)), 0);
	CHECK_OUT(cfg.require_landlock);
out:
	agent_config_free(&cfg);
}

static void test_bad_format_names_the_secret_index(void)
{
	char err[AGENT_ERR_LEN];

	CHECK_EQ(parse_replaced("\"format\": \"raw\"", "\"format\": \"yaml\"", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[1].format: must be raw, json, env or template") == 0);
}

static void test_unknown_keys_are_named_at_every_level(void)
{
	char err[AGENT_ERR_LEN];

	CHECK_EQ(parse_with("", ", \"colour\": 1", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "colour: unknown key") == 0);
	CHECK_EQ(parse_replaced("\"timeout\"", "\"tmeout\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "server.tmeout: unknown key") == 0);
	CHECK_EQ(parse_replaced("\"uid\"", "\"user\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "destination.user: unknown key") == 0);
	CHECK_EQ(parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\", \"fiel\": \"x\"}", "",
	                    err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].fiel: unknown key") == 0);
	CHECK_EQ(parse_replaced("\"remove_files\"", "\"remove\"", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "on_exit.remove: unknown key") == 0);
}

static void test_bad_values_are_named(void)
{
	char err[AGENT_ERR_LEN];

	CHECK_EQ(parse_replaced("\"10s\"", "\"ten\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strncmp(err, "server.timeout: ", 16) == 0);
	CHECK_EQ(parse_replaced("\"0440\"", "\"0444\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[1].mode: must not grant access to others") == 0);
	CHECK_EQ(parse_replaced("\"0400\"", "\"rw\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strncmp(err, "destination.mode: ", 18) == 0);
	CHECK_EQ(parse_replaced("\"token_file\"", "\"kerberos\"", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "auth.method: must be token_file, approle, kubernetes or jwt") == 0);
	CHECK_EQ(parse_replaced("\"sidecar\"", "\"daemon\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "mode: must be init or sidecar") == 0);
	CHECK_EQ(parse_replaced("\"SIGHUP\"", "\"SIGFOO\"", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK(strncmp(err, "notify.signal: ", 15) == 0);
	CHECK_EQ(parse_replaced("\"uid\": 1000", "\"uid\": -1", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strncmp(err, "destination.uid: ", 17) == 0);
	CHECK_EQ(parse_replaced("\"watch\": true", "\"watch\": \"yes\"", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "watch: must be true or false") == 0);
	CHECK_EQ(parse_replaced("\"watch\": true", "\"watch\": true, \"require_landlock\": 1", err,
	                        sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "require_landlock: must be true or false") == 0);
	CHECK_EQ(parse_replaced("\"http://127", "\"ftp://127", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strncmp(err, "server.address: ", 16) == 0);
}

static void test_secret_rules_are_checked(void)
{
	char err[AGENT_ERR_LEN];

	/* raw needs a key */
	CHECK_EQ(parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\", \"file\": \"x\", "
	                    "\"format\": \"raw\"}",
	                    "", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].key: required with format raw") == 0);
	/* a file name may not leave the destination */
	CHECK_EQ(parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\", \"file\": \"../x\"}",
	                    "", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].file: must be a file name without '/'") == 0);
	/* duplicate names and files */
	CHECK_EQ(
	    parse_with(", {\"name\": \"db\", \"path\": \"secret/data/x\"}", "", err, sizeof(err)),
	    COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].name: duplicate of secrets[0]") == 0);
	CHECK_EQ(
	    parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\", \"file\": \"db.env\"}", "",
	               err, sizeof(err)),
	    COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].file: duplicate of secrets[0]") == 0);
	/* no path and no template */
	CHECK_EQ(parse_with(", {\"name\": \"x\", \"file\": \"x\"}", "", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].path: required") == 0);
	/* a secret without a file is fine (only for templates) */
	CHECK_EQ(
	    parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\"}", "", err, sizeof(err)),
	    0);
	/* the ready file is not a secret's file */
	CHECK_EQ(
	    parse_with(", {\"name\": \"x\", \"path\": \"secret/data/x\", \"file\": \".ready\"}", "",
	               err, sizeof(err)),
	    COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "secrets[3].file: is the ready file") == 0);
}

static void test_approle_auth_parses_and_checks_keys(void)
{
	char err[AGENT_ERR_LEN];
	const char *approle = "{\"method\": \"approle\", \"role_id_file\": \"/r\", "
	                      "\"secret_id_file\": \"/s\", \"remove_secret_id_file\": true}";

	CHECK_EQ(parse_replaced("{\"method\": \"token_file\", \"path\": \"/var/run/coffer/token\"}",
	                        approle, err, sizeof(err)),
	         0);
	CHECK_EQ(parse_replaced("{\"method\": \"token_file\", \"path\": \"/var/run/coffer/token\"}",
	                        "{\"method\": \"approle\", \"role_id_file\": \"/r\"}", err,
	                        sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "auth.secret_id_file: required") == 0);
	CHECK_EQ(parse_replaced("{\"method\": \"token_file\", \"path\": \"/var/run/coffer/token\"}",
	                        "{\"method\": \"approle\", \"path\": \"/r\"}", err, sizeof(err)),
	         COFFER_ERR_CONFIG);
	CHECK(strcmp(err, "auth.path: unknown key") == 0);
}

/* Parse the base config with its auth object replaced by auth; the parsed config in *cfg. */
static int parse_auth(const char *auth, struct agent_config *cfg, char *err, size_t err_len)
{
	const char *from = "{\"method\": \"token_file\", \"path\": \"/var/run/coffer/token\"}";
	char text[4096], out[4096], *p;

	snprintf(text, sizeof(text), BASE_FMT, tpl_path, "", "");
	p = strstr(text, from);
	if (p == NULL)
		return 999;
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - text), text, auth, p + strlen(from));
	err[0] = '\0';
	return agent_config_parse(out, cfg, err, err_len);
}

static void test_kubernetes_auth_defaults_mount_and_token_file(void)
{
	struct agent_config cfg = {0};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(
	    parse_auth("{\"method\": \"kubernetes\", \"role\": \"app\"}", &cfg, err, sizeof(err)),
	    0);
	CHECK_EQ_OUT(cfg.auth_method, AGENT_AUTH_KUBERNETES);
	CHECK_OUT(strcmp(cfg.auth_mount, "kubernetes") == 0);
	CHECK_OUT(strcmp(cfg.auth_role, "app") == 0);
	CHECK_OUT(strcmp(cfg.jwt_file, "/var/run/secrets/tokens/coffer") == 0);
	CHECK_OUT(cfg.token_path == NULL);
	agent_config_free(&cfg);
	CHECK_EQ_OUT(parse_auth("{\"method\": \"kubernetes\", \"mount\": \"k8s/east\", \"role\": "
	                        "\"app\", \"token_file\": \"/t/jwt\"}",
	                        &cfg, err, sizeof(err)),
	             0);
	CHECK_OUT(strcmp(cfg.auth_mount, "k8s/east") == 0);
	CHECK_OUT(strcmp(cfg.jwt_file, "/t/jwt") == 0);
out:
	agent_config_free(&cfg);
}

static void test_kubernetes_auth_requires_a_role(void)
{
	struct agent_config cfg = {0};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(parse_auth("{\"method\": \"kubernetes\"}", &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.role: required") == 0);
	CHECK_EQ_OUT(
	    parse_auth("{\"method\": \"kubernetes\", \"role\": \"\"}", &cfg, err, sizeof(err)),
	    COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.role: must be a non-empty string") == 0);
out:
	agent_config_free(&cfg);
}

static void test_jwt_auth_role_is_optional_and_token_file_required(void)
{
	struct agent_config cfg = {0};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(parse_auth("{\"method\": \"jwt\", \"token_file\": \"/run/ci/jwt\"}", &cfg, err,
	                        sizeof(err)),
	             0);
	CHECK_EQ_OUT(cfg.auth_method, AGENT_AUTH_JWT);
	CHECK_OUT(strcmp(cfg.auth_mount, "jwt") == 0);
	CHECK_OUT(cfg.auth_role == NULL); /* the server's default_role */
	CHECK_OUT(strcmp(cfg.jwt_file, "/run/ci/jwt") == 0);
	agent_config_free(&cfg);
	CHECK_EQ_OUT(parse_auth("{\"method\": \"jwt\", \"role\": \"ci\"}", &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.token_file: required") == 0);
out:
	agent_config_free(&cfg);
}

static void test_jwt_auth_keys_and_mount_are_checked(void)
{
	struct agent_config cfg = {0};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(parse_auth("{\"method\": \"kubernetes\", \"role\": \"app\", \"path\": \"/t\"}",
	                        &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.path: unknown key") == 0);
	CHECK_EQ_OUT(parse_auth("{\"method\": \"jwt\", \"token_file\": \"/t\", \"role_id_file\": "
	                        "\"/r\"}",
	                        &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.role_id_file: unknown key") == 0);
	CHECK_EQ_OUT(parse_auth("{\"method\": \"kubernetes\", \"role\": \"app\", \"mount\": "
	                        "\"../sys\"}",
	                        &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strcmp(err, "auth.mount: must be a mount path") == 0);
out:
	agent_config_free(&cfg);
}

static void test_template_errors_stop_the_config(void)
{
	char err[AGENT_ERR_LEN];
	FILE *f;

	f = fopen(tpl_path, "w");
	CHECK_OUT(f != NULL);
	fputs("user={{ db.user }}\npass={{ nosuch.password }}\n", f);
	fclose(f);
	CHECK_EQ_OUT(parse_with("", "", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK_OUT(strstr(err, "secrets[2].template: ") == err);
	CHECK_OUT(strstr(err, "line 2: no secret named \"nosuch\"") != NULL);
	f = fopen(tpl_path, "w");
	CHECK_OUT(f != NULL);
	fputs("{{ db.user | rot13 }}", f);
	fclose(f);
	CHECK_EQ_OUT(parse_with("", "", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK_OUT(strstr(err, "unknown filter \"rot13\"") != NULL);
	f = fopen(tpl_path, "w");
	CHECK_OUT(f != NULL);
	fputs("{{ db.user ", f);
	fclose(f);
	CHECK_EQ_OUT(parse_with("", "", err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK_OUT(strstr(err, "{{ without }}") != NULL);
	/* the template itself is a secret: a reference to it from another template is refused */
	f = fopen(tpl_path, "w");
	CHECK_OUT(f != NULL);
	fputs("{{ cfg.x }}", f);
	fclose(f);
	CHECK_EQ_OUT(parse_with("", "", err, sizeof(err)), COFFER_ERR_CONFIG);
out:
	/* The other tests parse the base config: put its template back, whatever failed above. */
	f = fopen(tpl_path, "w");
	CHECK(f != NULL);
	fputs("ok {{ db.user }}", f);
	fclose(f);
}

static void test_malformed_json_is_an_error_with_a_position(void)
{
	struct agent_config cfg = {0};
	char err[AGENT_ERR_LEN];

	CHECK_EQ_OUT(agent_config_parse("{\"server\": ", &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
	CHECK_OUT(strncmp(err, "line 1", 6) == 0);
	agent_config_free(&cfg);
	CHECK_EQ_OUT(agent_config_parse("{\"a\":1, \"a\":2}", &cfg, err, sizeof(err)),
	             COFFER_ERR_CONFIG);
out:
	agent_config_free(&cfg);
}

static void test_the_deploy_example_is_valid_but_for_its_template_file(void)
{
	struct agent_config cfg = {0};
	char path[512], err[AGENT_ERR_LEN];
	const char *slash = strrchr(__FILE__, '/');

	/* tests/unit/test_agent_config.c -> deploy/examples/agent.json */
	snprintf(path, sizeof(path), "%.*s/../../deploy/examples/agent.json",
	         (int)(slash - __FILE__), __FILE__);
	CHECK_EQ_OUT(agent_config_load(path, &cfg, err, sizeof(err)), COFFER_ERR_CONFIG);
	CHECK_OUT(strstr(err, ": secrets[2].template: /etc/coffer/app.conf.tpl: ") != NULL);
out:
	agent_config_free(&cfg);
}

int main(void)
{
	FILE *f;
	int fd;

	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	snprintf(tpl_path, sizeof(tpl_path), "/tmp/test_agent_config.XXXXXX");
	fd = mkstemp(tpl_path);
	if (fd < 0)
		return 1;
	close(fd);
	f = fopen(tpl_path, "w");
	if (f == NULL)
		return 1;
	fputs("ok {{ db.user }}", f);
	fclose(f);
	RUN(test_example_config_parses_with_its_values);
	RUN(test_bad_format_names_the_secret_index);
	RUN(test_unknown_keys_are_named_at_every_level);
	RUN(test_bad_values_are_named);
	RUN(test_secret_rules_are_checked);
	RUN(test_approle_auth_parses_and_checks_keys);
	RUN(test_kubernetes_auth_defaults_mount_and_token_file);
	RUN(test_kubernetes_auth_requires_a_role);
	RUN(test_jwt_auth_role_is_optional_and_token_file_required);
	RUN(test_jwt_auth_keys_and_mount_are_checked);
	RUN(test_template_errors_stop_the_config);
	RUN(test_malformed_json_is_an_error_with_a_position);
	RUN(test_the_deploy_example_is_valid_but_for_its_template_file);
	unlink(tpl_path);
	return test_summary();
}
