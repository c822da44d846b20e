/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.c: the expiration manager (DESIGN.md §4): a min-heap of {expiry, lease id} with a map of
 * each lease's current expiry (heap items that disagree with the map are stale and skipped), and
 * a thread that revokes due leases through the owner's callback. Created by core.c; fed by
 * token.c; served by lease_routes.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hash.h"
#include "json.h"
#include "identity/lease.h"
#include "log.h"
#include "xmalloc.h"

#define LEASE_RETRY_S 10 /* delay before retrying a revocation that failed */

struct lease_item {
	int64_t expire_time;
	char *id;
};

struct lease_slot {
	char *id;
	int64_t expire_time;
	struct lease_slot *next;
};

struct lease_mgr {
	lease_revoke_fn revoke;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lease_item *heap; /* min-heap by expire_time; may hold stale items */
	size_t heap_n, heap_cap;
	struct lease_slot **buckets; /* lease id -> current expiry */
	size_t n_buckets, n;
	pthread_t thread;
	bool is_running;
	bool is_stopping;
};

/* ---- the map ---- */

static size_t lease_hash(const char *id)
{
	return (size_t)coffer_fnv1a_add_str(COFFER_FNV1A_INIT, id);
}

static struct lease_slot **lease_map_find(struct lease_mgr *lm, const char *id)
{
	struct lease_slot **pp = &lm->buckets[lease_hash(id) & (lm->n_buckets - 1)];

	while (*pp != NULL && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void lease_map_grow(struct lease_mgr *lm)
{
	size_t n = lm->n_buckets * 2;
	struct lease_slot **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < lm->n_buckets; i++) {
		while (lm->buckets[i] != NULL) {
			struct lease_slot *s = lm->buckets[i];

			lm->buckets[i] = s->next;
			s->next = b[lease_hash(s->id) & (n - 1)];
			b[lease_hash(s->id) & (n - 1)] = s;
		}
	}
	free(lm->buckets);
	lm->buckets = b;
	lm->n_buckets = n;
}

static void lease_map_set(struct lease_mgr *lm, const char *id, int64_t expire_time)
{
	struct lease_slot **pp = lease_map_find(lm, id), *s;

	if (*pp != NULL) {
		(*pp)->expire_time = expire_time;
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->id = xstrdup(id);
	s->expire_time = expire_time;
	*pp = s;
	if (++lm->n > 2 * lm->n_buckets)
		lease_map_grow(lm);
}

static void lease_map_remove(struct lease_mgr *lm, const char *id)
{
	struct lease_slot **pp = lease_map_find(lm, id), *s = *pp;

	if (s == NULL)
		return;
	*pp = s->next;
	free(s->id);
	free(s);
	lm->n--;
}

/* ---- the heap ---- */

static void lease_heap_swap(struct lease_mgr *lm, size_t a, size_t b)
{
	struct lease_item t = lm->heap[a];

	lm->heap[a] = lm->heap[b];
	lm->heap[b] = t;
}

static void lease_heap_push(struct lease_mgr *lm, const char *id, int64_t expire_time)
{
	size_t i;

	if (lm->heap_n == lm->heap_cap) {
		lm->heap_cap = lm->heap_cap != 0 ? 2 * lm->heap_cap : 64;
		lm->heap = xreallocarray(lm->heap, lm->heap_cap, sizeof(*lm->heap));
	}
	lm->heap[lm->heap_n].id = xstrdup(id);
	lm->heap[lm->heap_n].expire_time = expire_time;
	for (i = lm->heap_n++; i > 0; i = (i - 1) / 2) {
		if (lm->heap[(i - 1) / 2].expire_time <= lm->heap[i].expire_time)
			break;
		lease_heap_swap(lm, i, (i - 1) / 2);
	}
}

/* Remove the top item; the caller takes its id. */
static struct lease_item lease_heap_pop(struct lease_mgr *lm)
{
	struct lease_item top = lm->heap[0];
	size_t i = 0;

	lm->heap[0] = lm->heap[--lm->heap_n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < lm->heap_n && lm->heap[l].expire_time < lm->heap[m].expire_time)
			m = l;
		if (r < lm->heap_n && lm->heap[r].expire_time < lm->heap[m].expire_time)
			m = r;
		if (m == i)
			break;
		lease_heap_swap(lm, i, m);
		i = m;
	}
	return top;
}

/* Pop stale items off the top: those whose lease was untracked or rescheduled. */
static void lease_heap_skip_stale(struct lease_mgr *lm)
{
	while (lm->heap_n > 0) {
		struct lease_slot *s = *lease_map_find(lm, lm->heap[0].id);

		if (s != NULL && s->expire_time == lm->heap[0].expire_time)
			return;
		free(lease_heap_pop(lm).id);
	}
}

/* Rebuild the heap from the map when stale items dominate it. */
static void lease_heap_compact(struct lease_mgr *lm)
{
	if (lm->heap_n <= 2 * lm->n + 64)
		return;
	for (size_t i = 0; i < lm->heap_n; i++)
		free(lm->heap[i].id);
	lm->heap_n = 0;
	for (size_t b = 0; b < lm->n_buckets; b++) {
		for (struct lease_slot *s = lm->buckets[b]; s != NULL; s = s->next)
			lease_heap_push(lm, s->id, s->expire_time);
	}
}

static void lease_clear_locked(struct lease_mgr *lm)
{
	for (size_t i = 0; i < lm->heap_n; i++)
		free(lm->heap[i].id);
	lm->heap_n = 0;
	for (size_t b = 0; b < lm->n_buckets; b++) {
		while (lm->buckets[b] != NULL) {
			struct lease_slot *s = lm->buckets[b];

			lm->buckets[b] = s->next;
			free(s->id);
			free(s);
		}
	}
	lm->n = 0;
}

/* ---- the revoker ---- */

/* A lease id as logs show it: its last segment cut to 4 characters, so that a log reader does
 * not learn a token's lease id (the path part is enough to tell leases apart when debugging). */
static void lease_id_redact(const char *id, char *out, size_t out_len)
{
	const char *slash = strrchr(id, '/');
	int keep = slash != NULL ? (int)(slash - id) + 1 : 0;

	snprintf(out, out_len, "%.*s%.4s...", keep, id, id + keep);
}

/* Revoke one due lease with the lock released; a failure is retried later. */
static void lease_revoke_due(struct lease_mgr *lm)
{
	struct lease_item it = lease_heap_pop(lm);
	int err;

	lease_map_remove(lm, it.id);
	pthread_mutex_unlock(&lm->mu);
	err = lm->revoke(lm->arg, it.id);
	pthread_mutex_lock(&lm->mu);
	if (err != 0 && err != COFFER_ERR_NOT_FOUND && !lm->is_stopping &&
	    *lease_map_find(lm, it.id) == NULL) {
		char shown[LEASE_ID_MAX + 8];

		lease_id_redact(it.id, shown, sizeof(shown));
		log_warn("lease %s: revocation failed (%s); retrying in %ds", shown,
		         coffer_strerror(err), LEASE_RETRY_S);
		lease_map_set(lm, it.id, coffer_clock_now_s() + LEASE_RETRY_S);
		lease_heap_push(lm, it.id, coffer_clock_now_s() + LEASE_RETRY_S);
	}
	free(it.id);
}

static void *lease_thread(void *arg)
{
	struct lease_mgr *lm = arg;

	pthread_mutex_lock(&lm->mu);
	while (!lm->is_stopping) {
		struct timespec until = {0, 0};

		lease_heap_skip_stale(lm);
		if (lm->heap_n == 0) {
			pthread_cond_wait(&lm->cv, &lm->mu);
			continue;
		}
		if (lm->heap[0].expire_time > coffer_clock_now_s()) {
			/* Expiries are wall-clock times, so the wait is on CLOCK_REALTIME. */
			until.tv_sec = (time_t)lm->heap[0].expire_time;
			pthread_cond_timedwait(&lm->cv, &lm->mu, &until);
			continue;
		}
		lease_revoke_due(lm);
	}
	pthread_mutex_unlock(&lm->mu);
	return NULL;
}

/* ---- the interface ---- */

struct lease_mgr *lease_mgr_new(lease_revoke_fn revoke, void *arg)
{
	struct lease_mgr *lm = xcalloc(1, sizeof(*lm));

	lm->n_buckets = 256;
	lm->buckets = xcalloc(lm->n_buckets, sizeof(*lm->buckets));
	lm->revoke = revoke;
	lm->arg = arg;
	pthread_mutex_init(&lm->mu, NULL);
	pthread_cond_init(&lm->cv, NULL);
	return lm;
}

void lease_mgr_free(struct lease_mgr *lm)
{
	if (lm == NULL)
		return;
	lease_mgr_stop(lm);
	free(lm->heap);
	free(lm->buckets);
	pthread_cond_destroy(&lm->cv);
	pthread_mutex_destroy(&lm->mu);
	free(lm);
}

int lease_mgr_start(struct lease_mgr *lm)
{
	int err = 0;

	pthread_mutex_lock(&lm->mu);
	if (!lm->is_running) {
		lm->is_stopping = false;
		if (pthread_create(&lm->thread, NULL, lease_thread, lm) != 0) {
			err = COFFER_ERR_INTERNAL;
		} else {
			pthread_setname_np(lm->thread, "lease-revoker");
			lm->is_running = true;
		}
	}
	pthread_mutex_unlock(&lm->mu);
	return err;
}

void lease_mgr_stop(struct lease_mgr *lm)
{
	bool was_running;

	pthread_mutex_lock(&lm->mu);
	was_running = lm->is_running;
	lm->is_stopping = true;
	pthread_cond_broadcast(&lm->cv);
	pthread_mutex_unlock(&lm->mu);
	if (was_running)
		pthread_join(lm->thread, NULL);
	pthread_mutex_lock(&lm->mu);
	lm->is_running = false;
	lm->is_stopping = false;
	lease_clear_locked(lm);
	pthread_mutex_unlock(&lm->mu);
}

int lease_mgr_track(struct lease_mgr *lm, const char *lease_id, int64_t expire_time)
{
	if (lease_id == NULL || lease_id[0] == '\0' || strlen(lease_id) > LEASE_ID_MAX)
		return COFFER_ERR_INVALID;
	pthread_mutex_lock(&lm->mu);
	lease_map_set(lm, lease_id, expire_time);
	lease_heap_push(lm, lease_id, expire_time);
	lease_heap_compact(lm);
	/* Wake the thread: this lease may now be the first to come due. */
	pthread_cond_signal(&lm->cv);
	pthread_mutex_unlock(&lm->mu);
	return 0;
}

void lease_mgr_untrack(struct lease_mgr *lm, const char *lease_id)
{
	pthread_mutex_lock(&lm->mu);
	lease_map_remove(lm, lease_id);
	lease_heap_compact(lm);
	pthread_mutex_unlock(&lm->mu);
}

size_t lease_mgr_count(struct lease_mgr *lm)
{
	size_t n;

	pthread_mutex_lock(&lm->mu);
	n = lm->n;
	pthread_mutex_unlock(&lm->mu);
	return n;
}

/* Insert name into the sorted array arr unless present. COFFER_ERR_INTERNAL for a name that is
 * not UTF-8 (a mount path may hold any bytes). */
static int lease_keys_add(json_t *arr, const char *name, size_t len)
{
	json_t *s = json_stringn(name, len);
	size_t i;

	if (s == NULL)
		return COFFER_ERR_INTERNAL;
	for (i = 0; i < json_array_size(arr); i++) {
		int c = strcmp(json_string_value(json_array_get(arr, i)), json_string_value(s));

		if (c == 0) {
			json_decref(s);
			return 0;
		}
		if (c > 0)
			break;
	}
	json_array_insert_new(arr, i, s);
	return 0;
}

int lease_mgr_list(struct lease_mgr *lm, const char *prefix, json_t **keys)
{
	size_t plen = strlen(prefix);
	json_t *arr = json_array();
	int err = 0;

	*keys = NULL;
	pthread_mutex_lock(&lm->mu);
	for (size_t b = 0; err == 0 && b < lm->n_buckets; b++) {
		for (struct lease_slot *s = lm->buckets[b]; err == 0 && s != NULL; s = s->next) {
			const char *rest, *slash;

			if (strncmp(s->id, prefix, plen) != 0 || s->id[plen] == '\0')
				continue;
			rest = s->id + plen;
			slash = strchr(rest, '/');
			err = lease_keys_add(
			    arr, rest, slash != NULL ? (size_t)(slash - rest) + 1 : strlen(rest));
		}
	}
	pthread_mutex_unlock(&lm->mu);
	if (err != 0) {
		json_decref(arr);
		return err;
	}
	*keys = arr;
	return 0;
}

/* The ids of the tracked leases below prefix (with its '/'), copied under the lock. */
static void lease_collect(struct lease_mgr *lm, const char *prefix, char ***ids, size_t *n)
{
	size_t plen = strlen(prefix), cap = 0;

	*ids = NULL;
	*n = 0;
	pthread_mutex_lock(&lm->mu);
	for (size_t b = 0; b < lm->n_buckets; b++) {
		for (struct lease_slot *s = lm->buckets[b]; s != NULL; s = s->next) {
			if (strncmp(s->id, prefix, plen) != 0)
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 16;
				*ids = xreallocarray(*ids, cap, sizeof(**ids));
			}
			(*ids)[(*n)++] = xstrdup(s->id);
		}
	}
	pthread_mutex_unlock(&lm->mu);
}

int lease_mgr_revoke_prefix(struct lease_mgr *lm, const char *prefix, bool force)
{
	char folder[LEASE_ID_MAX + 2];
	char **ids = NULL;
	size_t n = 0, plen = strlen(prefix);
	int err = 0;

	if (plen == 0 || plen > LEASE_ID_MAX)
		return COFFER_ERR_INVALID;
	snprintf(folder, sizeof(folder), "%s%s", prefix, prefix[plen - 1] == '/' ? "" : "/");
	lease_collect(lm, folder, &ids, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		int rerr = lm->revoke(lm->arg, ids[i]);

		if (rerr == 0 || rerr == COFFER_ERR_NOT_FOUND) {
			lease_mgr_untrack(lm, ids[i]);
		} else if (force) {
			log_warn("lease %s: forced revocation failed: %s", ids[i],
			         coffer_strerror(rerr));
			lease_mgr_untrack(lm, ids[i]);
		} else {
			err = rerr;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return err;
}
