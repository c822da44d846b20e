/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: coffer-agent's entry (DESIGN.md §7): flags, the order of start-up (config, destination
 * dir, credentials, sandbox, login, fetch, render, write), and init mode, which writes every file
 * or none. Sidecar mode continues in supervise.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "sandbox.h"
#include "secmem.h"

#define AGENT_CONFIG_ENV "COFFER_AGENT_CONFIG"

static void agent_usage(FILE *f)
{
	fprintf(f,
	        "usage: coffer-agent [--config FILE] [--mode init|sidecar]\n"
	        "       coffer-agent [--config FILE] --check-config\n"
	        "       coffer-agent --print-seccomp-profile\n"
	        "       coffer-agent --version\n"
	        "\n"
	        "Logs in to a Coffer (or Vault) server, fetches the secrets the config names and\n"
	        "writes them as files on tmpfs. Init mode exits 0 after the first complete render\n"
	        "(non-zero and no files on failure); sidecar mode keeps them fresh.\n"
	        "Environment: COFFER_AGENT_CONFIG (the config's JSON text, without --config),\n"
	        "COFFER_LOG_LEVEL (debug, info, warn, error).\n");
}

/* Init mode: log in, fetch, render everything in memory, then write. */
static int agent_init_run(const struct agent_config *cfg, struct coffer_http *h,
                          struct agent_auth *a, int dir_fd, json_t **data)
{
	struct buf *out;
	char err[AGENT_ERR_LEN];
	size_t i;
	int rc;

	out = calloc(cfg->n_secrets, sizeof(*out));
	if (out == NULL) {
		log_error("out of memory");
		return 1;
	}
	rc = auth_login(cfg, h, a, err, sizeof(err));
	if (rc == 0)
		rc = fetch_all(cfg, h, a->token, data, err, sizeof(err));
	if (rc == 0)
		rc = agent_render_all(cfg, data, out, err, sizeof(err));
	if (rc != 0)
		log_error("%s; no file written", err);
	else
		rc = agent_write_files(cfg, dir_fd, out);
	if (rc == 0)
		log_info("wrote %zu secret file(s) to %s", cfg->n_secrets, cfg->dest_dir);
	for (i = 0; i < cfg->n_secrets; i++)
		buf_free(&out[i]);
	free(out);
	return rc == 0 ? 0 : 1;
}

static int agent_parse_args(int argc, char **argv, const char **config_path, const char **mode,
                            bool *is_profile, bool *is_check)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"mode", required_argument, NULL, 'm'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"print-seccomp-profile", no_argument, NULL, 'p'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:m:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_path = optarg;
			break;
		case 'm':
			*mode = optarg;
			break;
		case 'p':
			*is_profile = true;
			break;
		case 'k':
			*is_check = true;
			break;
		case 'V':
			printf("coffer-agent %s\n", COFFER_VERSION);
			return 0;
		case 'h':
			agent_usage(stdout);
			return 0;
		default:
			agent_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "coffer-agent: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (*mode != NULL && strcmp(*mode, "init") != 0 && strcmp(*mode, "sidecar") != 0) {
		fprintf(stderr, "coffer-agent: --mode must be init or sidecar\n");
		return 2;
	}
	if (!*is_profile && *config_path == NULL && getenv(AGENT_CONFIG_ENV) == NULL) {
		agent_usage(stderr);
		return 2;
	}
	return -1;
}

/* The config from --config FILE, or else from the environment (a container spec that carries
 * the config inline, with no file to mount). 0, or -1 after logging why. */
static int agent_load(const char *path, struct agent_config *cfg)
{
	char err[AGENT_ERR_LEN];

	if (path != NULL && agent_config_load(path, cfg, err, sizeof(err)) == 0)
		return 0;
	if (path == NULL &&
	    agent_config_parse(getenv(AGENT_CONFIG_ENV), cfg, err, sizeof(err)) == 0)
		return 0;
	log_error("config %s%s", path != NULL ? "" : AGENT_CONFIG_ENV ": ", err);
	return -1;
}

static void agent_log_init(void)
{
	const char *name = getenv("COFFER_LOG_LEVEL");
	enum log_level level = LOG_LEVEL_INFO;

	if (name != NULL && log_parse_level(name, &level) != 0)
		level = LOG_LEVEL_INFO;
	log_init(level, false);
}

/* The sandbox's inputs from the config: the files read after start-up (the CA file at a TLS
 * handshake; the token file or the JWT file at a new login and the pid file at each
 * notification, which their owners may replace; templates and AppRole ids are read before it),
 * the owner of the files and the notify signal. */
static void agent_sandbox_opts(const struct agent_config *cfg, const char *files[2],
                               const char *rereads[3], struct sandbox_opts *o)
{
	size_t n = 0;

	files[0] = cfg->ca_cert; /* NULL: an empty list */
	files[1] = NULL;
	if (cfg->auth_method == AGENT_AUTH_TOKEN_FILE)
		rereads[n++] = cfg->token_path;
	else if (cfg->jwt_file != NULL)
		rereads[n++] = cfg->jwt_file;
	if (cfg->notify_signal != 0)
		rereads[n++] = cfg->notify_pid_file;
	rereads[n] = NULL;
	*o = (struct sandbox_opts){.dest_dir = cfg->dest_dir,
	                           .read_files = files,
	                           .reread_files = rereads,
	                           .uid = cfg->uid,
	                           .gid = cfg->gid,
	                           .notify_signal =
	                               cfg->mode_run == AGENT_MODE_SIDECAR ? cfg->notify_signal : 0,
	                           .require_landlock = cfg->require_landlock};
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *mode = NULL;
	struct agent_auth auth = {0};
	struct agent_config cfg;
	struct coffer_http *h = NULL;
	struct sandbox_opts sbx;
	const char *sbx_files[2], *sbx_rereads[3];
	char err[AGENT_ERR_LEN];
	json_t **data = NULL;
	bool is_profile = false, is_check = false;
	int rc, dir_fd = -1;
	size_t i;

	rc = agent_parse_args(argc, argv, &config_path, &mode, &is_profile, &is_check);
	if (rc >= 0)
		return rc;
	if (is_profile)
		return sandbox_print_profile(stdout) == 0 && fflush(stdout) == 0 ? 0 : 1;
	if (secmem_init() != 0) {
		fprintf(stderr, "coffer-agent: cannot initialise libsodium\n");
		return 1;
	}
	coffer_json_init();
	agent_log_init();
	if (agent_load(config_path, &cfg) != 0)
		return 1;
	if (is_check) {
		/* Checks the file only: nothing is read from the destination or the server. */
		printf("%s: ok (%zu secrets, %s mode)\n",
		       config_path != NULL ? config_path : AGENT_CONFIG_ENV, cfg.n_secrets,
		       cfg.mode_run == AGENT_MODE_SIDECAR ? "sidecar" : "init");
		agent_config_free(&cfg);
		return 0;
	}
	if (mode != NULL)
		cfg.mode_run = strcmp(mode, "sidecar") == 0 ? AGENT_MODE_SIDECAR : AGENT_MODE_INIT;
	rc = 1;
	data = calloc(cfg.n_secrets, sizeof(*data));
	if (data == NULL) {
		log_error("out of memory");
		goto out;
	}
	dir_fd = sink_open(cfg.dest_dir, cfg.require_tmpfs, err, sizeof(err));
	if (dir_fd < 0) {
		log_error("%s", err);
		goto out;
	}
	if (auth_load(&cfg, &auth, err, sizeof(err)) != 0) {
		log_error("credentials: %s", err);
		goto out;
	}
	h = coffer_http_new(cfg.address, cfg.ca_cert, (long)cfg.timeout_s * 1000, err, sizeof(err));
	if (h == NULL) {
		log_error("server.address: %s", err);
		goto out;
	}
	agent_sandbox_opts(&cfg, sbx_files, sbx_rereads, &sbx);
	if (sandbox_apply(&sbx, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (cfg.mode_run == AGENT_MODE_INIT)
		rc = agent_init_run(&cfg, h, &auth, dir_fd, data);
	else
		rc = supervise_run(&cfg, h, &auth, dir_fd, data);
out:
	for (i = 0; data != NULL && i < cfg.n_secrets; i++)
		json_decref(data[i]);
	free(data);
	coffer_http_free(h);
	auth_clear(&auth);
	if (dir_fd >= 0)
		close(dir_fd);
	agent_config_free(&cfg);
	return rc;
}
