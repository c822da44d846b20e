/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: cofferd's configuration file (JSON). Every key is known by name, type and range; an
 * unknown key or a bad value is an error that names it, so a typo never silently changes how the
 * vault runs. Called by main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "config.h"
#include "duration.h"
#include "json.h"
#include "xmalloc.h"

void config_set_string(char **member, const char *value)
{
	free(*member);
	*member = value != NULL ? xstrdup(value) : NULL;
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seal_type = SEAL_SHAMIR;
	cfg->max_request_size = CONFIG_DEFAULT_MAX_REQUEST_SIZE;
	cfg->kv_max_value_size = CONFIG_DEFAULT_MAX_REQUEST_SIZE;
	cfg->idle_timeout_s = CONFIG_DEFAULT_IDLE_TIMEOUT_S;
	cfg->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cfg->max_connections_per_address = CONFIG_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
	cfg->request_deadline_s = CONFIG_DEFAULT_REQUEST_DEADLINE_S;
	cfg->max_watches_per_token = CONFIG_DEFAULT_MAX_WATCHES_PER_TOKEN;
	cfg->log_level = LOG_LEVEL_INFO;
	config_set_string(&cfg->listen, CONFIG_DEFAULT_LISTEN);
	cfg->storage.kind = STORAGE_SQLITE;
	config_set_string(&cfg->storage.table, CONFIG_DEFAULT_PG_TABLE);
	config_set_string(&cfg->storage.ha_table, CONFIG_DEFAULT_PG_HA_TABLE);
	cfg->storage.lock_ttl_ms = CONFIG_DEFAULT_LOCK_TTL_MS;
	cfg->storage.max_connections = CONFIG_DEFAULT_PG_CONNECTIONS;
	config_set_string(&cfg->kubernetes_service_account_dir,
	                  "/var/run/secrets/kubernetes.io/serviceaccount");
}

void config_free(struct config *cfg)
{
	free(cfg->listen);
	free(cfg->tls_cert_file);
	free(cfg->tls_key_file);
	storage_config_free(&cfg->storage);
	free(cfg->api_addr);
	free(cfg->cluster_addr);
	free(cfg->seal_path);
	for (size_t i = 0; i < cfg->n_audit; i++) {
		free(cfg->audit[i].path);
		free(cfg->audit[i].description);
		free(cfg->audit[i].file_path);
	}
	free(cfg->audit);
	free(cfg->audit_dir);
	free(cfg->kubernetes_service_account_dir);
	memset(cfg, 0, sizeof(*cfg));
}

static int config_fail(char *err, size_t err_len, const char *key, const char *what)
{
	snprintf(err, err_len, "config: \"%s\": %s", key, what);
	return COFFER_ERR_CONFIG;
}

static int config_string(const json_t *v, const char *key, char **member, char *err, size_t n)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return config_fail(err, n, key, "must be a non-empty string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return config_fail(err, n, key, "must not contain NUL");
	config_set_string(member, json_string_value(v));
	return 0;
}

/* A table name PostgreSQL takes unquoted, with room for the "_meta" suffix. */
static bool config_table_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= 48 && strchr("abcdefghijklmnopqrstuvwxyz_", name[0]) != NULL &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

static int config_table(const json_t *v, const char *key, char **member, char *err, size_t n)
{
	if (config_string(v, key, member, err, n) != 0)
		return COFFER_ERR_CONFIG;
	if (!config_table_name_ok(*member))
		return config_fail(err, n, key,
		                   "must be 1 to 48 of a-z, 0-9 and _, not starting with a digit");
	return 0;
}

/* The PostgreSQL keys of "storage" (storage.type "postgresql"). */
static int config_storage_pg(struct storage_config *sc, const char *key, const json_t *item,
                             char *err, size_t n)
{
	char name[64];
	int64_t secs;
	size_t count;
	json_t *wrap;
	int rc;

	snprintf(name, sizeof(name), "storage.%s", key);
	if (strcmp(key, "connection_url") == 0)
		return config_string(item, name, &sc->pg_url, err, n);
	if (strcmp(key, "table") == 0)
		return config_table(item, name, &sc->table, err, n);
	if (strcmp(key, "ha_table") == 0)
		return config_table(item, name, &sc->ha_table, err, n);
	if (strcmp(key, "ha_enabled") == 0) {
		/* A JSON boolean: Vault's string "true" lets a typo turn HA off in silence. */
		if (!json_is_boolean(item))
			return config_fail(err, n, name, "must be true or false (a JSON boolean)");
		sc->ha_enabled = json_is_true(item);
		return 0;
	}
	if (strcmp(key, "max_connections") == 0) {
		if (!json_is_integer(item) || json_integer_value(item) < 3 ||
		    json_integer_value(item) > 256)
			return config_fail(err, n, name, "must be an integer, 3..256");
		count = (size_t)json_integer_value(item);
		sc->max_connections = (unsigned)count;
		return 0;
	}
	if (strcmp(key, "lock_ttl") == 0) {
		wrap = json_pack("{s:O}", "v", item);
		rc = coffer_json_get_duration(wrap, "v", &secs);
		json_decref(wrap);
		if (rc != 0 || secs < 2 || secs > 300)
			return config_fail(err, n, name, "must be a duration between 2s and 5m");
		sc->lock_ttl_ms = secs * 1000;
		return 0;
	}
	snprintf(err, n, "config: unknown key \"storage.%s\"", key);
	return COFFER_ERR_CONFIG;
}

static int config_storage(struct config *cfg, const json_t *v, char *err, size_t n)
{
	struct storage_config *sc = &cfg->storage;
	const json_t *type;
	const char *key;
	json_t *item;
	int rc;

	if (!json_is_object(v))
		return config_fail(err, n, "storage", "must be an object");
	type = json_object_get(v, "type");
	if (type != NULL) {
		if (json_is_string(type) && strcmp(json_string_value(type), "sqlite") == 0)
			sc->kind = STORAGE_SQLITE;
		else if (json_is_string(type) && strcmp(json_string_value(type), "postgresql") == 0)
			sc->kind = STORAGE_POSTGRESQL;
		else
			return config_fail(err, n, "storage.type",
			                   "must be \"sqlite\" or \"postgresql\"");
	}
	json_object_foreach((json_t *)v, key, item)
	{
		if (strcmp(key, "type") == 0)
			rc = 0;
		else if (sc->kind == STORAGE_SQLITE && strcmp(key, "path") == 0)
			rc = config_string(item, "storage.path", &sc->path, err, n);
		else if (sc->kind == STORAGE_POSTGRESQL)
			rc = config_storage_pg(sc, key, item, err, n);
		else {
			snprintf(err, n,
			         "config: unknown key \"storage.%s\" for storage.type \"sqlite\"",
			         key);
			return COFFER_ERR_CONFIG;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int config_seal(struct config *cfg, const json_t *v, char *err, size_t n)
{
	const char *key, *type;
	json_t *item;
	int rc;

	if (!json_is_object(v))
		return config_fail(err, n, "seal", "must be an object");
	json_object_foreach((json_t *)v, key, item)
	{
		rc = 0;
		if (strcmp(key, "type") == 0) {
			type = json_string_value(item);
			if (type != NULL && strcmp(type, "shamir") == 0)
				cfg->seal_type = SEAL_SHAMIR;
			else if (type != NULL && strcmp(type, "keyfile") == 0)
				cfg->seal_type = SEAL_KEYFILE;
			else
				return config_fail(err, n, "seal.type",
				                   "must be \"shamir\" or \"keyfile\"");
		} else if (strcmp(key, "path") == 0) {
			rc = config_string(item, "seal.path", &cfg->seal_path, err, n);
		} else {
			snprintf(err, n, "config: unknown key \"seal.%s\"", key);
			return COFFER_ERR_CONFIG;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* An absolute path without NUL (audit file_path, audit_dir). */
static int config_abs_path(const json_t *v, const char *key, char **member, char *err, size_t n)
{
	int rc = config_string(v, key, member, err, n);

	if (rc == 0 && (*member)[0] != '/')
		return config_fail(err, n, key, "must be an absolute path");
	return rc;
}

/* One member of an "audit" item; key names the member for errors ("audit[0].path"). */
static int config_audit_member(struct audit_device_conf *a, const char *name, const json_t *item,
                               const char *key, char *err, size_t n)
{
	char path[AUDIT_NAME_MAX + 2], sub[160];
	const char *opt;
	json_t *v;
	int rc = 0;

	if (strcmp(name, "type") == 0) {
		if (!json_is_string(item) || strcmp(json_string_value(item), "file") != 0)
			return config_fail(err, n, key, "must be \"file\"");
	} else if (strcmp(name, "path") == 0) {
		if (!json_is_string(item) || audit_path_normalize(json_string_value(item), path,
		                                                  sizeof(path)) != 0)
			return config_fail(err, n, key,
			                   "must be one segment of letters, digits, '.', '_' or '-'");
		config_set_string(&a->path, path);
	} else if (strcmp(name, "description") == 0) {
		if (!json_is_string(item))
			return config_fail(err, n, key, "must be a string");
		config_set_string(&a->description, json_string_value(item));
	} else if (strcmp(name, "options") == 0) {
		if (!json_is_object(item))
			return config_fail(err, n, key, "must be an object");
		json_object_foreach((json_t *)item, opt, v)
		{
			snprintf(sub, sizeof(sub), "%s.%.32s", key, opt);
			if (strcmp(opt, "file_path") != 0) {
				snprintf(err, n, "config: unknown key \"%s\"", sub);
				return COFFER_ERR_CONFIG;
			}
			rc = config_abs_path(v, sub, &a->file_path, err, n);
			if (rc != 0)
				return rc;
		}
	} else {
		snprintf(err, n, "config: unknown key \"%s\"", key);
		return COFFER_ERR_CONFIG;
	}
	return rc;
}

/* One item of "audit": {"type":"file", "path"?, "description"?, "options":{"file_path"}}. */
static int config_audit_item(struct audit_device_conf *a, size_t i, const json_t *v, char *err,
                             size_t n)
{
	char key[96];
	const char *name;
	json_t *item;
	int rc;

	snprintf(key, sizeof(key), "audit[%zu]", i);
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")))
		return config_fail(err, n, key, "must be an object with \"type\": \"file\"");
	json_object_foreach((json_t *)v, name, item)
	{
		snprintf(key, sizeof(key), "audit[%zu].%.32s", i, name);
		rc = config_audit_member(a, name, item, key, err, n);
		if (rc != 0)
			return rc;
	}
	snprintf(key, sizeof(key), "audit[%zu].options.file_path", i);
	if (a->file_path == NULL)
		return config_fail(err, n, key, "is required");
	if (a->path == NULL)
		config_set_string(&a->path, "file/");
	if (a->description == NULL)
		config_set_string(&a->description, "");
	return 0;
}

static int config_audit(struct config *cfg, const json_t *v, char *err, size_t n)
{
	size_t i, j, count = json_array_size(v);
	int rc;

	if (!json_is_array(v) || count > AUDIT_MAX_DEVICES)
		return config_fail(err, n, "audit", "must be an array of at most 8 devices");
	if (cfg->audit != NULL)
		return config_fail(err, n, "audit", "is given twice");
	cfg->audit = xcalloc(count + 1, sizeof(*cfg->audit));
	for (i = 0; i < count; i++) {
		cfg->n_audit = i + 1; /* so that config_free() frees what is filled */
		rc = config_audit_item(&cfg->audit[i], i, json_array_get(v, i), err, n);
		if (rc != 0)
			return rc;
		for (j = 0; j < i; j++) {
			if (strcmp(cfg->audit[j].path, cfg->audit[i].path) == 0)
				return config_fail(err, n, "audit", "two devices have the same path");
		}
	}
	return 0;
}

static int config_scalar(struct config *cfg, const char *key, const json_t *v, char *err, size_t n)
{
	int64_t secs;

	if (strcmp(key, "disable_mlock") == 0) {
		if (!json_is_boolean(v))
			return config_fail(err, n, key, "must be true or false");
		cfg->disable_mlock = json_is_true(v);
	} else if (strcmp(key, "allow_api_audit") == 0) {
		if (!json_is_boolean(v))
			return config_fail(err, n, key, "must be true or false");
		cfg->allow_api_audit = json_is_true(v);
	} else if (strcmp(key, "max_request_size") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1024 ||
		    json_integer_value(v) > (json_int_t)1 << 30)
			return config_fail(err, n, key,
			                   "must be an integer number of bytes, 1024..1073741824");
		cfg->max_request_size = (size_t)json_integer_value(v);
	} else if (strcmp(key, "kv_max_value_size") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1024 ||
		    json_integer_value(v) > (json_int_t)1 << 30)
			return config_fail(err, n, key,
			                   "must be an integer number of bytes, 1024..1073741824");
		cfg->kv_max_value_size = (size_t)json_integer_value(v);
	} else if (strcmp(key, "idle_timeout") == 0) {
		json_t *wrap = json_pack("{s:O}", "v", v);
		int rc = coffer_json_get_duration(wrap, "v", &secs);

		json_decref(wrap);
		if (rc != 0)
			return config_fail(err, n, key, "must be a duration such as \"30s\"");
		if (secs < 1 || secs > 3600)
			return config_fail(err, n, key, "must be between 1s and 1h");
		cfg->idle_timeout_s = secs;
	} else if (strcmp(key, "log_level") == 0) {
		if (!json_is_string(v) || log_parse_level(json_string_value(v), &cfg->log_level))
			return config_fail(err, n, key, "must be debug, info, warn or error");
	} else if (strcmp(key, "log_format") == 0) {
		if (json_is_string(v) && strcmp(json_string_value(v), "json") == 0)
			cfg->log_json = true;
		else if (json_is_string(v) && strcmp(json_string_value(v), "text") == 0)
			cfg->log_json = false;
		else
			return config_fail(err, n, key, "must be \"text\" or \"json\"");
	} else {
		snprintf(err, n, "config: unknown key \"%s\"", key);
		return COFFER_ERR_CONFIG;
	}
	return 0;
}

/* An integer key in lo..hi. */
static int config_count(const json_t *v, const char *key, json_int_t lo, json_int_t hi,
                        size_t *member, char *err, size_t n)
{
	char what[96];

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(what, sizeof(what), "must be an integer, %lld..%lld", (long long)lo,
		         (long long)hi);
		return config_fail(err, n, key, what);
	}
	*member = (size_t)json_integer_value(v);
	return 0;
}

static bool config_is_limit(const char *key)
{
	return strcmp(key, "max_connections") == 0 ||
	       strcmp(key, "max_connections_per_address") == 0 ||
	       strcmp(key, "request_deadline") == 0 || strcmp(key, "max_watches_per_token") == 0;
}

/* The connection and watch limits (README.md "Limits"). */
static int config_limit(struct config *cfg, const char *key, const json_t *v, char *err, size_t n)
{
	json_t *wrap;
	int64_t secs;
	int rc;

	if (strcmp(key, "max_connections") == 0)
		return config_count(v, key, 16, 1 << 20, &cfg->max_connections, err, n);
	if (strcmp(key, "max_connections_per_address") == 0)
		return config_count(v, key, 1, 1 << 20, &cfg->max_connections_per_address, err, n);
	if (strcmp(key, "max_watches_per_token") == 0)
		return config_count(v, key, 1, 1 << 20, &cfg->max_watches_per_token, err, n);
	wrap = json_pack("{s:O}", "v", v);
	rc = coffer_json_get_duration(wrap, "v", &secs);
	json_decref(wrap);
	if (rc != 0 || secs < 1 || secs > 3600)
		return config_fail(err, n, key, "must be a duration between 1s and 1h");
	cfg->request_deadline_s = secs;
	return 0;
}

static int config_apply(struct config *cfg, json_t *root, char *err, size_t n)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "listen") == 0)
			rc = config_string(v, key, &cfg->listen, err, n);
		else if (strcmp(key, "tls_cert_file") == 0)
			rc = config_string(v, key, &cfg->tls_cert_file, err, n);
		else if (strcmp(key, "tls_key_file") == 0)
			rc = config_string(v, key, &cfg->tls_key_file, err, n);
		else if (strcmp(key, "storage") == 0)
			rc = config_storage(cfg, v, err, n);
		else if (strcmp(key, "api_addr") == 0)
			rc = config_string(v, key, &cfg->api_addr, err, n);
		else if (strcmp(key, "cluster_addr") == 0)
			rc = config_string(v, key, &cfg->cluster_addr, err, n);
		else if (strcmp(key, "seal") == 0)
			rc = config_seal(cfg, v, err, n);
		else if (strcmp(key, "audit") == 0)
			rc = config_audit(cfg, v, err, n);
		else if (strcmp(key, "audit_dir") == 0)
			rc = config_abs_path(v, key, &cfg->audit_dir, err, n);
		else if (strcmp(key, "kubernetes_service_account_dir") == 0)
			rc = config_abs_path(v, key, &cfg->kubernetes_service_account_dir, err, n);
		else if (config_is_limit(key))
			rc = config_limit(cfg, key, v, err, n);
		else
			rc = config_scalar(cfg, key, v, err, n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, err_len, "config: %s: %s (line %d, column %d)", path, jerr.text,
		         jerr.line, jerr.column);
		return COFFER_ERR_CONFIG;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(err, err_len, "config: %s: the top level must be an object", path);
		return COFFER_ERR_CONFIG;
	}
	rc = config_apply(cfg, root, err, err_len);
	json_decref(root);
	return rc;
}

/* "host:port", "[v6]:port" or ":port"; the host is resolved when the listener starts. */
static bool config_listen_is_valid(const char *listen)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;

	if (colon == NULL || colon[1] == '\0' || strchr(listen, ' ') != NULL)
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

/* An http(s) URL without a path, query or user part: what standbys put before a request's path. */
static bool config_addr_is_valid(const char *addr)
{
	const char *host;

	if (strncmp(addr, "http://", 7) == 0)
		host = addr + 7;
	else if (strncmp(addr, "https://", 8) == 0)
		host = addr + 8;
	else
		return false;
	return host[0] != '\0' && strlen(addr) < 256 && strpbrk(host, "/?#@ \t\r\n") == NULL;
}

static int config_validate_storage(const struct config *cfg, char *err, size_t err_len)
{
	const struct storage_config *sc = &cfg->storage;
	const char *env = getenv("COFFER_PG_CONNECTION_URL");

	if (sc->kind == STORAGE_SQLITE) {
		if (sc->path == NULL)
			return config_fail(err, err_len, "storage.path", "is required");
		return 0;
	}
	if (sc->pg_url == NULL && (env == NULL || env[0] == '\0'))
		return config_fail(err, err_len, "storage.connection_url",
		                   "is required (or the environment variable "
		                   "COFFER_PG_CONNECTION_URL)");
	if (strcmp(sc->table, sc->ha_table) == 0)
		return config_fail(err, err_len, "storage.ha_table",
		                   "must differ from storage.table");
	if (sc->ha_enabled && cfg->api_addr == NULL)
		return config_fail(err, err_len, "api_addr",
		                   "is required with storage.ha_enabled: it is where standbys send "
		                   "clients");
	return 0;
}

int config_validate(const struct config *cfg, char *err, size_t err_len)
{
	if (config_validate_storage(cfg, err, err_len) != 0)
		return COFFER_ERR_CONFIG;
	if (cfg->api_addr != NULL && !config_addr_is_valid(cfg->api_addr))
		return config_fail(err, err_len, "api_addr",
		                   "must be http://host[:port] or https://host[:port]");
	if (cfg->cluster_addr != NULL && !config_addr_is_valid(cfg->cluster_addr))
		return config_fail(err, err_len, "cluster_addr",
		                   "must be http://host[:port] or https://host[:port]");
	if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
		return config_fail(err, err_len, "tls_cert_file",
		                   "and tls_key_file must be given together");
	if (cfg->seal_type == SEAL_KEYFILE && cfg->seal_path == NULL)
		return config_fail(err, err_len, "seal.path", "is required for the keyfile seal");
	if (cfg->allow_api_audit && cfg->audit_dir == NULL)
		return config_fail(err, err_len, "audit_dir", "is required with allow_api_audit");
	if (!config_listen_is_valid(cfg->listen))
		return config_fail(err, err_len, "listen",
		                   "must be host:port with a port 1..65535");
	return 0;
}
