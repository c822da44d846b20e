/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: coffer-agent's JSON config (DESIGN.md §7). Every key is known: an unknown key or a
 * bad value is an error that names it ("secrets[1].format: ..."). Template files are read and
 * parsed here, so that a broken template stops the agent before it logs in.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "duration.h"
#include "fileio.h"
#include "secmem.h"

#define CONFIG_TEMPLATE_MAX (1u << 20)

static int config_fail(char *err, size_t err_len, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int config_fail(char *err, size_t err_len, const char *where, const char *fmt, ...)
{
	char msg[AGENT_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, err_len, "%s: %s", where, msg);
	return COFFER_ERR_CONFIG;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int config_check_keys(const json_t *obj, const char *where, const char *const *allowed,
                             char *err, size_t err_len)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			if (where[0] == '\0')
				return config_fail(err, err_len, key, "unknown key");
			snprintf(err, err_len, "%s.%s: unknown key", where, key);
			return COFFER_ERR_CONFIG;
		}
	}
	return 0;
}

static void config_where(char *out, size_t out_len, const char *where, const char *key)
{
	if (where[0] == '\0')
		snprintf(out, out_len, "%s", key);
	else
		snprintf(out, out_len, "%s.%s", where, key);
}

/* An optional string: absent/null leaves *out NULL. */
static int config_string(const json_t *obj, const char *where, const char *key, bool is_required,
                         char **out, char *err, size_t err_len)
{
	json_t *v = json_object_get(obj, key);
	char name[256];

	config_where(name, sizeof(name), where, key);
	if (v == NULL || json_is_null(v)) {
		if (is_required)
			return config_fail(err, err_len, name, "required");
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return config_fail(err, err_len, name, "must be a non-empty string");
	*out = strdup(json_string_value(v));
	return *out == NULL ? COFFER_ERR_NOMEM : 0;
}

static int config_bool(const json_t *obj, const char *where, const char *key, bool *out, char *err,
                       size_t err_len)
{
	json_t *v = json_object_get(obj, key);
	char name[256];

	if (v == NULL || json_is_null(v))
		return 0;
	config_where(name, sizeof(name), where, key);
	if (!json_is_boolean(v))
		return config_fail(err, err_len, name, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int config_duration(const json_t *obj, const char *where, const char *key, int64_t *out,
                           char *err, size_t err_len)
{
	json_t *v = json_object_get(obj, key);
	char name[256];
	int64_t s = -1;

	if (v == NULL || json_is_null(v))
		return 0;
	config_where(name, sizeof(name), where, key);
	if (json_is_integer(v))
		s = json_integer_value(v);
	else if (!json_is_string(v) || duration_parse(json_string_value(v), &s) != 0)
		s = -1;
	if (s <= 0)
		return config_fail(err, err_len, name,
		                   "must be a positive duration such as \"10s\"");
	*out = s;
	return 0;
}

/* A mode as an octal string ("0400"); never any access for others. */
static int config_mode(const json_t *obj, const char *where, const char *key, mode_t *out,
                       char *err, size_t err_len)
{
	json_t *v = json_object_get(obj, key);
	char name[256], *end;
	unsigned long m;
	const char *s;

	if (v == NULL || json_is_null(v))
		return 0;
	config_where(name, sizeof(name), where, key);
	if (!json_is_string(v))
		return config_fail(err, err_len, name, "must be an octal string such as \"0400\"");
	s = json_string_value(v);
	errno = 0;
	m = strtoul(s, &end, 8);
	if (s[0] < '0' || s[0] > '7' || *end != '\0' || errno != 0 || m > 0777)
		return config_fail(err, err_len, name, "must be an octal string such as \"0400\"");
	if (m & 0007)
		return config_fail(err, err_len, name, "must not grant access to others");
	if (!(m & 0400))
		return config_fail(err, err_len, name, "must let the owner read");
	*out = (mode_t)m;
	return 0;
}

static int config_id(const json_t *obj, const char *where, const char *key, unsigned *out,
                     char *err, size_t err_len)
{
	json_t *v = json_object_get(obj, key);
	char name[256];

	if (v == NULL || json_is_null(v))
		return 0;
	config_where(name, sizeof(name), where, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) >= 0xffffffffLL)
		return config_fail(err, err_len, name, "must be a non-negative integer");
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int config_object(const json_t *root, const char *key, bool is_required, json_t **out,
                         char *err, size_t err_len)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return is_required ? config_fail(err, err_len, key, "required") : 0;
	if (!json_is_object(v))
		return config_fail(err, err_len, key, "must be an object");
	*out = v;
	return 0;
}

/* A file name in the destination: one path component, not a dot file of the agent's own. */
static bool config_is_file_name(const char *s)
{
	return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0 && strncmp(s, ".coffer-tmp", 11) != 0 && strlen(s) <= 200;
}

static int config_server(const json_t *root, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const keys[] = {"address", "ca_cert", "timeout", NULL};
	json_t *o;
	int rc;

	if ((rc = config_object(root, "server", true, &o, err, err_len)) != 0)
		return rc;
	if ((rc = config_check_keys(o, "server", keys, err, err_len)) != 0 ||
	    (rc = config_string(o, "server", "address", true, &cfg->address, err, err_len)) != 0 ||
	    (rc = config_string(o, "server", "ca_cert", false, &cfg->ca_cert, err, err_len)) != 0 ||
	    (rc = config_duration(o, "server", "timeout", &cfg->timeout_s, err, err_len)) != 0)
		return rc;
	if (strncmp(cfg->address, "http://", 7) != 0 && strncmp(cfg->address, "https://", 8) != 0)
		return config_fail(err, err_len, "server.address",
		                   "must start with http:// or https://");
	return 0;
}

/* auth.mount: a mount path, dflt when absent. */
static int config_auth_mount(const json_t *o, const char *dflt, struct agent_config *cfg, char *err,
                             size_t err_len)
{
	int rc;

	if ((rc = config_string(o, "auth", "mount", false, &cfg->auth_mount, err, err_len)) != 0)
		return rc;
	if (cfg->auth_mount == NULL && (cfg->auth_mount = strdup(dflt)) == NULL)
		return COFFER_ERR_NOMEM;
	if (strchr(cfg->auth_mount, '?') != NULL || strstr(cfg->auth_mount, ".."))
		return config_fail(err, err_len, "auth.mount", "must be a mount path");
	return 0;
}

static int config_auth_approle(const json_t *o, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const keys[] = {
	    "method", "mount", "role_id_file", "secret_id_file", "remove_secret_id_file", NULL};
	int rc;

	if ((rc = config_check_keys(o, "auth", keys, err, err_len)) != 0 ||
	    (rc = config_auth_mount(o, "approle", cfg, err, err_len)) != 0 ||
	    (rc = config_string(o, "auth", "role_id_file", true, &cfg->role_id_file, err,
	                        err_len)) != 0 ||
	    (rc = config_string(o, "auth", "secret_id_file", true, &cfg->secret_id_file, err,
	                        err_len)) != 0)
		return rc;
	return config_bool(o, "auth", "remove_secret_id_file", &cfg->remove_secret_id_file, err,
	                   err_len);
}

/* kubernetes: role required, token_file defaults to the projected token's usual path; jwt: role
 * optional (the mount's default_role), token_file required. */
static int config_auth_jwt(const json_t *o, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const keys[] = {"method", "mount", "role", "token_file", NULL};
	bool is_k8s = cfg->auth_method == AGENT_AUTH_KUBERNETES;
	int rc;

	if ((rc = config_check_keys(o, "auth", keys, err, err_len)) != 0 ||
	    (rc = config_auth_mount(o, is_k8s ? "kubernetes" : "jwt", cfg, err, err_len)) != 0 ||
	    (rc = config_string(o, "auth", "role", is_k8s, &cfg->auth_role, err, err_len)) != 0 ||
	    (rc = config_string(o, "auth", "token_file", !is_k8s, &cfg->jwt_file, err, err_len)) !=
	        0)
		return rc;
	if (cfg->jwt_file == NULL && (cfg->jwt_file = strdup(AGENT_K8S_TOKEN_FILE)) == NULL)
		return COFFER_ERR_NOMEM;
	return 0;
}

static int config_auth(const json_t *root, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const token_keys[] = {"method", "path", NULL};
	char *method = NULL;
	json_t *o;
	int rc;

	if ((rc = config_object(root, "auth", true, &o, err, err_len)) != 0 ||
	    (rc = config_string(o, "auth", "method", true, &method, err, err_len)) != 0)
		goto out;
	if (strcmp(method, "token_file") == 0) {
		cfg->auth_method = AGENT_AUTH_TOKEN_FILE;
		if ((rc = config_check_keys(o, "auth", token_keys, err, err_len)) == 0)
			rc = config_string(o, "auth", "path", true, &cfg->token_path, err, err_len);
	} else if (strcmp(method, "approle") == 0) {
		cfg->auth_method = AGENT_AUTH_APPROLE;
		rc = config_auth_approle(o, cfg, err, err_len);
	} else if (strcmp(method, "kubernetes") == 0 || strcmp(method, "jwt") == 0) {
		cfg->auth_method = method[0] == 'k' ? AGENT_AUTH_KUBERNETES : AGENT_AUTH_JWT;
		rc = config_auth_jwt(o, cfg, err, err_len);
	} else {
		rc = config_fail(err, err_len, "auth.method",
		                 "must be token_file, approle, kubernetes or jwt");
	}
out:
	free(method);
	return rc;
}

static int config_destination(const json_t *root, struct agent_config *cfg, char *err,
                              size_t err_len)
{
	static const char *const keys[] = {"dir",           "uid",        "gid", "mode",
	                                   "require_tmpfs", "ready_file", NULL};
	unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
	json_t *o, *ready;
	int rc;

	if ((rc = config_object(root, "destination", true, &o, err, err_len)) != 0 ||
	    (rc = config_check_keys(o, "destination", keys, err, err_len)) != 0 ||
	    (rc = config_string(o, "destination", "dir", true, &cfg->dest_dir, err, err_len)) !=
	        0 ||
	    (rc = config_id(o, "destination", "uid", &uid, err, err_len)) != 0 ||
	    (rc = config_id(o, "destination", "gid", &gid, err, err_len)) != 0 ||
	    (rc = config_mode(o, "destination", "mode", &cfg->mode, err, err_len)) != 0 ||
	    (rc = config_bool(o, "destination", "require_tmpfs", &cfg->require_tmpfs, err,
	                      err_len)) != 0)
		return rc;
	cfg->uid = (uid_t)uid;
	cfg->gid = (gid_t)gid;
	ready = json_object_get(o, "ready_file");
	if (ready == NULL) {
		cfg->ready_file = strdup(".ready");
		return cfg->ready_file == NULL ? COFFER_ERR_NOMEM : 0;
	}
	if (json_is_null(ready) || (json_is_string(ready) && json_string_length(ready) == 0))
		return 0;
	if ((rc = config_string(o, "destination", "ready_file", false, &cfg->ready_file, err,
	                        err_len)) != 0)
		return rc;
	if (!config_is_file_name(cfg->ready_file))
		return config_fail(err, err_len, "destination.ready_file",
		                   "must be a file name without '/'");
	return 0;
}

static int config_format(const json_t *o, const char *where, struct agent_secret *s, char *err,
                         size_t err_len)
{
	static const char *const names[] = {"raw", "json", "env", "template"};
	char *format = NULL, name[256];
	int rc, i;

	if ((rc = config_string(o, where, "format", false, &format, err, err_len)) != 0)
		return rc;
	s->format = s->template_path != NULL ? AGENT_FORMAT_TEMPLATE : AGENT_FORMAT_JSON;
	if (format != NULL) {
		for (i = 0; i < 4 && strcmp(format, names[i]) != 0; i++)
			;
		free(format);
		config_where(name, sizeof(name), where, "format");
		if (i == 4)
			return config_fail(err, err_len, name,
			                   "must be raw, json, env or template");
		s->format = (enum agent_format)i;
	}
	return 0;
}

/* The checks between the keys of one secret. */
static int config_secret_check(const struct agent_secret *s, const char *where, char *err,
                               size_t err_len)
{
	char name[256];

	config_where(name, sizeof(name), where, "name");
	if (!value_is_env_name(s->name))
		return config_fail(err, err_len, name, "must match [A-Za-z_][A-Za-z0-9_]*");
	if (s->format == AGENT_FORMAT_TEMPLATE) {
		config_where(name, sizeof(name), where, "template");
		if (s->template_path == NULL)
			return config_fail(err, err_len, name, "required with format template");
		if (s->path != NULL)
			return config_fail(
			    err, err_len, where,
			    "a template secret takes no path (it reads other secrets)");
		if (s->file == NULL)
			return config_fail(err, err_len, where, "a template needs a file");
	} else {
		config_where(name, sizeof(name), where, "template");
		if (s->template_path != NULL)
			return config_fail(err, err_len, name, "only with format template");
		config_where(name, sizeof(name), where, "path");
		if (s->path == NULL)
			return config_fail(err, err_len, name, "required");
		if (s->path[0] == '/' || strchr(s->path, '?') != NULL || strstr(s->path, ".."))
			return config_fail(err, err_len, name,
			                   "must be an API path such as "
			                   "\"secret/data/app/db\"");
	}
	config_where(name, sizeof(name), where, "key");
	if (s->format == AGENT_FORMAT_RAW && s->key == NULL)
		return config_fail(err, err_len, name, "required with format raw");
	if (s->format != AGENT_FORMAT_RAW && s->key != NULL)
		return config_fail(err, err_len, name, "only with format raw");
	config_where(name, sizeof(name), where, "file");
	if (s->file != NULL && !config_is_file_name(s->file))
		return config_fail(err, err_len, name, "must be a file name without '/'");
	return 0;
}

static int config_secret(const json_t *o, const char *where, struct agent_config *cfg,
                         struct agent_secret *s, char *err, size_t err_len)
{
	static const char *const keys[] = {"name", "path", "file",     "format",
	                                   "key",  "mode", "template", NULL};
	int rc;

	s->mode = cfg->mode;
	if (!json_is_object(o))
		return config_fail(err, err_len, where, "must be an object");
	if ((rc = config_check_keys(o, where, keys, err, err_len)) != 0 ||
	    (rc = config_string(o, where, "name", true, &s->name, err, err_len)) != 0 ||
	    (rc = config_string(o, where, "path", false, &s->path, err, err_len)) != 0 ||
	    (rc = config_string(o, where, "file", false, &s->file, err, err_len)) != 0 ||
	    (rc = config_string(o, where, "key", false, &s->key, err, err_len)) != 0 ||
	    (rc = config_string(o, where, "template", false, &s->template_path, err, err_len)) !=
	        0 ||
	    (rc = config_mode(o, where, "mode", &s->mode, err, err_len)) != 0 ||
	    (rc = config_format(o, where, s, err, err_len)) != 0)
		return rc;
	return config_secret_check(s, where, err, err_len);
}

/* Names and files are unique; no file is the ready file. */
static int config_secrets_unique(const struct agent_config *cfg, char *err, size_t err_len)
{
	char where[64];
	size_t i, j;

	for (i = 0; i < cfg->n_secrets; i++) {
		const struct agent_secret *s = &cfg->secrets[i];

		for (j = 0; j < i; j++) {
			snprintf(where, sizeof(where), "secrets[%zu].name", i);
			if (strcmp(s->name, cfg->secrets[j].name) == 0)
				return config_fail(err, err_len, where, "duplicate of secrets[%zu]",
				                   j);
			snprintf(where, sizeof(where), "secrets[%zu].file", i);
			if (s->file != NULL && cfg->secrets[j].file != NULL &&
			    strcmp(s->file, cfg->secrets[j].file) == 0)
				return config_fail(err, err_len, where, "duplicate of secrets[%zu]",
				                   j);
		}
		snprintf(where, sizeof(where), "secrets[%zu].file", i);
		if (s->file != NULL && cfg->ready_file != NULL &&
		    strcmp(s->file, cfg->ready_file) == 0)
			return config_fail(err, err_len, where, "is the ready file");
	}
	return 0;
}

static int config_secrets(const json_t *root, struct agent_config *cfg, char *err, size_t err_len)
{
	json_t *arr = json_object_get(root, "secrets");
	char where[64];
	size_t i;
	int rc;

	if (arr == NULL || json_is_null(arr))
		return config_fail(err, err_len, "secrets", "required");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 1000)
		return config_fail(err, err_len, "secrets", "must be a list of 1..1000 secrets");
	cfg->secrets = calloc(json_array_size(arr), sizeof(*cfg->secrets));
	if (cfg->secrets == NULL)
		return COFFER_ERR_NOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		snprintf(where, sizeof(where), "secrets[%zu]", i);
		cfg->n_secrets = i + 1;
		rc = config_secret(json_array_get(arr, i), where, cfg, &cfg->secrets[i], err,
		                   err_len);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < cfg->n_secrets; i++)
		if (cfg->secrets[i].file != NULL)
			return config_secrets_unique(cfg, err, err_len);
	return config_fail(err, err_len, "secrets", "no secret has a file");
}

static int config_signal(const char *name, int *out)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},  {"TERM", SIGTERM},
	            {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}};
	size_t i;

	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (strcmp(name, sigs[i].name) == 0) {
			*out = sigs[i].sig;
			return 0;
		}
	}
	return COFFER_ERR_INVALID;
}

static int config_rest(const json_t *root, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const notify_keys[] = {"signal", "pid_file", NULL};
	static const char *const exit_keys[] = {"remove_files", NULL};
	char *mode = NULL, *sig = NULL;
	json_t *o;
	int rc;

	if ((rc = config_string(root, "", "mode", false, &mode, err, err_len)) != 0)
		return rc;
	if (mode != NULL) {
		if (strcmp(mode, "sidecar") == 0)
			cfg->mode_run = AGENT_MODE_SIDECAR;
		else if (strcmp(mode, "init") != 0)
			rc = config_fail(err, err_len, "mode", "must be init or sidecar");
		free(mode);
		if (rc != 0)
			return rc;
	}
	if ((rc = config_bool(root, "", "watch", &cfg->watch, err, err_len)) != 0 ||
	    (rc = config_bool(root, "", "require_landlock", &cfg->require_landlock, err,
	                      err_len)) != 0 ||
	    (rc = config_duration(root, "", "poll_interval", &cfg->poll_interval_s, err,
	                          err_len)) != 0 ||
	    (rc = config_object(root, "notify", false, &o, err, err_len)) != 0)
		return rc;
	if (o != NULL) {
		if ((rc = config_check_keys(o, "notify", notify_keys, err, err_len)) != 0 ||
		    (rc = config_string(o, "notify", "signal", false, &sig, err, err_len)) != 0 ||
		    (rc = config_string(o, "notify", "pid_file", true, &cfg->notify_pid_file, err,
		                        err_len)) != 0)
			goto out;
		cfg->notify_signal = SIGHUP;
		if (sig != NULL && config_signal(sig, &cfg->notify_signal) != 0) {
			rc = config_fail(err, err_len, "notify.signal",
			                 "must be a signal name such as SIGHUP");
			goto out;
		}
	}
	if ((rc = config_object(root, "on_exit", false, &o, err, err_len)) != 0)
		goto out;
	if (o != NULL && ((rc = config_check_keys(o, "on_exit", exit_keys, err, err_len)) != 0 ||
	                  (rc = config_bool(o, "on_exit", "remove_files",
	                                    &cfg->remove_files_on_exit, err, err_len)) != 0))
		goto out;
out:
	free(sig);
	return rc;
}

/* Read a config or template file (no secret, but read the one way: fileio.h); any type, so that
 * --config /dev/stdin works. The text is NUL-terminated; secmem_free() it. */
static int config_read_file(const char *path, uint8_t **text, size_t *len, char *err,
                            size_t err_len)
{
	return coffer_read_secret_file(path, 0, CONFIG_TEMPLATE_MAX,
	                               COFFER_SECRET_FILE_ANY_TYPE | COFFER_SECRET_FILE_ANY_MODE,
	                               text, len, err, err_len);
}

/* Read and parse each template file. */
static int config_templates(struct agent_config *cfg, char *err, size_t err_len)
{
	char where[64], msg[AGENT_ERR_LEN];
	uint8_t *text;
	size_t i, len;
	int rc;

	for (i = 0; i < cfg->n_secrets; i++) {
		struct agent_secret *s = &cfg->secrets[i];

		if (s->format != AGENT_FORMAT_TEMPLATE)
			continue;
		snprintf(where, sizeof(where), "secrets[%zu].template", i);
		rc = config_read_file(s->template_path, &text, &len, msg, sizeof(msg));
		if (rc != 0)
			return config_fail(err, err_len, where, "%s", msg);
		rc = template_parse((char *)text, len, cfg, &s->tpl, msg, sizeof(msg));
		secmem_free(text);
		if (rc != 0)
			return config_fail(err, err_len, where, "%s: %s", s->template_path, msg);
	}
	return 0;
}

int agent_config_parse(const char *text, struct agent_config *cfg, char *err, size_t err_len)
{
	static const char *const keys[] = {
	    "server", "auth",          "destination", "secrets",          "mode", "watch",
	    "notify", "poll_interval", "on_exit",     "require_landlock", NULL};
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_s = 10;
	cfg->mode = 0400;
	cfg->require_tmpfs = true;
	cfg->mode_run = AGENT_MODE_INIT;
	cfg->watch = true;
	cfg->poll_interval_s = 300;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, err_len, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return COFFER_ERR_CONFIG;
	}
	if (!json_is_object(root)) {
		rc = config_fail(err, err_len, "config", "must be a JSON object");
		goto out;
	}
	if ((rc = config_check_keys(root, "", keys, err, err_len)) != 0 ||
	    (rc = config_server(root, cfg, err, err_len)) != 0 ||
	    (rc = config_auth(root, cfg, err, err_len)) != 0 ||
	    (rc = config_destination(root, cfg, err, err_len)) != 0 ||
	    (rc = config_secrets(root, cfg, err, err_len)) != 0 ||
	    (rc = config_rest(root, cfg, err, err_len)) != 0)
		goto out;
	rc = config_templates(cfg, err, err_len);
out:
	json_decref(root);
	if (rc == COFFER_ERR_NOMEM)
		snprintf(err, err_len, "out of memory");
	if (rc != 0)
		agent_config_free(cfg);
	return rc;
}

int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t err_len)
{
	char msg[AGENT_ERR_LEN];
	uint8_t *text;
	size_t len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (config_read_file(path, &text, &len, err, err_len) != 0)
		return COFFER_ERR_CONFIG;
	rc = agent_config_parse((char *)text, cfg, msg, sizeof(msg));
	if (rc != 0)
		snprintf(err, err_len, "%s: %s", path, msg);
	secmem_free(text);
	return rc;
}

void agent_config_free(struct agent_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_secrets; i++) {
		struct agent_secret *s = &cfg->secrets[i];

		free(s->name);
		free(s->path);
		free(s->file);
		free(s->key);
		free(s->template_path);
		template_free(s->tpl);
	}
	free(cfg->secrets);
	free(cfg->address);
	free(cfg->ca_cert);
	free(cfg->token_path);
	free(cfg->auth_mount);
	free(cfg->auth_role);
	free(cfg->jwt_file);
	free(cfg->role_id_file);
	free(cfg->secret_id_file);
	free(cfg->dest_dir);
	free(cfg->ready_file);
	free(cfg->notify_pid_file);
	memset(cfg, 0, sizeof(*cfg));
}
