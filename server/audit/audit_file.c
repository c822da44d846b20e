/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_file.c: the file audit device: its append-only file, the hash chain through it (format in
 * common/audit_chain.h), the stage and its flusher thread, and reopening after rotation. Writes
 * and room are in audit_write.c. Called by the broker (audit.c) and the hooks (audit_hooks.c).
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
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

#define AUDIT_TAIL_CHUNK 4096

/* The hash function of chains started from now on; 0: the machine's preference. */
static enum audit_hash_alg audit_new_alg;

void audit_set_new_chain_alg(enum audit_hash_alg alg)
{
	__atomic_store_n(&audit_new_alg, alg, __ATOMIC_RELAXED);
}

enum audit_hash_alg audit_new_chain_alg(void)
{
	enum audit_hash_alg alg = __atomic_load_n(&audit_new_alg, __ATOMIC_RELAXED);

	return alg != 0 ? alg : audit_hash_preferred();
}

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
	d->written_back = keep; /* (re)opened: drop behind from here */
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
	enum audit_hash_alg alg;
	int rc;

	rc = audit_load_size(d, err, err_len);
	if (rc != 0)
		return rc;
	rc = audit_chain_tail(d->file_path, &d->seq, &alg, d->prev);
	if (rc == 0)
		__atomic_store_n(&d->alg, alg, __ATOMIC_RELAXED);
	if (rc == COFFER_ERR_NOT_FOUND) {
		/* A new chain (or the one of the head recorded, at unseal: audit_head_adopt). */
		d->seq = 0;
		__atomic_store_n(&d->alg, audit_new_chain_alg(), __ATOMIC_RELAXED);
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
	audit_prev_text(d->alg, d->prev, d->prev_text);
	return rc;
}

/* The chain's lock is held for a hash and a copy: waiters spin a little before they sleep. */
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
	struct audit_device *d = xcalloc(1, sizeof(*d));

	pthread_once(&audit_mutex_once, audit_mutex_attr_init);
	d->fd = -1;
	d->stage.fd = -1;
	d->refs = 1;
	d->is_config = is_config;
	d->alg = audit_new_chain_alg();
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->file_path = xstrdup(file_path);
	d->description = xstrdup(description != NULL ? description : "");
	pthread_mutex_init(&d->mu, &audit_mutex_attr);
	pthread_mutex_init(&d->file_mu, NULL);
	pthread_mutex_init(&d->idle_mu, NULL);
	pthread_cond_init(&d->idle_wake, NULL);
	pthread_rwlock_init(&d->key_lock, NULL);
	pthread_mutex_init(&d->auth_mu, NULL);
	pthread_mutex_init(&d->head_mu, NULL);
	return d;
}

/*
 * The chain's members go last in a line: ,"seq":N,"prev":"<hash>:<hex>"} replaces the body's
 * closing brace. So the hash of everything before them can be taken without the chain's lock
 * (audit_line_begin), and under it only the few bytes that depend on the line before (one or two
 * blocks instead of a dozen).
 */
struct audit_line {
	struct buf *sb;
	struct audit_hash pre; /* the body without its closing brace */
};

/* The chain's hash function. It is set when the chain is read from its file (at open, or at the
 * first reopen of a device that could not open it) and when unseal adopts a recorded head; a line
 * begun under another one is hashed again under the chain's lock (audit_line_seal). */
static enum audit_hash_alg audit_chain_alg(struct audit_device *d)
{
	return __atomic_load_n(&d->alg, __ATOMIC_RELAXED);
}

static void audit_line_begin(struct audit_device *d, struct audit_line *l, struct buf *sb)
{
	l->sb = sb;
	audit_hash_init(&l->pre, audit_chain_alg(d));
	audit_hash_update(&l->pre, sb->data, sb->len - 1);
}

/* End l's line with the chain's members and a newline and hash it; its length (newline
 * included). The body is left as it was but for its last byte, so a line can be sealed again. */
static size_t audit_line_seal(const struct audit_line *l, enum audit_hash_alg alg, uint64_t seq,
                              const char *prev_text, uint8_t hash[AUDIT_HASH_LEN])
{
	static const char seq_key[] = ",\"seq\":", prev_key[] = ",\"prev\":\"";
	struct audit_hash st = l->pre;
	char *end = l->sb->data + l->sb->len - 1, digits[20];
	size_t n = 0, nd = 0, prev_len = strlen(prev_text);

	if (st.alg != alg) { /* the chain adopted a recorded head meanwhile */
		audit_hash_init(&st, alg);
		audit_hash_update(&st, l->sb->data, l->sb->len - 1);
	}

	/* By hand, not snprintf: this runs under the chain's lock. */
	do {
		digits[nd++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq != 0);
	memcpy(end, seq_key, sizeof(seq_key) - 1);
	n += sizeof(seq_key) - 1;
	while (nd > 0)
		end[n++] = digits[--nd];
	memcpy(end + n, prev_key, sizeof(prev_key) - 1);
	n += sizeof(prev_key) - 1;
	memcpy(end + n, prev_text, prev_len);
	n += prev_len;
	end[n++] = '"';
	end[n++] = '}';

	audit_hash_update(&st, end, n);
	audit_hash_final(&st, hash);
	end[n] = '\n';
	return l->sb->len + n;
}

/* Stage the lines when the stage has room and the file is not failing: 0, or -1 (not staged).
 * Staging is what makes a read cheap: a hash and a copy, no system call. */
static int audit_stage_lines(struct audit_device *d, const struct audit_line *lines, size_t n)
{
	uint8_t hash[AUDIT_HASH_LEN];
	size_t max_len = 0;
	size_t len;

	if (d->stage.map == NULL || __atomic_load_n(&d->is_failing, __ATOMIC_ACQUIRE))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (lines[i].sb->len + AUDIT_SUFFIX_ROOM > max_len)
			max_len = lines[i].sb->len + AUDIT_SUFFIX_ROOM; /* more than sealed */
	}
	pthread_mutex_lock(&d->mu);
	/* A new file's signed header is written directly, before its first line. */
	/* The room beyond the file must hold what is staged, for the flush to fit (one more
	 * record for the wrap at the ring's end). */
	if (d->needs_header || !audit_stage_has_room(&d->stage, n, max_len) ||
	    !audit_resv_stage_fits(d, (n + 1) * (max_len + 4))) {
		pthread_mutex_unlock(&d->mu);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		len = audit_line_seal(&lines[i], d->alg, ++d->seq, d->prev_text, hash);
		audit_stage_put(&d->stage, lines[i].sb->data, len);
		audit_prev_text(d->alg, hash, d->prev_text);
	}
	memcpy(d->prev, hash, sizeof(d->prev));
	audit_stage_publish(&d->stage);
	pthread_mutex_unlock(&d->mu);
	/* The stage's tail is published (sequentially consistent) before is_idle is read, and the
	 * flusher sets is_idle before it looks at the tail: one of the two sees the other. */
	audit_flusher_wake(d);
	return 0;
}

void audit_flusher_wake(struct audit_device *d)
{
	if (__atomic_load_n(&d->is_idle, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&d->idle_mu);
		__atomic_store_n(&d->is_idle, false, __ATOMIC_SEQ_CST);
		pthread_cond_signal(&d->idle_wake);
		pthread_mutex_unlock(&d->idle_mu);
	}
}

/* A change's line: its request line takes a promise of room for its response line, which gives
 * it back. */
struct audit_promise {
	bool take;        /* a request line: set room aside for the response */
	size_t give_back; /* a response line: the room set aside for it */
	size_t promised;  /* out: the room set aside */
};

/* The room of a response line is free for it again (it is written into it next, or fails).
 * Caller holds d->file_mu. */
static void audit_promise_give_back(struct audit_device *d, struct audit_promise *pr)
{
	d->owed -= pr->give_back < d->owed ? pr->give_back : d->owed;
	pr->give_back = 0;
}

/* audit_write_lines() for a change's line: a request line only when its response's room can be
 * set aside too. Caller holds d->file_mu and d->mu, the staged lines flushed. */
static int audit_write_promising(struct audit_device *d, const struct iovec *iov, int n_iov,
                                 struct audit_promise *pr, char *err, size_t err_len)
{
	size_t aside = pr->take && d->can_reserve ? AUDIT_PROMISE : 0;
	/* A response line takes its own room; a request line leaves the floor too. */
	size_t need = audit_iov_len(iov, n_iov) + d->owed + (pr->take ? AUDIT_RESV_FLOOR : 0);
	int rc = audit_resv_need(d, need, err, err_len);

	if (rc != 0)
		d->write_errno = errno;
	else
		rc = audit_write_raw(d, iov, n_iov, err, err_len);
	if (rc == 0) {
		d->owed += aside;
		pr->promised = aside;
	}
	audit_resv_publish(d);
	return rc;
}

void audit_device_unpromise(struct audit_device *d, size_t promise)
{
	struct audit_promise pr = {false, promise, 0};

	if (promise == 0)
		return;
	pthread_mutex_lock(&d->file_mu);
	audit_promise_give_back(d, &pr);
	audit_resv_publish(d);
	pthread_mutex_unlock(&d->file_mu);
}

/* Write the lines to the file after everything staged, with one write; the chain moves only
 * when it succeeds. */
static int audit_write_direct(struct audit_device *d, const struct audit_line *lines, size_t n,
                              struct audit_promise *pr, char *err, size_t err_len)
{
	struct iovec iov[2];
	uint8_t hash[AUDIT_HASH_LEN];
	char prev_text[AUDIT_PREV_TEXT_MAX + 1];
	int rc;

	pthread_mutex_lock(&d->file_mu);
	if (pr != NULL)
		audit_promise_give_back(d, pr);
	rc = audit_flush_hold_chain(d, err, err_len);
	if (rc == 0)
		rc = audit_header_write_locked(d, err, err_len);
	if (rc == 0) {
		memcpy(prev_text, d->prev_text, sizeof(prev_text));
		for (size_t i = 0; i < n; i++) {
			iov[i].iov_len =
			    audit_line_seal(&lines[i], d->alg, d->seq + 1 + i, prev_text, hash);
			iov[i].iov_base = lines[i].sb->data;
			audit_prev_text(d->alg, hash, prev_text);
		}
		rc = pr != NULL ? audit_write_promising(d, iov, (int)n, pr, err, err_len)
		                : audit_write_lines(d, iov, (int)n, err, err_len);
	}
	if (rc == 0) {
		d->seq += n;
		memcpy(d->prev, hash, sizeof(d->prev));
		memcpy(d->prev_text, prev_text, sizeof(prev_text));
	}
	pthread_mutex_unlock(&d->mu);
	__atomic_store_n(&d->is_failing, rc != 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->file_mu);
	if (rc == 0)
		audit_flusher_wake(d); /* its clock signs the lines within a second */
	return rc;
}

int audit_device_write(struct audit_device *d, struct buf *const *sbs, size_t n, bool may_stage,
                       char *err, size_t err_len)
{
	struct audit_line lines[2];
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct buf *sb = sbs[i];

		if (n > 2 || sb->len < 2 || sb->data[0] != '{' || sb->data[sb->len - 1] != '}' ||
		    buf_room(sb, AUDIT_SUFFIX_ROOM) == NULL) {
			snprintf(err, err_len, "%s: cannot build the line", d->path);
			return COFFER_ERR_INTERNAL;
		}
		audit_line_begin(d, &lines[i], sbs[i]);
	}
	if (may_stage && audit_stage_lines(d, lines, n) == 0)
		rc = 0;
	else
		rc = audit_write_direct(d, lines, n, NULL, err, err_len);
	return rc;
}

int audit_device_write_change(struct audit_device *d, struct buf *sb, bool take, size_t *promise,
                              char *err, size_t err_len)
{
	struct audit_promise pr = {take, take ? 0 : *promise, 0};
	struct audit_line line;
	int rc;

	*promise = 0;
	if (sb->len < 2 || sb->data[0] != '{' || sb->data[sb->len - 1] != '}' ||
	    buf_room(sb, AUDIT_SUFFIX_ROOM) == NULL) {
		snprintf(err, err_len, "%s: cannot build the line", d->path);
		audit_device_unpromise(d, pr.give_back);
		return COFFER_ERR_INTERNAL;
	}
	audit_line_begin(d, &line, sb);
	rc = audit_write_direct(d, &line, 1, &pr, err, err_len);
	*promise = pr.promised;
	return rc;
}

/*
 * The flusher: while lines are being staged it copies them into the file every
 * AUDIT_FLUSH_INTERVAL (so a tail -f sees them within that), and sleeps once the stage has been
 * empty for a while. A failing file is retried less often; requests meanwhile write directly
 * and fail closed.
 */
#define AUDIT_FLUSH_INTERVAL_NS 2000000L   /* 2 ms */
#define AUDIT_FLUSH_RETRY_NS 100000000L    /* 100 ms */
#define AUDIT_FLUSH_IDLE_ROUNDS 100

static void audit_flusher_sleep(long ns)
{
	struct timespec ts = {ns / 1000000000L, ns % 1000000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleep until a line is staged or the device stops. */
static void audit_flusher_idle(struct audit_device *d)
{
	pthread_mutex_lock(&d->idle_mu);
	__atomic_store_n(&d->is_idle, true, __ATOMIC_SEQ_CST);
	/* audit_flusher_wake() clears is_idle: a line was staged, or written unsigned. */
	while (!audit_stage_is_pending(&d->stage) &&
	       !__atomic_load_n(&d->is_stopping, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&d->is_idle, __ATOMIC_SEQ_CST))
		pthread_cond_wait(&d->idle_wake, &d->idle_mu);
	__atomic_store_n(&d->is_idle, false, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&d->idle_mu);
}

/*
 * Keep the log out of the page cache behind the writer: start writing each AUDIT_DROP_CHUNK to
 * the disk once it is full, and drop the one before from the cache (written by then). An audit
 * log is written once and read rarely; left alone, gigabytes of it would push out the cache of
 * the store, and every new page costs the kernel an allocation (several microseconds on a
 * virtual machine) where a dropped page is reused. Caller holds d->file_mu.
 */
#define AUDIT_DROP_CHUNK ((off_t)4 << 20)

static void audit_drop_behind(struct audit_device *d)
{
	off_t from = d->written_back;

	if (d->fd < 0 || d->size - from < AUDIT_DROP_CHUNK)
		return;
	(void)sync_file_range(d->fd, from, AUDIT_DROP_CHUNK, SYNC_FILE_RANGE_WRITE);
	if (from >= AUDIT_DROP_CHUNK) {
		(void)sync_file_range(d->fd, from - AUDIT_DROP_CHUNK, AUDIT_DROP_CHUNK,
		                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		                          SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(d->fd, from - AUDIT_DROP_CHUNK, AUDIT_DROP_CHUNK,
		                    POSIX_FADV_DONTNEED);
	}
	d->written_back = from + AUDIT_DROP_CHUNK;
}

static void *audit_flusher_main(void *arg)
{
	struct audit_device *d = arg;
	unsigned quiet = 0;
	bool was_failing = false;
	char err[300];
	int rc;

	while (!__atomic_load_n(&d->is_stopping, __ATOMIC_ACQUIRE)) {
		audit_flusher_sleep(was_failing ? AUDIT_FLUSH_RETRY_NS : AUDIT_FLUSH_INTERVAL_NS);
		/* Unsigned lines keep the flusher awake: it signs them within a second. */
		if (audit_ckpt_tick(d))
			quiet = 0;
		if (!audit_stage_is_pending(&d->stage)) {
			if (++quiet >= AUDIT_FLUSH_IDLE_ROUNDS) {
				audit_flusher_idle(d);
				quiet = 0;
			}
			continue;
		}
		quiet = 0;
		pthread_mutex_lock(&d->file_mu);
		rc = audit_flush_locked(d, err, sizeof(err));
		if (rc == 0) {
			__atomic_store_n(&d->is_failing, false, __ATOMIC_RELEASE);
			audit_drop_behind(d);
		}
		pthread_mutex_unlock(&d->file_mu);
		if (rc != 0 && !was_failing)
			log_error("audit %s: staged lines wait: %s", d->path, err);
		else if (rc == 0 && was_failing)
			log_info("audit %s: staged lines written again", d->path);
		was_failing = rc != 0;
	}
	return NULL;
}

/* Copy into the file the lines a crashed process staged: those that continue its chain. */
static int audit_recover_line(const char *line, size_t len, void *arg)
{
	struct audit_device *d = arg;
	struct iovec iov = {(void *)line, len};
	uint8_t prev[AUDIT_HASH_LEN];
	enum audit_hash_alg alg;
	char err[300];
	uint64_t seq;

	if (audit_chain_link(line, len - 1, &seq, &alg, prev) != 0)
		return 1;
	if (d->seq != 0 && seq <= d->seq)
		return 0; /* in the file already */
	if ((d->seq != 0 || d->size != 0) &&
	    (seq != d->seq + 1 || alg != d->alg || sodium_memcmp(prev, d->prev, sizeof(prev)) != 0))
		return 1; /* does not continue the file's chain: stale */
	/* Recorded already: it goes in whenever it fits, the room beyond the end included. */
	if (audit_write_raw(d, &iov, 1, err, sizeof(err)) != 0) {
		log_error("audit %s: cannot copy staged lines: %s", d->path, err);
		return -1;
	}
	d->seq = seq;
	/* The same, or the staged chain's when the file was empty. */
	__atomic_store_n(&d->alg, alg, __ATOMIC_RELAXED);
	audit_line_hash(d->alg, line, len - 1, d->prev);
	return 0;
}

static int audit_flusher_start(struct audit_device *d, char *err, size_t err_len)
{
	if (pthread_create(&d->flusher, NULL, audit_flusher_main, d) != 0) {
		snprintf(err, err_len, "cannot start the audit flusher");
		return COFFER_ERR_INTERNAL;
	}
	pthread_setname_np(d->flusher, "audit-flush");
	d->has_flusher = true;
	return 0;
}

/* Open the stage beside the file, copy what it holds into the file, start the flusher. A device
 * whose stage cannot be made (no space, a read-only directory) works without. */
static int audit_stage_start(struct audit_device *d, bool is_strict, char *err, size_t err_len)
{
	char path[PATH_MAX];
	uint64_t before = d->seq;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s.stage", d->file_path) >= sizeof(path)) {
		snprintf(err, err_len, "%s.stage: path too long", d->file_path);
		return COFFER_ERR_INVALID;
	}
	rc = audit_stage_open(&d->stage, path, is_strict, err, err_len);
	if (rc != 0) {
		/* Slower, not less safe: every line is then written before its answer leaves. */
		log_warn("audit %s: no staging (%s); every line is written directly", d->path, err);
		return audit_flusher_start(d, err, err_len); /* it also keeps the checkpoints */
	}
	if (audit_stage_recover(&d->stage, audit_recover_line, d) < 0) {
		snprintf(err, err_len, "cannot copy the staged lines of %s into %s", path,
		         d->file_path);
		audit_stage_close(&d->stage);
		return COFFER_ERR_IO;
	}
	audit_prev_text(d->alg, d->prev, d->prev_text);
	if (d->seq != before)
		log_warn("audit %s: copied %llu staged lines into %s (the previous process stopped "
		         "before writing them)",
		         d->path, (unsigned long long)(d->seq - before), d->file_path);
	rc = audit_flusher_start(d, err, err_len);
	if (rc != 0)
		audit_stage_close(&d->stage);
	return rc;
}

int audit_device_open(const char *path, const char *file_path, const char *description,
                      bool is_config, bool is_strict, struct audit_device **out, char *err,
                      size_t err_len)
{
	struct audit_device *d;
	int rc;

	*out = NULL;
	d = audit_device_alloc(path, file_path, description, is_config);
	d->fd = audit_open_fd(file_path, is_strict, err, err_len);
	if (d->fd < 0) {
		audit_device_release(d);
		return COFFER_ERR_IO;
	}
	rc = audit_load_tail(d, err, err_len);
	d->needs_header = d->size == 0;
	if (rc == 0)
		audit_resv_open(d);
	if (rc == 0)
		rc = audit_stage_start(d, is_strict, err, err_len);
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
	char err[300];

	if (d == NULL || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (d->has_flusher) {
		pthread_mutex_lock(&d->idle_mu);
		__atomic_store_n(&d->is_stopping, true, __ATOMIC_RELEASE);
		pthread_cond_signal(&d->idle_wake);
		pthread_mutex_unlock(&d->idle_mu);
		pthread_join(d->flusher, NULL);
		/* What cannot be written now stays staged for the next start. */
		if (audit_flush_locked(d, err, sizeof(err)) != 0)
			log_error("audit %s: staged lines kept in %s.stage: %s", d->path,
			          d->file_path, err);
	}
	/* The last line the server writes to the file is signed (not when sealed: then "seal"). */
	audit_sign_stop(d);
	(void)audit_device_checkpoint(d, AUDIT_CKPT_SHUTDOWN);
	secmem_free(d->sign_sk);
	audit_stage_close(&d->stage);
	audit_resv_release(d->fd, d->size, d->resv_end);
	if (d->fd >= 0)
		close(d->fd);
	secmem_free(d->hmac);
	audit_auth_cache_clear(d);
	pthread_mutex_destroy(&d->auth_mu);
	pthread_mutex_destroy(&d->head_mu);
	pthread_rwlock_destroy(&d->key_lock);
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->file_mu);
	pthread_mutex_destroy(&d->idle_mu);
	pthread_cond_destroy(&d->idle_wake);
	free(d->file_path);
	free(d->description);
	free(d);
}

int audit_device_reopen(struct audit_device *d)
{
	char err[300];
	off_t old_size = 0, old_resv = 0;
	int fd, old, rc = 0;

	/* API-created files are always opened without following a symlink. */
	fd = audit_open_fd(d->file_path, !d->is_config, err, sizeof(err));
	if (fd < 0) {
		log_error("audit %s: reopen failed: %s", d->path, err);
		return COFFER_ERR_IO;
	}
	pthread_mutex_lock(&d->file_mu);
	/* Staged lines belong to the old file, which logrotate renamed; their seq numbers come
	 * before the closing checkpoint's. */
	rc = audit_flush_hold_chain(d, err, sizeof(err));
	if (rc != 0)
		log_error("audit %s: staged lines go to the new file: %s", d->path, err);
	/* The old file ends with a signed checkpoint (the chain goes on in the new one); not
	 * while lines that come before it wait staged. */
	if (rc == 0 && d->fd >= 0 && !d->needs_header && d->sign_sk != NULL &&
	    audit_ckpt_write_locked(d, AUDIT_CKPT_REOPEN, err, sizeof(err)) != 0)
		log_error("audit %s: no closing checkpoint in the old file: %s", d->path, err);
	old = d->fd;
	old_size = d->size;
	old_resv = d->resv_end;
	d->fd = fd;
	/* A device that never opened its file learns where its chain stands now. */
	rc = d->has_chain ? audit_load_size(d, err, sizeof(err))
	                  : audit_load_tail(d, err, sizeof(err));
	if (rc == 0) {
		d->has_chain = true;
		d->write_errno = 0;
		audit_resv_open(d); /* the promises in flight move to the new file */
		/* A new file starts with a signed header that continues the chain. */
		d->needs_header = d->size == 0;
		if (d->sign_sk != NULL && audit_header_write_locked(d, err, sizeof(err)) != 0)
			log_error("audit %s: no header in the new file yet: %s", d->path, err);
		/* A device that could not open its file at unseal has no flusher yet: its
		 * periodic checkpoints need one. */
		if (!d->has_flusher && audit_flusher_start(d, err, sizeof(err)) != 0)
			log_error("audit %s: %s", d->path, err);
	} else {
		log_error("audit %s: reopen failed: %s", d->path, err);
		d->fd = -1;
		old = fd;
	}
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_unlock(&d->file_mu);
	if (old >= 0 && old != fd && !audit_same_file(old, fd))
		audit_resv_release(old, old_size, old_resv); /* a rotated file keeps no room */
	if (old >= 0)
		close(old);
	audit_head_record(d);
	return rc;
}
