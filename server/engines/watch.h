/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.h: change notification for fast rotation (DESIGN.md §5, API.md sys/watch). Every KV change
 * gets a change index, persisted in the same batch as the change; POST sys/watch answers at once
 * when a watched path changed after the client's index, or holds the request (libmicrohttpd
 * suspend/resume) until a change or the wait ends. Indexes are time-based and strictly increasing
 * (microseconds, never below the persisted one + 1), so they keep increasing across restarts.
 * Index 0 means "I know nothing": the answer is immediate and lists every path as changed.
 */
#ifndef COFFER_WATCH_H
#define COFFER_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "api/request.h"
#include "err.h"

/* The barrier path holding the latest change index (8 bytes, big endian). */
#define WATCH_INDEX_PATH "core/watch-index"

struct watch;
struct barrier;

struct watch *watch_new(struct barrier *b);
void watch_free(struct watch *w);
/* At unseal: load the persisted index. At seal, or when an HA node stops being active: wake and
 * end every held request with why (COFFER_ERR_SEALED or COFFER_ERR_STANDBY: 503 either way). */
int watch_setup(struct watch *w);
void watch_flush(struct watch *w, int why);

/* A new, strictly increasing change index. The caller writes it (watch_index_encode) at
 * WATCH_INDEX_PATH in the batch that makes the change and, once the batch committed, announces
 * the change (watch_notify or watch_notify_prefix, which release the index), or calls
 * watch_index_done() when the batch failed. */
uint64_t watch_next_index(struct watch *w);
/* The change of index is announced, or will never be (its batch failed). Until then answers
 * give an index below it, so that a client never skips a change still committing. */
void watch_index_done(struct watch *w, uint64_t index);
/* The index the next answer would give: every change at or below it has been announced. */
uint64_t watch_stable_index(struct watch *w);
void watch_index_encode(uint64_t index, uint8_t out[8]);
/* After the batch committed: remember that each of paths (API paths such as
 * "secret/data/app/db"; NULL-terminated) changed at index, release the index, and wake the
 * requests that watch one of them. */
void watch_notify(struct watch *w, const char *const *paths, uint64_t index);
/* Every path under prefix (e.g. an unmounted "kv/") changed at index. */
void watch_notify_prefix(struct watch *w, const char *prefix, uint64_t index);

/* A watch request (POST sys/watch), read and authorized by watch_routes.c. */
struct watch_query {
	char **paths; /* normalized API paths, malloc'd; taken by watch_answer() */
	size_t n_paths;
	uint64_t since;       /* the client's index; 0: it knows nothing yet */
	int64_t wait_s;       /* how long to hold the request; 0: answer at once */
	size_t cap_per_token; /* held requests of one token at most */
	const char *request_id;
	const char *accessor; /* of the caller's token ("" for none) */
};
/* Answer at once ({index, changed}) when a path changed after since or wait_s is 0; else hold
 * resp (response_hold) until a change, the wait's end or seal; 429 past a cap. */
void watch_answer(struct watch *w, struct watch_query *q, struct response *resp);

#endif
