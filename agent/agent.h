/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.h: coffer-agent's modules (DESIGN.md §7), one prototype block per file. The agent reads a
 * JSON config, logs in, fetches KV v2 secrets, renders them (raw, json, env, template) and writes
 * them atomically into a tmpfs directory; main.c runs init mode, supervise.c sidecar mode.
 */
#ifndef COFFER_AGENT_H
#define COFFER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

#define AGENT_ERR_LEN 512

struct coffer_http;

enum agent_format { AGENT_FORMAT_RAW, AGENT_FORMAT_JSON, AGENT_FORMAT_ENV, AGENT_FORMAT_TEMPLATE };
enum agent_auth_method {
	AGENT_AUTH_TOKEN_FILE,
	AGENT_AUTH_APPROLE,
	AGENT_AUTH_KUBERNETES, /* a projected service-account token, POST auth/<mount>/login */
	AGENT_AUTH_JWT         /* any JWT from a file, the same login */
};

/* auth.token_file's default with method kubernetes: a projected token's usual mount. */
#define AGENT_K8S_TOKEN_FILE "/var/run/secrets/tokens/coffer"

enum agent_mode { AGENT_MODE_INIT, AGENT_MODE_SIDECAR };

struct template;

struct agent_secret {
	char *name;           /* alias used by templates */
	char *path;           /* KV v2 API path ("secret/data/app/db"); NULL for a template */
	char *file;           /* file name in the destination; NULL: only for templates */
	char *key;            /* format raw: the key written */
	char *template_path;  /* format template: the template file */
	struct template *tpl; /* parsed template (format template) */
	enum agent_format format;
	mode_t mode;
};

struct agent_config {
	char *address, *ca_cert;
	int64_t timeout_s;
	enum agent_auth_method auth_method;
	char *token_path;                    /* token_file */
	char *auth_mount;                    /* approle, kubernetes, jwt */
	char *role_id_file, *secret_id_file; /* approle */
	char *auth_role, *jwt_file; /* kubernetes, jwt (auth_role NULL: the default role) */
	bool remove_secret_id_file;
	char *dest_dir;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	bool require_tmpfs;
	char *ready_file; /* NULL: none */
	struct agent_secret *secrets;
	size_t n_secrets;
	enum agent_mode mode_run;
	bool watch;
	int64_t poll_interval_s;
	int notify_signal; /* 0: no notification */
	char *notify_pid_file;
	bool remove_files_on_exit;
	bool require_landlock; /* refuse to run without Landlock */
};

/* config.c */
/* Parse the config file at path into *cfg (cleared first), reading the template files too. On
 * error, err names the key ("secrets[1].format: must be raw, json, env or template") and *cfg is
 * left empty (agent_config_free() is still allowed). */
int agent_config_load(const char *path, struct agent_config *cfg, char *err, size_t err_len);
/* The same from JSON text. */
int agent_config_parse(const char *text, struct agent_config *cfg, char *err, size_t err_len);
void agent_config_free(struct agent_config *cfg);

/* value.c: file content goes into a struct buf (buf.h), which wipes what it held. */
/* Append the text of a value as written: a string as is, null as "", anything else as compact
 * JSON. */
int value_text(const json_t *v, struct buf *out) COFFER_WUR;
/* Append s single-quoted for a POSIX shell / dotenv: 'it'\''s'. */
int value_shell_quote(const char *s, size_t len, struct buf *out) COFFER_WUR;
/* True when name matches [A-Za-z_][A-Za-z0-9_]*. */
bool value_is_env_name(const char *name);

/* render.c */
/*
 * Render secret s into out. data[i] is the data of cfg->secrets[i] (NULL when not fetched). A
 * missing key, a bad env name or a template error is COFFER_ERR_INVALID with the reason in err
 * (names, never values).
 */
int render_secret(const struct agent_config *cfg, size_t idx, json_t *const *data, struct buf *out,
                  char *err, size_t err_len) COFFER_WUR;

/* template.c */
/* Parse template text; names must be declared secrets with a path (checked against cfg). */
int template_parse(const char *text, size_t len, const struct agent_config *cfg,
                   struct template **out, char *err, size_t err_len);
void template_free(struct template *t);
int template_render(const struct template *t, const struct agent_config *cfg, json_t *const *data,
                    struct buf *out, char *err, size_t err_len) COFFER_WUR;
/* Apply one filter ("json", "base64", "urlquery", "shell") to in; COFFER_ERR_INVALID when
 * unknown. */
int template_filter(const char *name, const char *in, size_t in_len, struct buf *out) COFFER_WUR;

/* sink.c */
/* Open the destination directory; refuse a non-tmpfs/ramfs one when require_tmpfs; remove temp
 * files an earlier run left there. A fd or -1. */
int sink_open(const char *dir, bool require_tmpfs, char *err, size_t err_len);
/* Write name atomically under dir_fd with owner uid:gid and mode set before any content. */
int sink_write(int dir_fd, const char *name, uid_t uid, gid_t gid, mode_t mode, const void *data,
               size_t len, char *err, size_t err_len) COFFER_WUR;
/* Remove name (absent is fine). */
int sink_remove(int dir_fd, const char *name);

/* auth.c */
struct agent_auth {
	char *token;     /* secmem */
	char *role_id;   /* secmem; approle */
	char *secret_id; /* secmem; approle */
	int64_t ttl_s;   /* 0: no expiry */
	bool is_renewable;
};
/* Read the credentials from their files (before the sandbox); remove the secret_id file when the
 * config says so. kubernetes and jwt read nothing here: their token file is read at each login. */
int auth_load(const struct agent_config *cfg, struct agent_auth *a, char *err, size_t err_len);
/* Log in (AppRole; kubernetes and jwt with the token file read again, its text wiped after the
 * request) or check the token (token_file: lookup-self); sets token, ttl_s. A refusal is
 * COFFER_ERR_PERMISSION with the server's message in err, never a credential. */
int auth_login(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
               char *err, size_t err_len);
/* renew-self; updates ttl_s. */
int auth_renew(struct coffer_http *h, struct agent_auth *a, char *err, size_t err_len);
void auth_clear(struct agent_auth *a);
/* Read a small credential file (fileio.h's rule; flags are its COFFER_SECRET_FILE_*) into
 * secmem, trailing whitespace removed; a warning of the rule is logged. NULL with err on error. */
char *auth_read_file(const char *path, unsigned flags, char *err, size_t err_len);

/* fetch.c */
/* GET a KV v2 path; *data gets data.data (a new reference). */
int fetch_secret(struct coffer_http *h, const char *token, const char *path, json_t **data,
                 char *err, size_t err_len);
/* Fetch every secret with a path into data[] (n_secrets entries, NULL for templates). */
int fetch_all(const struct agent_config *cfg, struct coffer_http *h, const char *token,
              json_t **data, char *err, size_t err_len);

/* supervise.c */
/* Render every file into out[] (n_secrets, len 0/NULL data for secrets without a file). */
int agent_render_all(const struct agent_config *cfg, json_t *const *data, struct buf *out,
                     char *err, size_t err_len);
/* Write every rendered file (out[i] for secrets with a file), then the ready file; on failure,
 * remove the files written by this call. */
int agent_write_files(const struct agent_config *cfg, int dir_fd, const struct buf *out);
/* Sidecar mode (after the sandbox is on): first render, then watch, renew, re-render and notify
 * until SIGTERM; returns the exit status. */
int supervise_run(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
                  int dir_fd, json_t **data);

#endif
