/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_stage.h: a file audit device's staging ring. A read's audit lines are recorded by copying
 * them into a file mapped shared (<log>.stage, preallocated): once copied they are in the page
 * cache, as a write() would have put them, so they survive a crash of the process; no system
 * call is made per request. The device's flusher copies them into the log in large writes, and at
 * start-up a device copies what a crashed process had staged but not written. Records are
 * [u32 length][line with its '\n'], never split at the end of the ring (a length of
 * AUDIT_STAGE_WRAP, or fewer than 4 bytes left, sends the reader back to the start).
 *
 * Not thread-safe: the device serialises appends (its chain lock) and consumption (its file
 * lock); head and tail are read across those with atomic loads.
 */
#ifndef COFFER_AUDIT_STAGE_H
#define COFFER_AUDIT_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define AUDIT_STAGE_CAP ((size_t)1 << 20) /* ring bytes: ~600 reads of small secrets */

struct audit_stage_hdr;

struct audit_stage {
	int fd;
	uint8_t *map; /* header page, then the ring; NULL when not open */
	size_t map_len;
	struct audit_stage_hdr *hdr;
	uint8_t *ring;
	size_t cap;
	/* Logical byte offsets (they only grow; ring position = offset % cap): records in
	 * [head, tail) are staged and not yet in the log. */
	uint64_t head; /* written by the consumer, read atomically by appenders */
	uint64_t tail; /* published by appenders (atomic), read by the consumer */
	uint64_t end;  /* the appenders' own: tail plus what is put and not yet published */
};

/* Open (creating, preallocated) and map path; O_NOFOLLOW when is_strict. Its records, if any,
 * stay for audit_stage_recover(). On error err says why. */
int audit_stage_open(struct audit_stage *st, const char *path, bool is_strict, char *err,
                     size_t err_len);
void audit_stage_close(struct audit_stage *st);
/* Call fn for each record a previous process staged and did not consume, oldest first, until it
 * returns non-zero (returned); then empty the ring. */
int audit_stage_recover(struct audit_stage *st,
                        int (*fn)(const char *line, size_t len, void *arg), void *arg);
/* Whether n lines of at most max_len bytes each (newline included) fit now. */
bool audit_stage_has_room(const struct audit_stage *st, size_t n, size_t max_len);
/* Append a record (after a has_room check for it). */
void audit_stage_put(struct audit_stage *st, const char *line, size_t len);
/* Publish the records put so far (one release store; the header's tail too). */
void audit_stage_publish(struct audit_stage *st);
/* Up to max records from head on, as iovecs; *next is the offset after the last one taken. */
int audit_stage_collect(const struct audit_stage *st, struct iovec *iov, int max, uint64_t *next);
/* The records before next are in the log. */
void audit_stage_consumed(struct audit_stage *st, uint64_t next);
/* Whether records wait (head < tail). */
bool audit_stage_is_pending(const struct audit_stage *st);

#endif
