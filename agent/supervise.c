/* SPDX-License-Identifier: Apache-2.0 */
/*
 * supervise.c: rendering every file at once, writing them, and sidecar mode (DESIGN.md §7): the
 * first complete render and the ready file, then change notification through POST sys/watch (or
 * polling), token renewal at 2/3 of the TTL, login again when renewal fails, backoff with jitter
 * on errors, a signal to the app after a change, and SIGTERM (optionally removing the files).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "agent.h"
#include "fileio.h"
#include "http_client.h"
#include "log.h"
#include "secmem.h"

#define SUPERVISE_BACKOFF_MIN_S 1
#define SUPERVISE_BACKOFF_MAX_S 300
#define SUPERVISE_WATCH_MAX_S 300

int agent_render_all(const struct agent_config *cfg, json_t *const *data, struct buf *out,
                     char *err, size_t err_len)
{
	char msg[AGENT_ERR_LEN];
	size_t i;
	int rc;

	for (i = 0; i < cfg->n_secrets; i++) {
		if (cfg->secrets[i].file == NULL)
			continue;
		rc = render_secret(cfg, i, data, &out[i], msg, sizeof(msg));
		if (rc != 0) {
			snprintf(err, err_len, "secret %s: %s", cfg->secrets[i].name, msg);
			return rc;
		}
	}
	return 0;
}

int agent_write_files(const struct agent_config *cfg, int dir_fd, const struct buf *out)
{
	char err[AGENT_ERR_LEN];
	size_t i, j;

	for (i = 0; i < cfg->n_secrets; i++) {
		const struct agent_secret *s = &cfg->secrets[i];

		if (s->file == NULL)
			continue;
		if (sink_write(dir_fd, s->file, cfg->uid, cfg->gid, s->mode, out[i].data,
		               out[i].len, err, sizeof(err)) != 0) {
			log_error("writing secret %s: %s", s->name, err);
			for (j = 0; j < i; j++)
				if (cfg->secrets[j].file != NULL)
					(void)sink_remove(dir_fd, cfg->secrets[j].file);
			return COFFER_ERR_IO;
		}
	}
	if (cfg->ready_file != NULL && sink_write(dir_fd, cfg->ready_file, cfg->uid, cfg->gid,
	                                          cfg->mode, "", 0, err, sizeof(err)) != 0) {
		log_error("writing the ready file: %s", err);
		return COFFER_ERR_IO;
	}
	return 0;
}

/* --- sidecar ------------------------------------------------------------------------------- */

struct supervise {
	const struct agent_config *cfg;
	struct coffer_http *h, *hw; /* hw: the watch client, with a longer timeout */
	struct agent_auth *a;
	int dir_fd;
	json_t **data;
	uint8_t (*hash)[crypto_generichash_BYTES]; /* of each file as last written */
	uint8_t hash_key[crypto_generichash_KEYBYTES];
	uint64_t index;
	bool is_ready, is_watch_ok, needs_login, needs_refresh;
	bool is_renew_final; /* the last renewal hit the max TTL: log in next time */
	int64_t login_ttl_s; /* the TTL the last login granted */
	int n_watch_denied;  /* 403 answers to sys/watch in a row */
	int64_t renew_at, next_poll, backoff_s;
};

/* For the SIGTERM handler, which may only use async-signal-safe calls. */
static const struct agent_config *supervise_cfg;
static int supervise_dir_fd = -1;

static void supervise_on_term(int sig)
{
	size_t i;

	(void)sig;
	if (supervise_cfg != NULL && supervise_cfg->remove_files_on_exit) {
		if (supervise_cfg->ready_file != NULL)
			(void)unlinkat(supervise_dir_fd, supervise_cfg->ready_file, 0);
		for (i = 0; i < supervise_cfg->n_secrets; i++)
			if (supervise_cfg->secrets[i].file != NULL)
				(void)unlinkat(supervise_dir_fd, supervise_cfg->secrets[i].file, 0);
	}
	_exit(0);
}

static int64_t supervise_now(void)
{
	return coffer_clock_mono_ns() / 1000000000;
}

static void supervise_sleep(int64_t s)
{
	struct timespec ts = {(time_t)s, 0};

	while (s > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleep the current backoff (half of it fixed, half random), then double it. */
static void supervise_backoff(struct supervise *sv)
{
	int64_t half = sv->backoff_s / 2, s;

	s = sv->backoff_s - half +
	    (half > 0 ? (int64_t)randombytes_uniform((uint32_t)half + 1) : 0);
	log_info("retrying in %llds", (long long)s);
	supervise_sleep(s);
	sv->backoff_s *= 2;
	if (sv->backoff_s > SUPERVISE_BACKOFF_MAX_S)
		sv->backoff_s = SUPERVISE_BACKOFF_MAX_S;
}

static void supervise_schedule_renew(struct supervise *sv)
{
	sv->renew_at = sv->a->ttl_s > 0 ? supervise_now() + sv->a->ttl_s * 2 / 3 : INT64_MAX;
}

static int supervise_login(struct supervise *sv)
{
	char err[AGENT_ERR_LEN];

	if (sv->cfg->auth_method == AGENT_AUTH_TOKEN_FILE) {
		secmem_free(sv->a->token);
		sv->a->token = NULL;
	}
	if (auth_login(sv->cfg, sv->h, sv->a, err, sizeof(err)) != 0) {
		log_error("login: %s", err);
		return -1;
	}
	log_info("logged in (token TTL %llds)", (long long)sv->a->ttl_s);
	sv->needs_login = false;
	sv->is_renew_final = false;
	sv->login_ttl_s = sv->a->ttl_s;
	supervise_schedule_renew(sv);
	return 0;
}

static void supervise_renew(struct supervise *sv)
{
	char err[AGENT_ERR_LEN];

	if (!sv->a->is_renewable || sv->is_renew_final) {
		sv->needs_login = true;
		return;
	}
	if (auth_renew(sv->h, sv->a, err, sizeof(err)) != 0) {
		log_warn("%s; logging in again", err);
		sv->needs_login = true;
		return;
	}
	/* Less than the login granted: the max TTL is near. Log in again at 2/3 of what is left
	 * instead of renewing once more. */
	if (sv->a->ttl_s < sv->login_ttl_s)
		sv->is_renew_final = true;
	log_debug("token renewed (TTL %llds)", (long long)sv->a->ttl_s);
	/* A TTL of 0 here is a token that ends within the second, not one that never expires:
	 * log in again at once. */
	if (sv->a->ttl_s <= 0) {
		sv->is_renew_final = true;
		sv->renew_at = supervise_now();
		return;
	}
	supervise_schedule_renew(sv);
}

/* POST sys/watch: 1 if a watched path changed, 0 if the wait ran out, -1 after an error. */
static int supervise_watch(struct supervise *sv, int64_t wait_s)
{
	json_t *body = NULL, *paths = json_array(), *resp = NULL, *d;
	char wait[32];
	long status = 0;
	size_t i;
	int rc = -1;

	if (paths == NULL)
		goto out;
	for (i = 0; i < sv->cfg->n_secrets; i++)
		if (sv->cfg->secrets[i].path != NULL)
			json_array_append_new(paths, json_string(sv->cfg->secrets[i].path));
	snprintf(wait, sizeof(wait), "%llds", (long long)wait_s);
	body = json_pack("{s:O,s:I,s:s}", "paths", paths, "index", (json_int_t)sv->index, "wait",
	                 wait);
	if (body == NULL || coffer_http_request(sv->hw, "POST", "sys/watch", sv->a->token, body,
	                                        &status, &resp) != 0) {
		log_warn("watch: %s", body == NULL ? "out of memory" : coffer_http_error(sv->hw));
		goto out;
	}
	d = json_object_get(resp, "data");
	if (status == 200 && json_integer_value(json_object_get(d, "index")) == 0) {
		/* A server that has no index yet: asking again with 0 would answer at once, so wait
		 * this round out and let polling cover it. */
		supervise_sleep(wait_s);
		rc = 0;
	} else if (status == 200 && json_is_integer(json_object_get(d, "index"))) {
		rc = json_array_size(json_object_get(d, "changed")) > 0 ? 1 : 0;
		/* A wait that ran out keeps the old index: nothing is lost by asking again from
		 * it, while a server whose answer covered a write still committing (cofferd's does
		 * not since watch_stable_index) would make moving past it lose that change. */
		if (rc == 1 || sv->index == 0)
			sv->index = (uint64_t)json_integer_value(json_object_get(d, "index"));
	} else if (status == 400 || status == 404 || status == 405 || status == 501 ||
	           (status == 403 && sv->n_watch_denied > 0)) {
		/* No watch extension (a Vault server), too many paths, or a policy without it. */
		log_info("sys/watch unavailable (HTTP %ld): polling every %llds", status,
		         (long long)sv->cfg->poll_interval_s);
		sv->is_watch_ok = false;
		rc = 0;
	} else {
		log_warn("watch: HTTP %ld", status);
		/* A 403 may be an expired token: log in again; a second one in a row means the
		 * policy does not allow the watch, and polling takes over. */
		if (status == 403) {
			sv->needs_login = true;
			sv->n_watch_denied++;
		}
	}
	if (status == 200)
		sv->n_watch_denied = 0;
out:
	json_decref(resp);
	json_decref(body);
	json_decref(paths);
	return rc;
}

static void supervise_notify(const struct agent_config *cfg)
{
	char buf[32], err[AGENT_ERR_LEN], *end, *text;
	long pid;

	if (cfg->notify_signal == 0)
		return;
	text = auth_read_file(cfg->notify_pid_file, COFFER_SECRET_FILE_ANY_MODE, err, sizeof(err));
	if (text == NULL) {
		log_warn("notify: %s", err);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	secmem_free(text);
	errno = 0;
	pid = strtol(buf, &end, 10);
	/* Above INT_MAX it would not be the pid the kernel reads (and the filter would kill). */
	if (errno != 0 || *end != '\0' || pid <= 1 || pid > INT_MAX) {
		log_warn("notify: %s does not hold a pid", cfg->notify_pid_file);
		return;
	}
	if (kill((pid_t)pid, cfg->notify_signal) != 0)
		log_warn("notify: signal to pid %ld: %s", pid, strerror(errno));
	else
		log_info("notified pid %ld with signal %d", pid, cfg->notify_signal);
}

/* Render every file; write those that changed. The first time, all or nothing. */
static int supervise_render(struct supervise *sv)
{
	const struct agent_config *cfg = sv->cfg;
	struct buf *out = calloc(cfg->n_secrets, sizeof(*out));
	uint8_t hash[crypto_generichash_BYTES];
	char err[AGENT_ERR_LEN];
	size_t i, n_changed = 0;
	int rc = 0;

	if (out == NULL)
		return -1;
	if (!sv->is_ready) {
		rc = agent_render_all(cfg, sv->data, out, err, sizeof(err));
		if (rc != 0)
			log_error("%s; no file written", err);
		else
			rc = agent_write_files(cfg, sv->dir_fd, out);
		for (i = 0; rc == 0 && i < cfg->n_secrets; i++)
			crypto_generichash(sv->hash[i], sizeof(sv->hash[i]),
			                   (const uint8_t *)out[i].data, out[i].len, sv->hash_key,
			                   sizeof(sv->hash_key));
		if (rc == 0) {
			sv->is_ready = true;
			log_info("first render complete: %s", cfg->dest_dir);
		}
		goto out;
	}
	for (i = 0; i < cfg->n_secrets; i++) {
		if (cfg->secrets[i].file == NULL)
			continue;
		if (render_secret(cfg, i, sv->data, &out[i], err, sizeof(err)) != 0) {
			log_error("secret %s: %s; keeping the old file", cfg->secrets[i].name, err);
			continue;
		}
		crypto_generichash(hash, sizeof(hash), (const uint8_t *)out[i].data, out[i].len,
		                   sv->hash_key, sizeof(sv->hash_key));
		if (sodium_memcmp(hash, sv->hash[i], sizeof(hash)) == 0)
			continue;
		if (sink_write(sv->dir_fd, cfg->secrets[i].file, cfg->uid, cfg->gid,
		               cfg->secrets[i].mode, out[i].data, out[i].len, err,
		               sizeof(err)) != 0) {
			log_error("writing secret %s: %s", cfg->secrets[i].name, err);
			continue;
		}
		memcpy(sv->hash[i], hash, sizeof(hash));
		log_info("secret %s changed: %s rewritten", cfg->secrets[i].name,
		         cfg->secrets[i].file);
		n_changed++;
	}
	if (n_changed > 0)
		supervise_notify(cfg);
out:
	for (i = 0; i < cfg->n_secrets; i++)
		buf_free(&out[i]);
	free(out);
	return rc == 0 ? 0 : -1;
}

/* Fetch every secret into sv->data. Before the first render, all or nothing; after it, the
 * secrets that could be read are rendered and the others keep their old files. -1 after an
 * error (logged), when the caller backs off and refreshes again. */
static int supervise_fetch(struct supervise *sv, size_t *n_fetched)
{
	const struct agent_config *cfg = sv->cfg;
	char err[AGENT_ERR_LEN];
	size_t i;
	int rc, result = 0;

	*n_fetched = 0;
	for (i = 0; i < cfg->n_secrets; i++) {
		if (cfg->secrets[i].path == NULL)
			continue;
		rc = fetch_secret(sv->h, sv->a->token, cfg->secrets[i].path, &sv->data[i], err,
		                  sizeof(err));
		if (rc == 0) {
			(*n_fetched)++;
			continue;
		}
		log_error("secret %s (%s): %s", cfg->secrets[i].name, cfg->secrets[i].path, err);
		result = -1;
		if (rc == COFFER_ERR_PERMISSION)
			sv->needs_login = true;
		if (!sv->is_ready || sv->needs_login)
			break;
	}
	return result;
}

/* Fetch and render; -1 after an error (logged). */
static int supervise_refresh(struct supervise *sv)
{
	size_t i, n_fetched;
	int rc;

	rc = supervise_fetch(sv, &n_fetched);
	if ((rc == 0 || (sv->is_ready && n_fetched > 0)) && supervise_render(sv) != 0)
		rc = -1;
	if (rc == 0) {
		sv->needs_refresh = false;
		sv->next_poll = supervise_now() + sv->cfg->poll_interval_s;
	}
	/* Every refresh fetches everything again: keep no plaintext between refreshes. */
	for (i = 0; i < sv->cfg->n_secrets; i++) {
		json_decref(sv->data[i]);
		sv->data[i] = NULL;
	}
	return rc;
}

/* One step of the loop: 0, or -1 when the caller should back off. */
static int supervise_step(struct supervise *sv)
{
	int64_t now = supervise_now(), wait_s;
	int changed;

	if (sv->needs_login && supervise_login(sv) != 0)
		return -1;
	if (now >= sv->renew_at) {
		supervise_renew(sv);
		return 0;
	}
	/* Before the first fetch, ask for the current index so that no change is missed. */
	if (!sv->is_ready && sv->is_watch_ok && sv->index == 0 && supervise_watch(sv, 0) < 0)
		return -1;
	if (!sv->is_ready || sv->needs_refresh || now >= sv->next_poll)
		return supervise_refresh(sv);
	wait_s = sv->next_poll - now;
	if (sv->renew_at - now < wait_s)
		wait_s = sv->renew_at - now;
	if (wait_s > SUPERVISE_WATCH_MAX_S)
		wait_s = SUPERVISE_WATCH_MAX_S;
	if (wait_s < 1)
		wait_s = 1;
	if (!sv->cfg->watch || !sv->is_watch_ok) {
		supervise_sleep(wait_s);
		return 0;
	}
	changed = supervise_watch(sv, wait_s);
	if (changed < 0)
		return -1;
	if (changed == 0)
		return 0;
	/* The index has moved past this change: remember it until a refresh succeeds. */
	sv->needs_refresh = true;
	return supervise_refresh(sv);
}

int supervise_run(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
                  int dir_fd, json_t **data)
{
	struct supervise sv = {0};
	struct sigaction sa;
	char err[AGENT_ERR_LEN];
	int rc = 1;

	sv.cfg = cfg;
	sv.h = h;
	sv.a = a;
	sv.dir_fd = dir_fd;
	sv.data = data;
	sv.is_watch_ok = cfg->watch;
	sv.needs_login = true;
	sv.backoff_s = SUPERVISE_BACKOFF_MIN_S;
	randombytes_buf(sv.hash_key, sizeof(sv.hash_key));
	sv.hash = calloc(cfg->n_secrets, sizeof(*sv.hash));
	sv.hw = coffer_http_new(cfg->address, cfg->ca_cert,
	                        (long)(SUPERVISE_WATCH_MAX_S + cfg->timeout_s) * 1000, err,
	                        sizeof(err));
	if (sv.hash == NULL || sv.hw == NULL) {
		log_error("sidecar: %s", sv.hw == NULL ? err : "out of memory");
		goto out;
	}
	supervise_cfg = cfg;
	supervise_dir_fd = dir_fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = supervise_on_term;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
		log_error("sigaction: %s", strerror(errno));
		goto out;
	}
	log_info("sidecar: watching %zu secret(s)%s", cfg->n_secrets,
	         cfg->watch ? "" : " by polling");
	for (;;) {
		if (supervise_step(&sv) != 0)
			supervise_backoff(&sv);
		else
			sv.backoff_s = SUPERVISE_BACKOFF_MIN_S;
	}
out:
	coffer_http_free(sv.hw);
	free(sv.hash);
	return rc;
}
