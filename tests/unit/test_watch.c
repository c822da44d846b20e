/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_watch.c: the index a sys/watch answer gives never covers a change that is still
 * committing (handed out by watch_next_index() but not announced), whatever order the writes
 * finish in; otherwise a client asking "what changed after it" would skip that change.
 */
#include <stdint.h>

#include "test.h"
#include "engines/watch.h"

static void test_answer_index_stays_below_changes_in_flight(void)
{
	struct watch *w = NULL;
	uint64_t a, b, c;

	w = watch_new(NULL);
	a = watch_next_index(w);
	b = watch_next_index(w);
	CHECK_OUT(a < b);
	CHECK_OUT(watch_stable_index(w) < a);
	/* The later write finishes first: a is still in flight. */
	watch_notify(w, (const char *const[]){"secret/data/b", NULL}, b);
	CHECK_OUT(watch_stable_index(w) < a);
	/* Announcing releases the index: an answer given right after covers it. */
	watch_notify(w, (const char *const[]){"secret/data/a", "secret/metadata/a", NULL}, a);
	CHECK_EQ_OUT(watch_stable_index(w), b);
	/* A failed batch (no notify) releases its index too. */
	c = watch_next_index(w);
	CHECK_OUT(watch_stable_index(w) < c);
	watch_index_done(w, c);
	CHECK_EQ_OUT(watch_stable_index(w), c);
out:
	watch_free(w);
}

static void test_many_indexes_in_flight(void)
{
	struct watch *w = NULL;
	uint64_t idx[300];

	w = watch_new(NULL);
	for (int i = 0; i < 300; i++)
		idx[i] = watch_next_index(w);
	for (int i = 299; i >= 1; i--)
		watch_index_done(w, idx[i]);
	CHECK_OUT(watch_stable_index(w) < idx[0]);
	watch_index_done(w, idx[0]);
	CHECK_EQ_OUT(watch_stable_index(w), idx[299]);
out:
	watch_free(w);
}

int main(void)
{
	RUN(test_answer_index_stays_below_changes_in_flight);
	RUN(test_many_indexes_in_flight);
	return test_summary();
}
