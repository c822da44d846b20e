/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: cofferd's process: flags and config, hardening (no core dumps, not dumpable, locked
 * memory, and once start-up is over the seccomp allow-list of confine.c), dev mode, the listener,
 * and a clean shutdown on SIGTERM/SIGINT that wipes the keys.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit/audit.h"
#include "codec.h"
#include "config.h"
#include "confine.h"
#include "core.h"
#include "front/http.h"
#include "front/registry.h"
#include "net/outbound.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "store/storage_migrate.h"
#include "engines/watch.h"

#ifdef COFFER_TEST_HOOKS
#define MAIN_BUILD_NOTE " (test hooks)"
#else
#define MAIN_BUILD_NOTE ""
#endif

struct main_opts {
	bool is_dev;
	bool disable_mlock;
	bool disable_seccomp;
	const char *config_path;
	const char *listen;
	const char *root_token;
	const char *data_dir;
	const char *log_level;
	const char *log_format;
};

static void main_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: cofferd --config FILE [--listen ADDR] [--log-level LEVEL]\n"
	    "       cofferd --dev [--config FILE] [--listen ADDR] [--root-token TOKEN]\n"
	    "               [--data-dir DIR] [--disable-mlock]\n"
	    "       cofferd migrate --from OLD.json --to NEW.json\n"
	    "       cofferd --version | --print-seccomp-profile\n"
	    "\n"
	    "  --config FILE      JSON configuration (see README.md); with --dev, its storage\n"
	    "                     (e.g. PostgreSQL) and settings are used\n"
	    "  --dev              an initialized, unsealed server for development; prints the\n"
	    "                     unseal key and root token (never use it in production)\n"
	    "  --listen ADDR      host:port to listen on (default " CONFIG_DEFAULT_LISTEN ")\n"
	    "  --root-token TOKEN dev mode: the root token (or COFFER_DEV_ROOT_TOKEN_ID)\n"
	    "  --data-dir DIR     dev mode: keep the database in DIR (default: a temporary\n"
	    "                     directory removed at exit)\n"
	    "  --disable-mlock    do not lock memory (mlockall)\n"
	    "  --disable-seccomp  do not load the seccomp allow-list after start-up (logs a\n"
	    "                     warning; for a libc that makes a call the list lacks)\n"
	    "  --print-seccomp-profile  print the allow-list as an OCI seccomp profile\n"
	    "  migrate            copy every record of the storage that OLD.json names into the\n"
	    "                     empty storage of NEW.json (SQLite <-> PostgreSQL), offline\n"
	    "  --log-level LEVEL  debug, info, warn or error\n"
	    "  --log-format FMT   text or json\n");
}

static int main_parse_args(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {{"dev", no_argument, NULL, 'd'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"listen", required_argument, NULL, 'l'},
	                                         {"root-token", required_argument, NULL, 't'},
	                                         {"data-dir", required_argument, NULL, 'D'},
	                                         {"disable-mlock", no_argument, NULL, 'm'},
	                                         {"disable-seccomp", no_argument, NULL, 'S'},
	                                         {"print-seccomp-profile", no_argument, NULL, 'P'},
	                                         {"log-level", required_argument, NULL, 'L'},
	                                         {"log-format", required_argument, NULL, 'F'},
	                                         {"version", no_argument, NULL, 'v'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->is_dev = true;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			o->root_token = optarg;
			break;
		case 'D':
			o->data_dir = optarg;
			break;
		case 'm':
			o->disable_mlock = true;
			break;
		case 'S':
			o->disable_seccomp = true;
			break;
		case 'P':
			exit(confine_print_profile(stdout) == 0 ? 0 : 1);
		case 'L':
			o->log_level = optarg;
			break;
		case 'F':
			o->log_format = optarg;
			break;
		case 'v':
			printf("cofferd %s%s\n", COFFER_VERSION, MAIN_BUILD_NOTE);
			exit(0);
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			main_usage(stderr);
			return -1;
		}
	}
	if (optind != argc || (!o->is_dev && o->config_path == NULL)) {
		main_usage(stderr);
		return -1;
	}
	if (!o->is_dev && (o->root_token != NULL || o->data_dir != NULL)) {
		fprintf(stderr, "cofferd: --root-token and --data-dir go with --dev\n");
		return -1;
	}
	if (o->root_token == NULL && o->is_dev)
		o->root_token = getenv("COFFER_DEV_ROOT_TOKEN_ID");
	return 0;
}

/*
 * Lock every page, present and future, once it is touched (MCL_ONFAULT: locking does not fault in
 * every mapping at start-up, such as a sanitizer's shadow memory; kernels before 4.4 lack it). The
 * system call, not mlockall(3): the sanitizer runtimes replace that with a no-op that succeeds.
 */
static int main_mlockall(void)
{
	if (syscall(SYS_mlockall, MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	return (int)syscall(SYS_mlockall, MCL_CURRENT | MCL_FUTURE);
}

/* Keys must never reach a core file, swap or another process's ptrace. Fails closed: without
 * locked memory the server does not start unless disable_mlock says swap is not a concern. */
static void main_harden(bool disable_mlock)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		fatal("setrlimit(RLIMIT_CORE): %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatal("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	if (disable_mlock)
		return;
	if (main_mlockall() != 0)
		fatal("mlockall failed (%s): keys could be swapped out; raise the memlock limit "
		      "(systemd LimitMEMLOCK=infinity, docker --ulimit memlock=-1) or grant "
		      "CAP_IPC_LOCK, or set disable_mlock (--disable-mlock) where swap is off or "
		      "encrypted",
		      strerror(errno));
}

/* After start-up: no exec, fork, ptrace or mount for the rest of the process, and sockets only for
 * outbound TCP (server/net/outbound.c). -1 when the filter could not be loaded: the server stops
 * rather than run unconfined. */
static int main_confine(bool disable_seccomp)
{
	char err[256];

	if (disable_seccomp) {
		log_warn("--disable-seccomp: the seccomp allow-list is not loaded; a compromised "
		         "server could exec, fork and open connections");
		return 0;
	}
	if (confine_apply(err, sizeof(err)) != 0) {
		log_error("%s; stopping (--disable-seccomp runs without it)", err);
		return -1;
	}
	log_debug("confined: seccomp allow-list loaded, no_new_privs set");
	return 0;
}

static int main_config(const struct main_opts *o, struct config *cfg, char *dev_dir,
                       size_t dev_dir_len)
{
	char err[512] = "";
	char path[PATH_MAX];
	const char *env;

	config_init(cfg);
	if (o->config_path != NULL && config_load_file(cfg, o->config_path, err, sizeof(err)))
		goto fail;
	/* Dev mode keeps its SQLite file in the data directory unless the configuration names
	 * another store (cofferd --dev --config FILE with PostgreSQL storage). */
	if (o->is_dev && cfg->storage.kind == STORAGE_SQLITE) {
		if (o->data_dir != NULL) {
			snprintf(dev_dir, dev_dir_len, "%s", o->data_dir);
		} else {
			snprintf(dev_dir, dev_dir_len, "/tmp/coffer-dev-XXXXXX");
			if (mkdtemp(dev_dir) == NULL)
				fatal("mkdtemp: %s", strerror(errno));
		}
		snprintf(path, sizeof(path), "%s/coffer.db", dev_dir);
		cfg->storage.kind = STORAGE_SQLITE;
		config_set_string(&cfg->storage.path, path);
	}
	/* As VAULT_API_ADDR: one configuration for every node, each given its address (a pod's
	 * name from the downward API). */
	if ((env = getenv("COFFER_API_ADDR")) != NULL && env[0] != '\0')
		config_set_string(&cfg->api_addr, env);
	if ((env = getenv("COFFER_CLUSTER_ADDR")) != NULL && env[0] != '\0')
		config_set_string(&cfg->cluster_addr, env);
	if (o->listen != NULL)
		config_set_string(&cfg->listen, o->listen);
	if (o->disable_mlock)
		cfg->disable_mlock = true;
	if (o->log_level != NULL && log_parse_level(o->log_level, &cfg->log_level) != 0) {
		snprintf(err, sizeof(err), "--log-level: must be debug, info, warn or error");
		goto fail;
	}
	if (o->log_format != NULL) {
		if (strcmp(o->log_format, "json") != 0 && strcmp(o->log_format, "text") != 0) {
			snprintf(err, sizeof(err), "--log-format: must be text or json");
			goto fail;
		}
		cfg->log_json = strcmp(o->log_format, "json") == 0;
	}
	if (config_validate(cfg, err, sizeof(err)) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "cofferd: %s\n", err);
	return -1;
}

/* The store's name for messages: the SQLite file or the PostgreSQL table (never the URL, which
 * may hold a password). */
static const char *main_store_name(const struct config *cfg)
{
	return cfg->storage.kind == STORAGE_SQLITE ? cfg->storage.path : cfg->storage.table;
}

/* Dev mode: initialize with one share, unseal, and tell the user how to talk to the server. */
static int main_dev_setup(struct core *c, const char *root_token)
{
	struct seal_init_result r = {0};
	struct seal_status st;
	char key_b64[128];
	int err;

	seal_get_status(c->seal, &st);
	if (st.initialized) {
		log_error("dev mode needs an empty store; %s already holds a vault",
		          main_store_name(c->cfg));
		return COFFER_ERR_EXISTS;
	}
	err = core_initialize(c, 1, 1, root_token, &r);
	if (err == 0)
		err = core_unseal_share(c, r.shares[0], r.share_len);
	if (err == 0)
		err = codec_b64_encode(key_b64, sizeof(key_b64), r.shares[0], r.share_len,
		                       CODEC_B64_STD);
	if (err != 0) {
		log_error("dev mode set-up failed: %s", coffer_strerror(err));
		seal_init_result_clear(&r);
		return err;
	}
	printf(
	    "Coffer dev server: initialized, unsealed, data in %s.\n"
	    "Never use dev mode in production.\n\n"
	    "    Address:     http://%s\n"
	    "    Unseal Key:  %s\n"
	    "    Root Token:  %s\n\n"
	    "Try, in another shell (the coffer CLI is built next to cofferd):\n"
	    "    export COFFER_ADDR=http://%s\n"
	    "    coffer login                  # paste the root token above; it is not echoed\n"
	    "    coffer kv put secret/app/db password=@FILE\n"
	    "    coffer kv get secret/app/db\n"
	    "or with curl:\n"
	    "    curl -s -H \"X-Vault-Token: <the root token>\" $COFFER_ADDR/v1/sys/key-status\n\n",
	    main_store_name(c->cfg), c->cfg->listen, key_b64, r.root_token, c->cfg->listen);
	fflush(stdout);
	secmem_wipe(key_b64, sizeof(key_b64));
	seal_init_result_clear(&r);
	return 0;
}

static void main_remove_dev_dir(const char *dir)
{
	static const char *const files[] = {"coffer.db", "coffer.db-wal", "coffer.db-shm"};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* The signals main_wait() takes; test builds add SIGUSR1 (a forbidden call, main_test_hook). */
static void main_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
#ifdef COFFER_TEST_HOOKS
	sigaddset(set, SIGUSR1);
#endif
}

#ifdef COFFER_TEST_HOOKS
/* Test builds only: SIGUSR1 makes the call named by COFFER_TEST_FORBIDDEN_CALL, which the
 * seccomp filter must answer by killing the process (test_server_sandbox.py). */
static void main_test_hook(void)
{
	const char *what = getenv("COFFER_TEST_FORBIDDEN_CALL");

	log_warn("test hook: making the forbidden call %s", what != NULL ? what : "(none)");
	if (confine_test_forbidden(what) != 0)
		log_error("test hook: %s returned: %s", what != NULL ? what : "(none)",
		          strerror(errno));
}
#endif

/* Wait for a signal; SIGHUP reopens the audit files (after logrotate renamed them). */
static void main_wait(struct core *c)
{
	sigset_t set;
	int sig;

	main_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
#ifdef COFFER_TEST_HOOKS
		if (sig == SIGUSR1) {
			main_test_hook();
			continue;
		}
#endif
		if (sig == SIGHUP) {
			log_info("SIGHUP received: reopening the audit files");
			audit_broker_reopen(c->svc.audit);
			continue;
		}
		log_info("%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

/* A configuration file's storage, for cofferd migrate. Without HA: the store's exclusive lock
 * makes migrate refuse a store that a cofferd is serving. */
static int main_migrate_config(const char *path, struct config *cfg)
{
	char err[512] = "";

	config_init(cfg);
	if (config_load_file(cfg, path, err, sizeof(err)) != 0 ||
	    config_validate(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "cofferd migrate: %s\n", err);
		return -1;
	}
	cfg->storage.ha_enabled = false;
	return 0;
}

static const char *main_storage_label(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->storage.kind == STORAGE_SQLITE)
		snprintf(buf, len, "SQLite %s", cfg->storage.path);
	else
		snprintf(buf, len, "PostgreSQL table %s", cfg->storage.table);
	return buf;
}

/* cofferd migrate --from OLD.json --to NEW.json: copy a whole store, offline (no keys needed:
 * the records are copied as the ciphertext they are). */
static int main_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
	                                         {"to", required_argument, NULL, 't'},
	                                         {NULL, 0, NULL, 0}};
	struct config from_cfg, to_cfg;
	struct storage *from = NULL, *to = NULL;
	struct storage_migrate_result res;
	const char *from_path = NULL, *to_path = NULL;
	char a[320], b[320];
	int ch, err, rc = 1;

	optind = 1;
	while ((ch = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'f')
			from_path = optarg;
		else if (ch == 't')
			to_path = optarg;
		else
			return 2;
	}
	if (from_path == NULL || to_path == NULL || optind != argc) {
		fprintf(stderr, "usage: cofferd migrate --from OLD.json --to NEW.json\n");
		return 2;
	}
	if (secmem_init() != 0)
		fatal("libsodium initialisation failed");
	coffer_json_init_daemon();
	log_init(LOG_LEVEL_INFO, false);
	if (main_migrate_config(from_path, &from_cfg) != 0)
		return 1;
	if (main_migrate_config(to_path, &to_cfg) != 0)
		goto out_from_cfg;
	main_storage_label(&from_cfg, a, sizeof(a));
	main_storage_label(&to_cfg, b, sizeof(b));
	if (storage_open(&from_cfg.storage, &from) != 0 ||
	    storage_open(&to_cfg.storage, &to) != 0) {
		fprintf(stderr, "cofferd migrate: cannot open both stores (see the log above)\n");
		goto out;
	}
	err = storage_migrate(from, to, &res);
	if (err == COFFER_ERR_EXISTS) {
		fprintf(stderr,
		        "cofferd migrate: %s is not empty; migrate only into an empty store\n", b);
		goto out;
	}
	if (err != 0) {
		fprintf(stderr,
		        "cofferd migrate: copying from %s to %s failed after %zu records: %s\n", a,
		        b, res.records, coffer_strerror(err));
		goto out;
	}
	printf("cofferd migrate: copied %zu records (%llu bytes) from %s to %s; checked.\n",
	       res.records, (unsigned long long)res.bytes, a, b);
	rc = 0;
out:
	storage_close(to);
	storage_close(from);
	config_free(&to_cfg);
out_from_cfg:
	config_free(&from_cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct main_opts o;
	struct config cfg;
	struct core *c = NULL;
	struct http_server *h = NULL;
	char dev_dir[PATH_MAX] = "";
	sigset_t set;
	int rc = 1;

	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return main_migrate(argc - 1, argv + 1);
	if (main_parse_args(argc, argv, &o) != 0)
		return 2;
	if (secmem_init() != 0)
		fatal("libsodium initialisation failed");
	coffer_json_init_daemon();
	if (main_config(&o, &cfg, dev_dir, sizeof(dev_dir)) != 0) {
		config_free(&cfg);
		return 1;
	}
	log_init(cfg.log_level, cfg.log_json);
	main_harden(cfg.disable_mlock);
	/* Block the signals in every thread; main_wait() takes them synchronously. */
	main_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Before any other thread exists (curl_global_init is not thread-safe), and before the
	 * filter: what libcurl, its TLS library and glibc's resolver load, they load now. */
	outbound_init();
	if (core_open(&cfg, registry_engines, &c) != 0)
		goto out;
	if (o.is_dev && main_dev_setup(c, o.root_token) != 0)
		goto out;
	if (http_start(c, &h) != 0)
		goto out;
	if (main_confine(o.disable_seccomp) != 0)
		goto out;
	log_info("cofferd %s listening on %s%s", COFFER_VERSION, cfg.listen,
	         cfg.tls_cert_file != NULL ? " (TLS)" : "");
	main_wait(c);
	rc = 0;
out:
	/* Held watch requests must be resumed before the listener can stop. */
	if (c != NULL)
		watch_flush(c->svc.watch, COFFER_ERR_SEALED);
	http_stop(h);
	core_close(c);
	if (o.is_dev && o.data_dir == NULL && dev_dir[0] != '\0' &&
	    cfg.storage.kind == STORAGE_SQLITE)
		main_remove_dev_dir(dev_dir);
	config_free(&cfg);
	return rc;
}
