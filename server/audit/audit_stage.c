/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_stage.c: the staging ring of a file audit device (see audit_stage.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_stage.h"
#include "err.h"

#define AUDIT_STAGE_HDR_LEN 4096
#define AUDIT_STAGE_MAGIC "CofStg1\n"
#define AUDIT_STAGE_WRAP 0xffffffffu
#define AUDIT_STAGE_REC 4 /* the length in front of a line */

/* The first page of the file. head and tail mirror the ring's: what a crashed process staged. */
struct audit_stage_hdr {
	char magic[8];
	uint64_t cap;
	uint64_t head;
	uint64_t tail;
};

int audit_stage_open(struct audit_stage *st, const char *path, bool is_strict, char *err,
                     size_t err_len)
{
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (is_strict ? O_NOFOLLOW : 0);
	size_t len = AUDIT_STAGE_HDR_LEN + AUDIT_STAGE_CAP;
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	st->fd = open(path, flags, 0600);
	if (st->fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return COFFER_ERR_IO;
	}
	if (fstat(st->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, err_len, "%s is not a regular file", path);
		goto fail;
	}
	/* Blocks allocated now: a store into the mapping can never meet a full disk. */
	rc = posix_fallocate(st->fd, 0, (off_t)len);
	if (rc != 0) {
		snprintf(err, err_len, "cannot allocate %s: %s", path, strerror(rc));
		goto fail;
	}
	st->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);
	if (st->map == MAP_FAILED) {
		st->map = NULL;
		snprintf(err, err_len, "cannot map %s: %s", path, strerror(errno));
		goto fail;
	}
	st->map_len = len;
	st->hdr = (struct audit_stage_hdr *)(void *)st->map;
	st->ring = st->map + AUDIT_STAGE_HDR_LEN;
	st->cap = AUDIT_STAGE_CAP;
	return 0;
fail:
	close(st->fd);
	st->fd = -1;
	return COFFER_ERR_IO;
}

void audit_stage_close(struct audit_stage *st)
{
	if (st->map != NULL)
		munmap(st->map, st->map_len);
	if (st->fd >= 0)
		close(st->fd);
	st->map = NULL;
	st->fd = -1;
}

/* The record at logical offset off: its line and length, and the offset after it. False at a
 * record that cannot be one (a torn or foreign header). */
static bool audit_stage_record(const struct audit_stage *st, uint64_t off, const char **line,
                               uint32_t *len, uint64_t *next)
{
	size_t pos = (size_t)(off % st->cap);
	uint32_t n;

	if (st->cap - pos < AUDIT_STAGE_REC) {
		*line = NULL; /* a wrap with no room for its marker */
		*next = off + (st->cap - pos);
		return true;
	}
	memcpy(&n, st->ring + pos, sizeof(n));
	if (n == AUDIT_STAGE_WRAP) {
		*line = NULL;
		*next = off + (st->cap - pos);
		return true;
	}
	if (n == 0 || n > st->cap - pos - AUDIT_STAGE_REC)
		return false;
	*line = (const char *)st->ring + pos + AUDIT_STAGE_REC;
	*len = n;
	*next = off + AUDIT_STAGE_REC + n;
	return true;
}

int audit_stage_recover(struct audit_stage *st,
                        int (*fn)(const char *line, size_t len, void *arg), void *arg)
{
	struct audit_stage_hdr *h = st->hdr;
	uint64_t off, end, next;
	const char *line;
	uint32_t len = 0;
	int rc = 0;

	if (memcmp(h->magic, AUDIT_STAGE_MAGIC, sizeof(h->magic)) == 0 && h->cap == st->cap &&
	    h->head <= h->tail && h->tail - h->head <= st->cap) {
		end = h->tail;
		for (off = h->head; off < end && rc == 0; off = next) {
			if (!audit_stage_record(st, off, &line, &len, &next) || next > end)
				break;
			if (line != NULL && line[len - 1] == '\n')
				rc = fn(line, len, arg);
		}
	}
	memcpy(h->magic, AUDIT_STAGE_MAGIC, sizeof(h->magic));
	h->cap = st->cap;
	h->head = h->tail = 0;
	st->head = st->tail = st->end = 0;
	return rc;
}

/* The logical end after placing a record of rec bytes at off (wrapping first if it must). */
static uint64_t audit_stage_place(const struct audit_stage *st, uint64_t off, size_t rec)
{
	size_t pos = (size_t)(off % st->cap);

	if (st->cap - pos < rec)
		off += st->cap - pos;
	return off + rec;
}

bool audit_stage_has_room(const struct audit_stage *st, size_t n, size_t max_len)
{
	uint64_t head = __atomic_load_n(&st->head, __ATOMIC_ACQUIRE), end = st->end;

	if (max_len + AUDIT_STAGE_REC > st->cap / 4)
		return false; /* a long line goes straight to the log */
	for (size_t i = 0; i < n; i++)
		end = audit_stage_place(st, end, max_len + AUDIT_STAGE_REC);
	return end - head <= st->cap;
}

void audit_stage_put(struct audit_stage *st, const char *line, size_t len)
{
	uint64_t end = audit_stage_place(st, st->end, len + AUDIT_STAGE_REC);
	size_t pos = (size_t)(st->end % st->cap);
	uint32_t n = (uint32_t)len, wrap = AUDIT_STAGE_WRAP;

	if (end - st->end != len + AUDIT_STAGE_REC) {
		/* Not enough room before the end: mark the wrap (when it fits) and start over. */
		if (st->cap - pos >= AUDIT_STAGE_REC)
			memcpy(st->ring + pos, &wrap, sizeof(wrap));
		pos = 0;
	}
	memcpy(st->ring + pos + AUDIT_STAGE_REC, line, len);
	memcpy(st->ring + pos, &n, sizeof(n));
	st->end = end;
}

void audit_stage_publish(struct audit_stage *st)
{
	/* The header's tail only ever covers complete records: what recovery may copy. */
	__atomic_store_n(&st->hdr->tail, st->end, __ATOMIC_RELEASE);
	__atomic_store_n(&st->tail, st->end, __ATOMIC_SEQ_CST);
}

int audit_stage_collect(const struct audit_stage *st, struct iovec *iov, int max, uint64_t *next)
{
	uint64_t off = st->head, end = __atomic_load_n(&st->tail, __ATOMIC_ACQUIRE), after;
	const char *line;
	uint32_t len = 0;
	int n = 0;

	while (off < end && n < max && audit_stage_record(st, off, &line, &len, &after)) {
		if (line != NULL) {
			iov[n].iov_base = (void *)line;
			iov[n++].iov_len = len;
		}
		off = after;
	}
	*next = off;
	return n;
}

void audit_stage_consumed(struct audit_stage *st, uint64_t next)
{
	/* The header first: an appender reuses space only behind the head it reads, and recovery
	 * must never start behind space that was reused. */
	__atomic_store_n(&st->hdr->head, next, __ATOMIC_RELEASE);
	__atomic_store_n(&st->head, next, __ATOMIC_RELEASE);
}

bool audit_stage_is_pending(const struct audit_stage *st)
{
	return __atomic_load_n(&st->head, __ATOMIC_ACQUIRE) <
	       __atomic_load_n(&st->tail, __ATOMIC_ACQUIRE);
}
