/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_lease.c: unit tests of the expiration manager (server/identity/lease.c) with a recording
 * callback: due leases are revoked in expiry order, a future lease when it comes due, a rescheduled
 * or untracked one not before its new time, stop forgets everything, and listing and revoking by
 * prefix see the right ids.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/lease.h"
#include "test.h"

#define REC_MAX 16

struct recorder {
	pthread_mutex_t mu;
	char ids[REC_MAX][64];
	int n;
	int fail_with; /* returned by the callback when nonzero */
};

static int record_revoke(void *arg, const char *lease_id)
{
	struct recorder *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->n < REC_MAX)
		snprintf(r->ids[r->n++], sizeof(r->ids[0]), "%s", lease_id);
	pthread_mutex_unlock(&r->mu);
	return r->fail_with;
}

static int recorded(struct recorder *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* Wait up to ms for at least n revocations; the count seen. */
static int wait_for(struct recorder *r, int n, int ms)
{
	for (int i = 0; i < ms / 10 && recorded(r) < n; i++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	return recorded(r);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void test_due_leases_fire_in_order(void)
{
	struct recorder r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct lease_mgr *lm = NULL;
	int64_t now = now_s();

	lm = lease_mgr_new(record_revoke, &r);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/c", now - 1), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/a", now - 3), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/later", now + 3600), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/b", now - 2), 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 4);
	CHECK_EQ_OUT(recorded(&r), 0); /* nothing before start */
	CHECK_EQ_OUT(lease_mgr_start(lm), 0);
	CHECK_EQ_OUT(wait_for(&r, 3, 2000), 3);
	CHECK_OUT(strcmp(r.ids[0], "l/a") == 0);
	CHECK_OUT(strcmp(r.ids[1], "l/b") == 0);
	CHECK_OUT(strcmp(r.ids[2], "l/c") == 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 1);
out:
	lease_mgr_free(lm);
}

static void test_future_lease_fires_when_due(void)
{
	struct recorder r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct lease_mgr *lm = NULL;

	lm = lease_mgr_new(record_revoke, &r);
	CHECK_EQ_OUT(lease_mgr_start(lm), 0);
	/* Tracked after start: the thread must wake up for it. */
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/soon", now_s() + 1), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/now", now_s() - 1), 0);
	CHECK_EQ_OUT(wait_for(&r, 1, 500), 1);
	CHECK_OUT(strcmp(r.ids[0], "l/now") == 0);
	CHECK_EQ_OUT(wait_for(&r, 2, 3000), 2);
	CHECK_OUT(strcmp(r.ids[1], "l/soon") == 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 0);
out:
	lease_mgr_free(lm);
}

static void test_reschedule_delays_revocation(void)
{
	struct recorder r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct lease_mgr *lm = NULL;

	lm = lease_mgr_new(record_revoke, &r);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/renewed", now_s() - 1), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/renewed", now_s() + 3600), 0); /* a renewal */
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/untracked", now_s() - 1), 0);
	lease_mgr_untrack(lm, "l/untracked");
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/marker", now_s() - 1), 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 2);
	CHECK_EQ_OUT(lease_mgr_start(lm), 0);
	CHECK_EQ_OUT(wait_for(&r, 1, 2000), 1);
	nanosleep(&(struct timespec){0, 200000000}, NULL);
	CHECK_EQ_OUT(recorded(&r), 1);
	CHECK_OUT(strcmp(r.ids[0], "l/marker") == 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 1);
out:
	lease_mgr_free(lm);
}

static void test_stop_clears_and_restarts(void)
{
	struct recorder r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct lease_mgr *lm = NULL;
	char id[32];

	lm = lease_mgr_new(record_revoke, &r);
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "l/%d", i);
		CHECK_EQ_OUT(lease_mgr_track(lm, id, now_s() + 3600 + i), 0);
	}
	CHECK_EQ_OUT(lease_mgr_start(lm), 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 100);
	lease_mgr_stop(lm);
	CHECK_EQ_OUT(lease_mgr_count(lm), 0);
	lease_mgr_stop(lm); /* stopping twice is harmless */
	CHECK_EQ_OUT(lease_mgr_track(lm, "l/again", now_s() - 1), 0);
	CHECK_EQ_OUT(lease_mgr_start(lm), 0);
	CHECK_EQ_OUT(wait_for(&r, 1, 2000), 1);
	CHECK_OUT(strcmp(r.ids[0], "l/again") == 0);
out:
	lease_mgr_free(lm);
}

static void test_list_and_revoke_prefix(void)
{
	struct recorder r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct lease_mgr *lm = NULL;
	int64_t later = now_s() + 3600;
	json_t *keys = NULL;

	lm = lease_mgr_new(record_revoke, &r);
	CHECK_EQ_OUT(lease_mgr_track(lm, "auth/token/create/B", later), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "auth/token/create/A", later), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "auth/token/create-orphan/C", later), 0);
	CHECK_EQ_OUT(lease_mgr_track(lm, "auth/approle/login/D", later), 0);
	CHECK_EQ_OUT(lease_mgr_list(lm, "", &keys), 0);
	CHECK_EQ_OUT(json_array_size(keys), 1);
	CHECK_OUT(strcmp(json_string_value(json_array_get(keys, 0)), "auth/") == 0);
	json_decref(keys);
	keys = NULL;
	CHECK_EQ_OUT(lease_mgr_list(lm, "auth/token/", &keys), 0);
	CHECK_EQ_OUT(json_array_size(keys), 2);
	CHECK_OUT(strcmp(json_string_value(json_array_get(keys, 0)), "create-orphan/") == 0);
	CHECK_OUT(strcmp(json_string_value(json_array_get(keys, 1)), "create/") == 0);
	json_decref(keys);
	keys = NULL;
	CHECK_EQ_OUT(lease_mgr_list(lm, "auth/token/create/", &keys), 0);
	CHECK_EQ_OUT(json_array_size(keys), 2);
	CHECK_OUT(strcmp(json_string_value(json_array_get(keys, 0)), "A") == 0);
	json_decref(keys);
	keys = NULL;
	CHECK_EQ_OUT(lease_mgr_list(lm, "nothing/", &keys), 0);
	CHECK_EQ_OUT(json_array_size(keys), 0);
	json_decref(keys);
	keys = NULL;
	CHECK_EQ_OUT(lease_mgr_revoke_prefix(lm, "auth/token/create", false), 0);
	CHECK_EQ_OUT(recorded(&r), 2);
	CHECK_OUT(strncmp(r.ids[0], "auth/token/create/", 18) == 0);
	CHECK_OUT(strncmp(r.ids[1], "auth/token/create/", 18) == 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 2);
	r.fail_with = COFFER_ERR_IO;
	CHECK_EQ_OUT(lease_mgr_revoke_prefix(lm, "auth/approle/", false), COFFER_ERR_IO);
	CHECK_EQ_OUT(lease_mgr_count(lm), 2);
	CHECK_EQ_OUT(lease_mgr_revoke_prefix(lm, "auth/approle/", true), 0);
	CHECK_EQ_OUT(lease_mgr_count(lm), 1);
	CHECK_EQ_OUT(lease_mgr_revoke_prefix(lm, "", false), COFFER_ERR_INVALID);
out:
	json_decref(keys);
	lease_mgr_free(lm);
}

int main(void)
{
	RUN(test_due_leases_fire_in_order);
	RUN(test_future_lease_fires_when_due);
	RUN(test_reschedule_delays_revocation);
	RUN(test_stop_clears_and_restarts);
	RUN(test_list_and_revoke_prefix);
	return test_summary();
}
