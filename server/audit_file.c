/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_file.c: the file audit device: its append-only file, the hash chain through it (format in
 * common/audit_chain.h), reopening after rotation, and the checks on a file path given through the
 * API. Called by the broker (audit.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit_int.h"
#include "log.h"
#include "secmem.h"

#define AUDIT_TAIL_CHUNK 4096

static int audit_open_fd(const char *file_path, bool is_strict, char *err, size_t err_len)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
	struct stat st;
	int fd;

	if (is_strict)
		flags |= O_NOFOLLOW;
	fd = open(file_path, flags, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", file_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s is not a regular file", file_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* The size of fd's content up to and including its last '\n' (0 when none). */
static int audit_complete_size(int fd, off_t size, off_t *out)
{
	char buf[AUDIT_TAIL_CHUNK];
	off_t end = size;
	size_t len;
	const char *nl;

	while (end > 0) {
		len = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
		end -= (off_t)len;
		if (pread(fd, buf, len, end) != (ssize_t)len)
			return COFFER_ERR_IO;
		nl = memrchr(buf, '\n', len);
		if (nl != NULL) {
			*out = end + (nl - buf) + 1;
			return 0;
		}
	}
	*out = 0;
	return 0;
}

/*
 * Make the file end with a complete line: a partial last line (a crash inside a write, which a
 * single write() makes unlikely) was never part of the chain and is cut off, so that the next
 * line starts on a line of its own.
 */
static int audit_trim_partial(struct audit_device *d, int rfd, char *err, size_t err_len)
{
	struct stat st;
	off_t keep;

	if (fstat(rfd, &st) != 0 || audit_complete_size(rfd, st.st_size, &keep) != 0) {
		snprintf(err, err_len, "cannot read %s: %s", d->file_path, strerror(errno));
		return COFFER_ERR_IO;
	}
	if (keep != st.st_size) {
		log_warn("audit %s: dropping a partial last line (%lld bytes) of %s", d->path,
		         (long long)(st.st_size - keep), d->file_path);
		if (ftruncate(d->fd, keep) != 0) {
			snprintf(err, err_len, "cannot truncate %s: %s", d->file_path,
			         strerror(errno));
			return COFFER_ERR_IO;
		}
	}
	d->size = keep;
	return 0;
}

/* The size of the (re)opened file, trimmed to whole lines; the chain goes on from memory. */
static int audit_load_size(struct audit_device *d, char *err, size_t err_len)
{
	int rfd, rc;

	rfd = open(d->file_path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		snprintf(err, err_len, "cannot read %s: %s", d->file_path, strerror(errno));
		return COFFER_ERR_IO;
	}
	rc = audit_trim_partial(d, rfd, err, err_len);
	close(rfd);
	return rc;
}

/* Continue the chain from the file's last line, or start it (seq 0, zero hash). */
static int audit_load_tail(struct audit_device *d, char *err, size_t err_len)
{
	int rc;

	rc = audit_load_size(d, err, err_len);
	if (rc != 0)
		return rc;
	rc = audit_chain_tail(d->file_path, &d->seq, d->prev);
	if (rc == COFFER_ERR_NOT_FOUND) {
		d->seq = 0;
		memset(d->prev, 0, sizeof(d->prev));
		rc = 0;
	} else if (rc == COFFER_ERR_INTEGRITY) {
		snprintf(err, err_len,
		         "the last line of %s is not an audit line; move the file away to start a "
		         "new chain",
		         d->file_path);
	} else if (rc != 0) {
		snprintf(err, err_len, "cannot read the chain of %s: %s", d->file_path,
		         coffer_strerror(rc));
	}
	audit_prev_text(d->prev, d->prev_text);
	return rc;
}

/* The chain's lock is held for a hash and a write(): waiters spin a little before they sleep. */
static pthread_mutexattr_t audit_mutex_attr;
static pthread_once_t audit_mutex_once = PTHREAD_ONCE_INIT;

static void audit_mutex_attr_init(void)
{
	pthread_mutexattr_init(&audit_mutex_attr);
	pthread_mutexattr_settype(&audit_mutex_attr, PTHREAD_MUTEX_ADAPTIVE_NP);
}

static struct audit_device *audit_device_alloc(const char *path, const char *file_path,
                                               const char *description, bool is_config)
{
	struct audit_device *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	pthread_once(&audit_mutex_once, audit_mutex_attr_init);
	d->fd = -1;
	d->refs = 1;
	d->is_config = is_config;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->file_path = strdup(file_path);
	d->description = strdup(description != NULL ? description : "");
	pthread_mutex_init(&d->mu, &audit_mutex_attr);
	pthread_mutex_init(&d->queue_mu, &audit_mutex_attr);
	d->queue_tail = &d->queue;
	pthread_rwlock_init(&d->key_lock, NULL);
	if (d->file_path == NULL || d->description == NULL) {
		audit_device_release(d);
		return NULL;
	}
	return d;
}

int audit_device_open(const char *path, const char *file_path, const char *description,
                      bool is_config, bool is_strict, struct audit_device **out, char *err,
                      size_t err_len)
{
	struct audit_device *d;
	int rc;

	*out = NULL;
	d = audit_device_alloc(path, file_path, description, is_config);
	if (d == NULL) {
		snprintf(err, err_len, "out of memory");
		return COFFER_ERR_NOMEM;
	}
	d->fd = audit_open_fd(file_path, is_strict, err, err_len);
	if (d->fd < 0) {
		audit_device_release(d);
		return COFFER_ERR_IO;
	}
	rc = audit_load_tail(d, err, err_len);
	if (rc != 0) {
		audit_device_release(d);
		return rc;
	}
	d->has_chain = true;
	*out = d;
	return 0;
}

struct audit_device *audit_device_broken(const char *path, const char *file_path,
                                         const char *description)
{
	return audit_device_alloc(path, file_path, description, false);
}

void audit_device_ref(struct audit_device *d)
{
	__atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
}

void audit_device_release(struct audit_device *d)
{
	if (d == NULL || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (d->fd >= 0)
		close(d->fd);
	secmem_free(d->hmac);
	pthread_rwlock_destroy(&d->key_lock);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->queue_mu);
	free(d->file_path);
	free(d->description);
	free(d);
}

int audit_device_reopen(struct audit_device *d)
{
	char err[300];
	int fd, old, rc = 0;

	/* API-created files are always opened without following a symlink. */
	fd = audit_open_fd(d->file_path, !d->is_config, err, sizeof(err));
	if (fd < 0) {
		log_error("audit %s: reopen failed: %s", d->path, err);
		return COFFER_ERR_IO;
	}
	pthread_mutex_lock(&d->mu);
	old = d->fd;
	d->fd = fd;
	/* A device that never opened its file learns where its chain stands now. */
	rc = d->has_chain ? audit_load_size(d, err, sizeof(err))
	                  : audit_load_tail(d, err, sizeof(err));
	if (rc == 0) {
		d->has_chain = true;
	} else {
		log_error("audit %s: reopen failed: %s", d->path, err);
		d->fd = -1;
		old = fd;
	}
	pthread_mutex_unlock(&d->mu);
	if (old >= 0)
		close(old);
	return rc;
}

/* One write of whole lines; a short write is undone so the file keeps whole lines. */
static int audit_write_lines(struct audit_device *d, const struct iovec *iov, int n_iov, char *err,
                             size_t err_len)
{
	size_t len = 0;
	ssize_t n;

	if (d->fd < 0) {
		snprintf(err, err_len, "%s: file is not open", d->path);
		return COFFER_ERR_IO;
	}
	for (int i = 0; i < n_iov; i++)
		len += iov[i].iov_len;
	do {
		n = writev(d->fd, iov, n_iov);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len) {
		d->size += (off_t)len;
		return 0;
	}
	if (n >= 0)
		errno = ENOSPC; /* a short write on a regular file: the device is full */
	snprintf(err, err_len, "%s: cannot write %s: %s", d->path, d->file_path, strerror(errno));
	if (n > 0 && ftruncate(d->fd, d->size) != 0)
		log_error("audit %s: cannot undo a short write: %s", d->path, strerror(errno));
	return COFFER_ERR_IO;
}

/* Put {"seq":seq,"prev":"<prev>", over the room in front of sb's body (whose own '{' it
 * replaces), end the line with '\n', and hash it: the start and length of the line in *line. */
static size_t audit_line_seal(struct audit_sb *sb, uint64_t seq, const char *prev_text,
                              uint8_t hash[AUDIT_HASH_LEN], char **line)
{
	char prefix[AUDIT_PREFIX_ROOM];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix),
	                               "{\"seq\":%" PRIu64 ",\"prev\":\"%s\",", seq, prev_text);

	*line = sb->p + AUDIT_PREFIX_ROOM + 1 - plen;
	memcpy(*line, prefix, plen);
	audit_line_hash(*line, (size_t)(sb->p + sb->len - *line), hash);
	sb->p[sb->len] = '\n'; /* the builder always keeps a byte for it */
	return (size_t)(sb->p + sb->len + 1 - *line);
}

/* One caller's lines, queued for the writing thread; on the caller's stack until done is posted. */
struct audit_pending {
	struct audit_sb *const *sbs;
	size_t n;
	int rc;
	char *err;
	size_t err_len;
	bool is_writer; /* posted to take over the writing, not because its lines are written */
	sem_t done;
	struct audit_pending *next;
};

#define AUDIT_BATCH_IOV 64 /* lines per writev */

/* Write the lines of the pending entries from *at on, as many as one writev takes, continuing
 * the chain; set each entry's result. Returns the first entry not written. Caller holds d->mu. */
static struct audit_pending *audit_write_batch(struct audit_device *d, struct audit_pending *at)
{
	struct iovec iov[AUDIT_BATCH_IOV];
	uint8_t hash[AUDIT_HASH_LEN];
	char prev_text[AUDIT_PREV_TEXT_LEN + 1];
	struct audit_pending *p, *end;
	uint64_t seq = d->seq;
	int n_iov = 0, rc;

	memcpy(prev_text, d->prev_text, sizeof(prev_text));
	for (p = at; p != NULL && n_iov + (int)p->n <= AUDIT_BATCH_IOV; p = p->next) {
		for (size_t i = 0; i < p->n; i++) {
			char *line;

			iov[n_iov].iov_len =
			    audit_line_seal(p->sbs[i], ++seq, prev_text, hash, &line);
			iov[n_iov++].iov_base = line;
			audit_prev_text(hash, prev_text);
		}
	}
	end = p;
	rc = audit_write_lines(d, iov, n_iov, at->err, at->err_len);
	if (rc == 0) {
		d->seq = seq;
		memcpy(d->prev, hash, sizeof(d->prev));
		memcpy(d->prev_text, prev_text, sizeof(prev_text));
	}
	/* One writev: all its lines are written, or none. */
	for (p = at; p != end; p = p->next) {
		p->rc = rc;
		if (p != at && rc != 0)
			snprintf(p->err, p->err_len, "%s", at->err);
	}
	return end;
}

/*
 * Whoever finds no writer becomes it and writes every line queued by then, its own included,
 * with as few writevs as they take; it then hands the writing to the first thread queued
 * meanwhile, if any, so that no thread writes for others for longer than one round.
 */
int audit_device_write(struct audit_device *d, struct audit_sb *const *sbs, size_t n, char *err,
                       size_t err_len)
{
	struct audit_pending me = {sbs, n, 0, err, err_len, false, {{0}}, NULL}, *batch, *p, *next;

	for (size_t i = 0; i < n; i++) {
		const struct audit_sb *sb = sbs[i];

		if (n > 2 || sb->is_failed || sb->len < AUDIT_PREFIX_ROOM + 2 ||
		    sb->p[AUDIT_PREFIX_ROOM] != '{') {
			snprintf(err, err_len, "%s: cannot build the line (out of memory)",
			         d->path);
			return COFFER_ERR_NOMEM;
		}
	}
	if (sem_init(&me.done, 0, 0) != 0) {
		snprintf(err, err_len, "%s: %s", d->path, strerror(errno));
		return COFFER_ERR_INTERNAL;
	}
	pthread_mutex_lock(&d->queue_mu);
	*d->queue_tail = &me;
	d->queue_tail = &me.next;
	if (d->is_writing) {
		/* The writing thread takes our lines with its round, or hands us the writing. */
		pthread_mutex_unlock(&d->queue_mu);
		while (sem_wait(&me.done) != 0)
			; /* EINTR */
		if (!me.is_writer) {
			sem_destroy(&me.done);
			return me.rc;
		}
		pthread_mutex_lock(&d->queue_mu);
	}
	d->is_writing = true;
	batch = d->queue;
	d->queue = NULL;
	d->queue_tail = &d->queue;
	pthread_mutex_unlock(&d->queue_mu);

	pthread_mutex_lock(&d->mu);
	for (p = batch; p != NULL;) {
		next = audit_write_batch(d, p);
		/* Wake the others of this writev; read next before, as they may return. */
		while (p != next) {
			struct audit_pending *after = p->next;

			if (p != &me)
				sem_post(&p->done);
			p = after;
		}
	}
	pthread_mutex_unlock(&d->mu);

	pthread_mutex_lock(&d->queue_mu);
	if (d->queue != NULL) {
		d->queue->is_writer = true; /* still queued: it takes itself with the queue */
		sem_post(&d->queue->done);
	} else {
		d->is_writing = false;
	}
	pthread_mutex_unlock(&d->queue_mu);
	sem_destroy(&me.done);
	return me.rc;
}

/* Lexical checks: absolute, no "." or ".." segment. */
static bool audit_path_is_clean(const char *p)
{
	const char *seg = p;
	size_t len;

	if (p[0] != '/')
		return false;
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		len = strcspn(seg, "/");
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg += len;
	}
	return true;
}

static bool audit_is_below(const char *dir, const char *p)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int audit_file_path_check(const char *audit_dir, const char *file_path, char *out, size_t cap,
                          char *err, size_t err_len)
{
	char parent[PATH_MAX], real_parent[PATH_MAX], real_dir[PATH_MAX];
	const char *base;
	struct stat st;

	if (strlen(file_path) >= sizeof(parent) || !audit_path_is_clean(file_path)) {
		snprintf(err, err_len,
		         "file_path must be an absolute path without . or .. segments");
		return COFFER_ERR_INVALID;
	}
	base = strrchr(file_path, '/') + 1;
	if (*base == '\0') {
		snprintf(err, err_len, "file_path must name a file");
		return COFFER_ERR_INVALID;
	}
	snprintf(parent, sizeof(parent), "%.*s", (int)(base - file_path), file_path);
	/* Symlinks in the directories are resolved, so that none can lead out of audit_dir. */
	if (realpath(audit_dir, real_dir) == NULL || realpath(parent, real_parent) == NULL ||
	    !audit_is_below(real_dir, real_parent)) {
		snprintf(err, err_len, "file_path must be inside audit_dir");
		return COFFER_ERR_INVALID;
	}
	if ((size_t)snprintf(out, cap, "%s/%s", strcmp(real_parent, "/") == 0 ? "" : real_parent,
	                     base) >= cap) {
		snprintf(err, err_len, "file_path is too long");
		return COFFER_ERR_INVALID;
	}
	/* The file itself may not be a symlink (opened with O_NOFOLLOW as well). */
	if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "file_path must be a regular file, not a symlink");
		return COFFER_ERR_INVALID;
	}
	return 0;
}
