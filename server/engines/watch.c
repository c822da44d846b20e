/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.c: change notification (DESIGN.md §5). Remembers the change index of every path changed
 * since unseal, hands out strictly increasing indexes (microseconds, so JavaScript clients keep
 * them exact), and answers a watch (for watch_routes.c): at once when a watched path changed after
 * the client's index, else a held request woken by watch_notify(), its wait running out, or seal.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hash.h"
#include "store/barrier.h"
#include "api/request.h"
#include "json.h"
#include "path.h"
#include "engines/watch.h"
#include "xmalloc.h"

#define WATCH_MAX_HELD 1024 /* held requests at once; more get 429 */
#define WATCH_BUCKETS 4096

struct watch_path {
	struct watch_path *next;
	uint64_t index;
	char path[];
};

/* A held request. Two references: the transport's, and the watch's while it is listed. */
struct watch_waiter {
	struct response_hold hold;
	struct watch *w;
	struct watch_waiter *prev, *next; /* in w->waiters while armed */
	int refs;
	int end_err; /* ended by seal or step-down: the error it answers; 0 otherwise */
	uint64_t since;
	int64_t deadline_ms; /* CLOCK_MONOTONIC */
	void (*resume)(void *arg);
	void *resume_arg;
	size_t n_paths;
	char **paths;
	char request_id[37];
	char accessor[32]; /* of the caller's token: held requests are capped per token */
	size_t cap;        /* max_watches_per_token; 0 once refused by the global cap */
	bool is_over;      /* armed past a cap (429) */
};

struct watch {
	struct barrier *b;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* the timer thread sleeps on it */
	pthread_t timer;
	bool has_timer;
	bool is_stopping;
	uint64_t last; /* the latest index handed out or loaded */
	/* Indexes handed out whose change is not announced yet (still committing), ascending: an
	 * answer must not tell a client it has seen them (watch_stable_index). */
	uint64_t *pending;
	size_t n_pending, cap_pending;
	uint64_t persisted; /* the index stored at unseal: unknown paths changed at or before it */
	struct watch_path *buckets[WATCH_BUCKETS];
	struct watch_waiter *waiters;
	size_t n_held;
	/* Whole subtrees that changed (unmounts): rare, so a plain list. */
	struct watch_path *prefixes;
};

static int64_t watch_now_ms(void)
{
	return coffer_clock_mono_ns() / 1000000;
}

static size_t watch_bucket(const char *path)
{
	return (size_t)(coffer_fnv1a_add_str(COFFER_FNV1A_INIT, path) % WATCH_BUCKETS);
}

/* The index at which path last changed, as far as this process knows; caller holds mu. */
static uint64_t watch_path_index(const struct watch *w, const char *path)
{
	const struct watch_path *p;

	uint64_t idx = w->persisted;

	for (p = w->buckets[watch_bucket(path)]; p != NULL; p = p->next) {
		if (strcmp(p->path, path) == 0) {
			idx = p->index;
			break;
		}
	}
	for (p = w->prefixes; p != NULL; p = p->next) {
		if (p->index > idx && strncmp(path, p->path, strlen(p->path)) == 0)
			idx = p->index;
	}
	return idx;
}

void watch_index_encode(uint64_t index, uint8_t out[8])
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)index;
		index >>= 8;
	}
}

uint64_t watch_next_index(struct watch *w)
{
	uint64_t now = (uint64_t)coffer_clock_now_ns() / 1000, idx;

	pthread_mutex_lock(&w->mu);
	idx = now > w->last ? now : w->last + 1;
	w->last = idx;
	if (w->n_pending == w->cap_pending) {
		w->cap_pending = w->cap_pending != 0 ? w->cap_pending * 2 : 64;
		w->pending = xreallocarray(w->pending, w->cap_pending, sizeof(*w->pending));
	}
	w->pending[w->n_pending++] = idx; /* ascending: idx is the largest yet */
	pthread_mutex_unlock(&w->mu);
	return idx;
}

/* Drop index from the changes in flight; caller holds mu. */
static void watch_index_done_locked(struct watch *w, uint64_t index)
{
	for (size_t i = 0; i < w->n_pending; i++) {
		if (w->pending[i] == index) {
			memmove(&w->pending[i], &w->pending[i + 1],
			        (w->n_pending - i - 1) * sizeof(*w->pending));
			w->n_pending--;
			break;
		}
	}
}

void watch_index_done(struct watch *w, uint64_t index)
{
	pthread_mutex_lock(&w->mu);
	watch_index_done_locked(w, index);
	pthread_mutex_unlock(&w->mu);
}

/* The index an answer may give: below every change still committing; caller holds mu. */
static uint64_t watch_stable_locked(const struct watch *w)
{
	return w->n_pending > 0 ? w->pending[0] - 1 : w->last;
}

uint64_t watch_stable_index(struct watch *w)
{
	uint64_t idx;

	pthread_mutex_lock(&w->mu);
	idx = watch_stable_locked(w);
	pthread_mutex_unlock(&w->mu);
	return idx;
}

/* Resume a listed waiter with its outcome; caller holds mu. */
static void watch_wake(struct watch *w, struct watch_waiter *ww)
{
	if (ww->prev != NULL)
		ww->prev->next = ww->next;
	else
		w->waiters = ww->next;
	if (ww->next != NULL)
		ww->next->prev = ww->prev;
	ww->prev = ww->next = NULL;
	w->n_held--;
	ww->resume(ww->resume_arg);
	ww->refs--; /* the list's reference; the transport still holds one */
}

static bool watch_waiter_changed(const struct watch *w, const struct watch_waiter *ww)
{
	size_t i;

	for (i = 0; i < ww->n_paths; i++) {
		if (watch_path_index(w, ww->paths[i]) > ww->since)
			return true;
	}
	return false;
}

/* Remember that path changed at index; caller holds mu. */
static void watch_record(struct watch *w, const char *path, uint64_t index)
{
	size_t b = watch_bucket(path);
	struct watch_path *p;

	for (p = w->buckets[b]; p != NULL && strcmp(p->path, path) != 0; p = p->next)
		;
	if (p == NULL) {
		p = xmalloc(sizeof(*p) + strlen(path) + 1);
		memcpy(p->path, path, strlen(path) + 1);
		p->index = 0;
		p->next = w->buckets[b];
		w->buckets[b] = p;
	}
	if (index > p->index)
		p->index = index;
}

void watch_notify(struct watch *w, const char *const *paths, uint64_t index)
{
	struct watch_waiter *ww, *next;
	size_t i, j;

	pthread_mutex_lock(&w->mu);
	/* Every path first, then the index is out of flight, then the waiters: a woken request
	 * answers with an index that covers this change, and sees all of its paths. */
	for (j = 0; paths[j] != NULL; j++)
		watch_record(w, paths[j], index);
	watch_index_done_locked(w, index);
	for (ww = w->waiters; ww != NULL; ww = next) {
		next = ww->next;
		for (i = 0; i < ww->n_paths && index > ww->since; i++) {
			for (j = 0; paths[j] != NULL && strcmp(ww->paths[i], paths[j]) != 0; j++)
				;
			if (paths[j] != NULL) {
				watch_wake(w, ww);
				break;
			}
		}
	}
	pthread_mutex_unlock(&w->mu);
}

void watch_notify_prefix(struct watch *w, const char *prefix, uint64_t index)
{
	struct watch_waiter *ww, *next;
	struct watch_path *p;
	size_t i;

	pthread_mutex_lock(&w->mu);
	p = xmalloc(sizeof(*p) + strlen(prefix) + 1);
	memcpy(p->path, prefix, strlen(prefix) + 1);
	p->index = index;
	p->next = w->prefixes;
	w->prefixes = p;
	watch_index_done_locked(w, index);
	for (ww = w->waiters; ww != NULL; ww = next) {
		next = ww->next;
		for (i = 0; i < ww->n_paths; i++) {
			if (strncmp(ww->paths[i], prefix, strlen(prefix)) == 0) {
				watch_wake(w, ww);
				break;
			}
		}
	}
	pthread_mutex_unlock(&w->mu);
}

/* Ends held requests whose wait ran out. */
static void *watch_timer_main(void *arg)
{
	struct watch *w = arg;
	struct watch_waiter *ww, *next;
	struct timespec ts;
	int64_t now, soonest;

	pthread_mutex_lock(&w->mu);
	while (!w->is_stopping) {
		now = watch_now_ms();
		soonest = now + 1000;
		for (ww = w->waiters; ww != NULL; ww = next) {
			next = ww->next;
			if (ww->deadline_ms <= now)
				watch_wake(w, ww);
			else if (ww->deadline_ms < soonest)
				soonest = ww->deadline_ms;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (soonest - now) / 1000;
		ts.tv_nsec += ((soonest - now) % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct watch *watch_new(struct barrier *b)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;

	w->b = b;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	return w;
}

static void watch_forget_paths(struct watch *w)
{
	struct watch_path *p, *next;
	size_t i;

	for (i = 0; i < WATCH_BUCKETS; i++) {
		for (p = w->buckets[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
		w->buckets[i] = NULL;
	}
	for (p = w->prefixes; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	w->prefixes = NULL;
}

int watch_setup(struct watch *w)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	uint64_t stored = 0;
	int err;

	err = barrier_get(w->b, WATCH_INDEX_PATH, &buf, &len);
	if (err == 0 && len == 8) {
		for (i = 0; i < 8; i++)
			stored = stored << 8 | buf[i];
	} else if (err != 0 && err != COFFER_ERR_NOT_FOUND) {
		return err;
	}
	if (buf != NULL)
		free(buf);
	pthread_mutex_lock(&w->mu);
	w->persisted = stored;
	if (w->last < stored)
		w->last = stored;
	w->is_stopping = false;
	/* Under mu: a seal (or the shutdown) may flush from another thread meanwhile. */
	if (!w->has_timer && pthread_create(&w->timer, NULL, watch_timer_main, w) == 0)
		w->has_timer = true;
	err = w->has_timer ? 0 : COFFER_ERR_INTERNAL;
	pthread_mutex_unlock(&w->mu);
	return err;
}

void watch_flush(struct watch *w, int why)
{
	pthread_t timer;
	bool has_timer;

	pthread_mutex_lock(&w->mu);
	while (w->waiters != NULL) {
		w->waiters->end_err = why;
		watch_wake(w, w->waiters);
	}
	watch_forget_paths(w);
	w->is_stopping = true;
	pthread_cond_signal(&w->cond);
	has_timer = w->has_timer;
	timer = w->timer;
	w->has_timer = false;
	pthread_mutex_unlock(&w->mu);
	if (has_timer)
		pthread_join(timer, NULL);
}

void watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	watch_flush(w, COFFER_ERR_SEALED);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w->pending);
	free(w);
}

static struct watch_waiter *watch_waiter_of(struct response_hold *h)
{
	return (struct watch_waiter *)(void *)((char *)h - offsetof(struct watch_waiter, hold));
}

/* The paths of ww that changed after its index, as a JSON array; caller holds mu. */
static json_t *watch_changed_json(const struct watch *w, char *const *paths, size_t n,
                                  uint64_t since)
{
	json_t *changed = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		if (watch_path_index(w, paths[i]) > since)
			json_array_append_new(changed, json_string(paths[i]));
	}
	return changed;
}

static json_t *watch_all_json(char *const *paths, size_t n)
{
	json_t *all = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(all, json_string(paths[i]));
	return all;
}

static void watch_respond(struct response *resp, const char *request_id, uint64_t index,
                          json_t *changed)
{
	struct request r;

	/* response_envelope() reads only the request id. */
	memset(&r, 0, sizeof(r));
	memcpy(r.request_id, request_id, sizeof(r.request_id));
	response_envelope(resp, &r,
	                  json_pack("{s:I,s:o}", "index", (json_int_t)index, "changed", changed),
	                  NULL, NULL);
}

/* Held requests of the token with this accessor; caller holds mu. */
static size_t watch_held_by(const struct watch *w, const char *accessor)
{
	const struct watch_waiter *ww;
	size_t n = 0;

	for (ww = w->waiters; ww != NULL; ww = ww->next)
		n += strcmp(ww->accessor, accessor) == 0;
	return n;
}

/* The 429 of a request past a cap (global when cap is 0). */
static void watch_refuse_over(struct response *resp, size_t cap)
{
	if (cap == 0)
		response_fail(resp, COFFER_ERR_LIMIT, "too many held watch requests");
	else
		response_fail(resp, COFFER_ERR_LIMIT,
		              "too many held watch requests for this token (limit %zu, "
		              "max_watches_per_token)",
		              cap);
}

static void watch_hold_arm(struct response_hold *h, void (*resume)(void *arg), void *arg)
{
	struct watch_waiter *ww = watch_waiter_of(h);
	struct watch *w = ww->w;

	pthread_mutex_lock(&w->mu);
	ww->resume = resume;
	ww->resume_arg = arg;
	/* A change may have come between the handler's check and now. */
	if (watch_waiter_changed(w, ww) || w->is_stopping) {
		ww->end_err = w->is_stopping ? COFFER_ERR_SEALED : 0;
		pthread_mutex_unlock(&w->mu);
		resume(arg);
		return;
	}
	/* The handler checked the caps without listing the request: requests of one token armed
	 * at once may all have passed, so the check that counts is this one, under mu. */
	if (w->n_held >= WATCH_MAX_HELD || watch_held_by(w, ww->accessor) >= ww->cap) {
		ww->is_over = true;
		if (w->n_held >= WATCH_MAX_HELD)
			ww->cap = 0; /* the global cap */
		pthread_mutex_unlock(&w->mu);
		resume(arg);
		return;
	}
	ww->refs++;
	ww->next = w->waiters;
	if (w->waiters != NULL)
		w->waiters->prev = ww;
	w->waiters = ww;
	w->n_held++;
	pthread_cond_signal(&w->cond); /* the timer may need to wake sooner */
	pthread_mutex_unlock(&w->mu);
}

static void watch_hold_finish(struct response_hold *h, struct response *resp)
{
	struct watch_waiter *ww = watch_waiter_of(h);
	struct watch *w = ww->w;
	json_t *changed;
	uint64_t last;

	if (ww->end_err != 0) {
		response_err(resp, ww->end_err);
		return;
	}
	if (ww->is_over) {
		watch_refuse_over(resp, ww->cap);
		return;
	}
	pthread_mutex_lock(&w->mu);
	changed = watch_changed_json(w, ww->paths, ww->n_paths, ww->since);
	last = watch_stable_locked(w);
	pthread_mutex_unlock(&w->mu);
	watch_respond(resp, ww->request_id, last, changed);
}

static void watch_waiter_free(struct watch_waiter *ww)
{
	size_t i;

	for (i = 0; i < ww->n_paths; i++)
		free(ww->paths[i]);
	free(ww->paths);
	free(ww);
}

static void watch_hold_release(struct response_hold *h)
{
	struct watch_waiter *ww = watch_waiter_of(h);
	struct watch *w = ww->w;
	bool is_last;

	pthread_mutex_lock(&w->mu);
	is_last = --ww->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (is_last)
		watch_waiter_free(ww);
}

/* Room for one more held request (global and per token); caller holds mu. */
static int watch_check_room(const struct watch *w, size_t cap, const char *accessor,
                            struct response *resp)
{
	if (w->n_held >= WATCH_MAX_HELD) {
		watch_refuse_over(resp, 0);
		return COFFER_ERR_LIMIT;
	}
	if (watch_held_by(w, accessor) >= cap) {
		watch_refuse_over(resp, cap);
		return COFFER_ERR_LIMIT;
	}
	return 0;
}

void watch_answer(struct watch *w, struct watch_query *q, struct response *resp)
{
	struct watch_waiter *ww;
	json_t *changed;
	size_t i;

	pthread_mutex_lock(&w->mu);
	/* Index 0 is a client that knows nothing yet: every path counts as changed, at once. */
	changed = q->since == 0 ? watch_all_json(q->paths, q->n_paths)
	                        : watch_changed_json(w, q->paths, q->n_paths, q->since);
	if (json_array_size(changed) > 0 || q->wait_s == 0) {
		uint64_t last = watch_stable_locked(w);

		pthread_mutex_unlock(&w->mu);
		watch_respond(resp, q->request_id, last, changed);
		goto out;
	}
	json_decref(changed);
	if (watch_check_room(w, q->cap_per_token, q->accessor, resp) != 0) {
		pthread_mutex_unlock(&w->mu);
		goto out;
	}
	pthread_mutex_unlock(&w->mu);
	ww = xcalloc(1, sizeof(*ww));
	ww->hold.arm = watch_hold_arm;
	ww->hold.finish = watch_hold_finish;
	ww->hold.release = watch_hold_release;
	ww->w = w;
	ww->refs = 1;
	ww->since = q->since;
	ww->deadline_ms = watch_now_ms() + q->wait_s * 1000;
	ww->paths = q->paths;
	ww->n_paths = q->n_paths;
	q->paths = NULL;
	q->n_paths = 0;
	memcpy(ww->request_id, q->request_id, sizeof(ww->request_id));
	snprintf(ww->accessor, sizeof(ww->accessor), "%s", q->accessor);
	ww->cap = q->cap_per_token;
	resp->hold = &ww->hold;
	resp->status = 200;
	return;
out:
	for (i = 0; i < q->n_paths; i++)
		free(q->paths[i]);
	free(q->paths);
	q->paths = NULL;
	q->n_paths = 0;
}
