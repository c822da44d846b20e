/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_write.c: a file audit device's writes: whole lines written at once (a short write is
 * undone), the staged lines flushed into the file, and the room kept allocated beyond the end of
 * the file (fallocate with FALLOC_FL_KEEP_SIZE), so that what the server has promised to record
 * can be written on a full disk: the response lines of the changes in flight and the staged
 * lines. Called by audit_file.c and audit_sign.c under the device's file lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "log.h"

/* The room is topped up when it falls below what is needed plus LOW, to what is needed plus
 * AHEAD: about one fallocate per 256 KiB of lines. */
#define AUDIT_RESV_LOW ((size_t)256 << 10)
#define AUDIT_RESV_AHEAD ((size_t)512 << 10)
/* Staging is not limited on a file system that cannot allocate ahead. */
#define AUDIT_RESV_UNLIMITED ((size_t)1 << 40)

/* Allocate room bytes beyond the end; 0 or an errno. */
static int audit_resv_alloc(struct audit_device *d, size_t room)
{
	int rc;

	do {
		rc = fallocate(d->fd, FALLOC_FL_KEEP_SIZE, d->size, (off_t)room);
	} while (rc != 0 && errno == EINTR);
	if (rc != 0)
		return errno;
	if (d->size + (off_t)room > d->resv_end)
		d->resv_end = d->size + (off_t)room;
	return 0;
}

size_t audit_resv_room(const struct audit_device *d)
{
	return d->resv_end > d->size ? (size_t)(d->resv_end - d->size) : 0;
}

void audit_resv_open(struct audit_device *d)
{
	int e;

	d->resv_end = d->size;
	d->can_reserve = true;
	e = audit_resv_alloc(d, d->owed + AUDIT_RESV_AHEAD);
	if (e == EOPNOTSUPP || e == ENOSYS) {
		d->can_reserve = false;
		log_warn("audit %s: the file system of %s cannot allocate ahead: a change whose "
		         "response line meets a full disk is answered as applied but unrecorded",
		         d->path, d->file_path);
	} else if (e != 0) {
		log_warn("audit %s: cannot set room aside in %s: %s", d->path, d->file_path,
		         strerror(e));
	}
	audit_resv_publish(d);
}

void audit_resv_release(int fd, off_t size, off_t resv_end)
{
	/* Truncating a file at its end frees the blocks beyond it, on ext4 as on tmpfs (ext4
	 * ignores a hole punched past the end). */
	if (fd >= 0 && resv_end > size && ftruncate(fd, size) != 0)
		log_warn("audit: cannot free the room beyond the end of a closed log: %s",
		         strerror(errno));
}

bool audit_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int audit_resv_need(struct audit_device *d, size_t need, char *err, size_t err_len)
{
	size_t room = audit_resv_room(d);
	int e;

	if (!d->can_reserve || d->fd < 0 || room >= need + AUDIT_RESV_LOW)
		return 0;
	if (audit_resv_alloc(d, need + AUDIT_RESV_AHEAD) == 0 || room >= need)
		return 0;
	e = audit_resv_alloc(d, need);
	if (e == 0)
		return 0;
	snprintf(err, err_len, "%s: no room for %zu more bytes in %s: %s", d->path, need,
	         d->file_path, strerror(e));
	errno = e;
	return COFFER_ERR_IO;
}

void audit_resv_publish(struct audit_device *d)
{
	size_t room = audit_resv_room(d), budget;

	if (!d->can_reserve)
		budget = AUDIT_RESV_UNLIMITED;
	else
		budget = room > d->owed + AUDIT_RESV_FLOOR ? room - d->owed - AUDIT_RESV_FLOOR : 0;
	__atomic_store_n(&d->stage_budget, budget, __ATOMIC_RELEASE);
}

bool audit_resv_stage_fits(const struct audit_device *d, size_t add)
{
	/* The head before the budget: a flush lowers the budget before it moves the head. */
	uint64_t head = __atomic_load_n(&d->stage.head, __ATOMIC_ACQUIRE);
	size_t budget = __atomic_load_n(&d->stage_budget, __ATOMIC_ACQUIRE);

	return d->stage.end - head + add <= budget;
}

void audit_resv_refill(struct audit_device *d)
{
	char err[200];

	/* Best effort: when the disk is full the budget shrinks, and staging stops at its end. */
	(void)audit_resv_need(d, d->owed + AUDIT_RESV_FLOOR + AUDIT_RESV_LOW, err, sizeof(err));
	audit_resv_publish(d);
}

int audit_write_raw(struct audit_device *d, const struct iovec *iov, int n_iov, char *err,
                    size_t err_len)
{
	size_t len = 0;
	ssize_t n;

	if (d->fd < 0) {
		snprintf(err, err_len, "%s: file is not open", d->path);
		d->write_errno = EBADF;
		return COFFER_ERR_IO;
	}
	for (int i = 0; i < n_iov; i++)
		len += iov[i].iov_len;
	do {
		n = writev(d->fd, iov, n_iov);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len) {
		d->size += (off_t)len;
		d->write_errno = 0;
		return 0;
	}
	if (n >= 0)
		errno = ENOSPC; /* a short write on a regular file: the device is full */
	d->write_errno = errno;
	snprintf(err, err_len, "%s: cannot write %s: %s", d->path, d->file_path, strerror(errno));
	if (n > 0 && ftruncate(d->fd, d->size) != 0)
		log_error("audit %s: cannot undo a short write: %s", d->path, strerror(errno));
	return COFFER_ERR_IO;
}

size_t audit_iov_len(const struct iovec *iov, int n_iov)
{
	size_t len = 0;

	for (int i = 0; i < n_iov; i++)
		len += iov[i].iov_len;
	return len;
}

/* One write of lines nothing set room aside for: only when the room owed to the changes in flight
 * stays (the staged lines are flushed). Caller holds d->file_mu and d->mu. */
int audit_write_lines(struct audit_device *d, const struct iovec *iov, int n_iov, char *err,
                      size_t err_len)
{
	int rc = audit_resv_need(d, audit_iov_len(iov, n_iov) + d->owed + AUDIT_RESV_FLOOR, err,
	                         err_len);

	if (rc != 0)
		d->write_errno = errno;
	else
		rc = audit_write_raw(d, iov, n_iov, err, err_len);
	audit_resv_publish(d);
	return rc;
}

#define AUDIT_BATCH_IOV 64 /* lines per writev */

/* Copy every staged line into the file. Caller holds d->file_mu. On failure the lines stay
 * staged (they are recorded; a later write retries them) and the device is failing. */
int audit_flush_locked(struct audit_device *d, char *err, size_t err_len)
{
	struct iovec iov[AUDIT_BATCH_IOV];
	uint64_t next;
	int n, rc;

	if (d->stage.map == NULL)
		return 0;
	while ((n = audit_stage_collect(&d->stage, iov, AUDIT_BATCH_IOV, &next)) > 0 ||
	       next != d->stage.head) {
		/* Staged lines stay within the room (audit_stage_lines): they fit. */
		rc = n > 0 ? audit_write_raw(d, iov, n, err, err_len) : 0;
		if (rc != 0) {
			__atomic_store_n(&d->is_failing, true, __ATOMIC_RELEASE);
			return rc;
		}
		/* The budget shrinks before the head moves (audit_resv_stage_fits). */
		audit_resv_publish(d);
		audit_stage_consumed(&d->stage, next);
	}
	audit_resv_refill(d);
	return 0;
}

int audit_flush_hold_chain(struct audit_device *d, char *err, size_t err_len)
{
	/* Most of what is staged goes first without holding up the readers that stage... */
	int rc = audit_flush_locked(d, err, err_len);

	pthread_mutex_lock(&d->mu);
	/* ...and what they staged meanwhile, with the chain held still. */
	if (rc == 0)
		rc = audit_flush_locked(d, err, err_len);
	return rc;
}

/* A long line: what a change's request line needs beyond the floor, for sys/health. */
#define AUDIT_RESV_LINE ((size_t)4 << 10)
bool audit_device_can_write(struct audit_device *d)
{
	char err[300];
	bool ok;

	/* A write in progress (or stuck on a slow disk) answers for the file: sys/health does not
	 * wait behind it. */
	if (pthread_mutex_trylock(&d->file_mu) != 0)
		return !__atomic_load_n(&d->is_failing, __ATOMIC_ACQUIRE);
	ok = d->fd >= 0 && d->has_chain;
	/* A full disk can be freed; an I/O error stays until a write succeeds or SIGHUP reopens. */
	if (ok && d->write_errno != 0 && d->write_errno != ENOSPC && d->write_errno != EDQUOT)
		ok = false;
	/* Without allocating ahead there is no asking the disk (fstatfs is not allowed after
	 * start-up): a full disk then counts until a write succeeds. */
	if (ok && d->can_reserve)
		ok = audit_resv_need(d, d->owed + AUDIT_RESV_FLOOR + AUDIT_RESV_LINE, err,
		                     sizeof(err)) == 0;
	else if (ok)
		ok = d->write_errno == 0;
	/* What waits staged goes first; then lines may be staged again. */
	if (ok && __atomic_load_n(&d->is_failing, __ATOMIC_ACQUIRE)) {
		ok = audit_flush_locked(d, err, sizeof(err)) == 0;
		if (ok)
			__atomic_store_n(&d->is_failing, false, __ATOMIC_RELEASE);
	}
	audit_resv_publish(d);
	pthread_mutex_unlock(&d->file_mu);
	return ok;
}
