/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_sqlite.c: the SQLite backend of storage.h. Readers use one read-only connection per
 * thread; all writes go through one writer thread that commits every queued batch in a single
 * transaction (group commit: one fsync for many callers). Opened by the server at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store/storage.h"
#include "store/storage_cache.h"
#include "store/storage_util.h"
#include "xmalloc.h"

#define SQLITE_BUSY_TIMEOUT_MS 10000
#define SQLITE_CACHE_BYTES (64u * 1024 * 1024) /* records kept in memory for reads */

/* A read connection owned by one thread; listed in its storage so close can free it. */
struct sqlite_reader {
	struct sqlite_storage *owner;
	struct sqlite_reader *next;
	sqlite3 *db;
	sqlite3_stmt *get;
	sqlite3_stmt *scan_bounded; /* k >= prefix AND k < upper */
	sqlite3_stmt *scan_open;    /* k >= prefix (prefix empty or all 0xff) */
};

enum sqlite_req_kind { SQLITE_REQ_WRITE, SQLITE_REQ_CHECKPOINT };

/* A request queued for the writer; lives on the caller's stack, which blocks until done. */
struct sqlite_req {
	enum sqlite_req_kind kind;
	const struct storage_op *ops;
	size_t n_ops;
	int result;
	sem_t done; /* posted for this request alone: no herd, and no shared lock on the way out */
	struct sqlite_req *next;
};

struct sqlite_storage {
	struct storage base; /* first, so a struct storage * converts back */
	char *path;
	int lock_fd; /* the exclusive flock of the file: one cofferd per store; -1 when none */
	pthread_key_t reader_key;
	pthread_mutex_t readers_lock; /* guards readers */
	struct sqlite_reader *readers;

	sqlite3 *wdb; /* used only by the writer thread once it runs */
	sqlite3_stmt *put;
	sqlite3_stmt *put_absent;
	sqlite3_stmt *del;
	sqlite3_stmt *sp_begin, *sp_release, *sp_rollback; /* one request's savepoint */
	pthread_t writer;
	pthread_mutex_t lock; /* guards queue, queue_tail and is_stopping */
	pthread_cond_t wake;  /* writer: work or stop */
	struct sqlite_req *queue;
	struct sqlite_req **queue_tail;
	int is_stopping;
	int has_sync, has_key, has_writer;
	struct storage_cache *cache;
};

static const char *const sqlite_schema =
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID";

/* Bind a possibly empty buffer as a blob; a NULL pointer would bind SQL NULL instead. */
static int sqlite_bind(sqlite3_stmt *stmt, int idx, const uint8_t *buf, size_t len)
{
	static const uint8_t empty[1];

	return sqlite3_bind_blob(stmt, idx, buf != NULL ? (const void *)buf : empty, (int)len,
	                         SQLITE_STATIC);
}

static int sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
}

/* Log why path could not be what (opened, created, ...), naming the cause an operator can fix:
 * a missing directory, a permission, a symbolic link. */
static void sqlite_log_errno(const char *what, const char *path, int errnum)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (errnum == ENOENT)
		log_error("storage: cannot %s %s: the directory %s does not exist", what, path,
		          dir);
	else if (errnum == EACCES || errnum == EPERM)
		log_error("storage: cannot %s %s: permission denied (cofferd runs as uid %u, gid "
		          "%u; the directory %s and the file must be theirs)",
		          what, path, (unsigned)geteuid(), (unsigned)getegid(), dir);
	else if (errnum == ENOTDIR)
		log_error("storage: cannot %s %s: a part of %s is not a directory", what, path,
		          dir);
	else if (errnum == ELOOP)
		log_error("storage: cannot %s %s: it is a symbolic link", what, path);
	else
		log_error("storage: cannot %s %s: %s", what, path, strerror(errnum));
}

/* Log why SQLite could not open or set up the database: its message and the system error. */
static void sqlite_log_db(const char *path, sqlite3 *db)
{
	int sys;

	if (db == NULL) {
		log_error("storage: cannot open the database %s: out of memory", path);
		return;
	}
	if (sqlite3_errcode(db) == SQLITE_OK) { /* a PRAGMA answered, but not as asked */
		log_error("storage: %s: SQLite refused the WAL journal mode", path);
		return;
	}
	sys = sqlite3_system_errno(db);
	if (sys != 0)
		sqlite_log_errno("open the database", path, sys);
	else
		log_error("storage: cannot open the database %s: %s", path, sqlite3_errmsg(db));
}

/* Create the file with mode 0600 before SQLite opens it; SQLite gives -wal and -shm the mode of
 * the database file. Tighten an existing file too. */
static int sqlite_create_file(const char *path)
{
	struct stat sb;
	int fd = -1, ret = COFFER_ERR_IO;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		sqlite_log_errno("create or open", path, errno);
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		sqlite_log_errno("stat", path, errno);
		goto out;
	}
	if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
		sqlite_log_errno("make mode 0600", path, errno);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Tighten -wal and -shm left by an older, looser file; absent files are fine. */
static int sqlite_chmod_sidecars(const char *path)
{
	static const char *const suffixes[] = {"-wal", "-shm"};
	char buf[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]) >= (int)sizeof(buf)) {
			log_error("storage: the path %s is too long", path);
			return COFFER_ERR_IO;
		}
		if (chmod(buf, 0600) != 0 && errno != ENOENT) {
			sqlite_log_errno("make mode 0600", buf, errno);
			return COFFER_ERR_IO;
		}
	}
	return 0;
}

/* Run a PRAGMA that answers with one text row and check the answer (journal_mode can refuse). */
static int sqlite_pragma_expect(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *got;
	int ret = COFFER_ERR_IO;

	if (sqlite_prepare(db, sql, &stmt) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_ROW)
		goto out;
	got = sqlite3_column_text(stmt, 0);
	if (got == NULL || strcmp((const char *)got, want) != 0)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(stmt);
	return ret;
}

/* Open the writer connection: settings, schema, and the two write statements. */
static int sqlite_writer_open(struct sqlite_storage *st)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(st->path, &st->wdb, flags, NULL) != SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite3_busy_timeout(st->wdb, SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite_pragma_expect(st->wdb, "PRAGMA journal_mode=WAL", "wal") != 0)
		return COFFER_ERR_IO;
	if (sqlite3_exec(
	        st->wdb,
	        "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=OFF;"
	        /* Names are MACs, so inserts land on random pages: keep many of them cached,
	         * keep savepoint journals in memory, and checkpoint the WAL rarely (a page
	         * rewritten many times is copied once; commits rarely pay for a checkpoint). */
	        "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
	        "PRAGMA wal_autocheckpoint=65536",
	        NULL, NULL, NULL) != SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite3_exec(st->wdb, sqlite_schema, NULL, NULL, NULL) != SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite_prepare(st->wdb, "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)", &st->put) !=
	    SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite_prepare(st->wdb, "INSERT OR IGNORE INTO kv (k, v) VALUES (?1, ?2)",
	                   &st->put_absent) != SQLITE_OK)
		return COFFER_ERR_IO;
	if (sqlite_prepare(st->wdb, "DELETE FROM kv WHERE k = ?1", &st->del) != SQLITE_OK ||
	    sqlite_prepare(st->wdb, "SAVEPOINT req", &st->sp_begin) != SQLITE_OK ||
	    sqlite_prepare(st->wdb, "RELEASE req", &st->sp_release) != SQLITE_OK ||
	    sqlite_prepare(st->wdb, "ROLLBACK TO req", &st->sp_rollback) != SQLITE_OK)
		return COFFER_ERR_IO;
	return 0;
}

static void sqlite_reader_free(struct sqlite_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->get);
	sqlite3_finalize(r->scan_bounded);
	sqlite3_finalize(r->scan_open);
	sqlite3_close(r->db);
	free(r);
}

/* Thread-exit destructor of a reader: unlist it, then free it. */
static void sqlite_reader_destroy(void *arg)
{
	struct sqlite_reader *r = arg, **pp;
	struct sqlite_storage *st = r->owner;

	pthread_mutex_lock(&st->readers_lock);
	for (pp = &st->readers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->readers_lock);
	sqlite_reader_free(r);
}

static int sqlite_reader_open(struct sqlite_storage *st, struct sqlite_reader **out)
{
	struct sqlite_reader *r;
	int ret = COFFER_ERR_IO;

	*out = NULL;
	r = xcalloc(1, sizeof(*r));
	r->owner = st;
	if (sqlite3_open_v2(st->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	        SQLITE_OK ||
	    sqlite3_busy_timeout(r->db, SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    sqlite3_exec(r->db, "PRAGMA cache_size=-8192", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite_prepare(r->db, "SELECT v FROM kv WHERE k = ?1", &r->get) != SQLITE_OK ||
	    sqlite_prepare(r->db, "SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k",
	                   &r->scan_bounded) != SQLITE_OK ||
	    sqlite_prepare(r->db, "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k", &r->scan_open) !=
	        SQLITE_OK)
		goto out;
	if (pthread_setspecific(st->reader_key, r) != 0)
		goto out;
	pthread_mutex_lock(&st->readers_lock);
	r->next = st->readers;
	st->readers = r;
	pthread_mutex_unlock(&st->readers_lock);
	*out = r;
	r = NULL;
	ret = 0;
out:
	sqlite_reader_free(r);
	return ret;
}

/* This thread's read connection, opened on first use. */
static int sqlite_reader_get(struct sqlite_storage *st, struct sqlite_reader **out)
{
	*out = pthread_getspecific(st->reader_key);
	if (*out != NULL)
		return 0;
	return sqlite_reader_open(st, out);
}

static int sqlite_get(struct storage *base, const uint8_t *key, size_t key_len, uint8_t **value,
                      size_t *value_len)
{
	struct sqlite_storage *st = (struct sqlite_storage *)base;
	struct sqlite_reader *r;
	sqlite3_stmt *stmt = NULL;
	const void *blob;
	size_t len;
	uint8_t *copy;
	uint64_t epoch;
	int rc, ret;

	*value = NULL;
	*value_len = 0;
	if (key_len > INT_MAX || (key == NULL && key_len > 0))
		return COFFER_ERR_INVALID;
	rc = storage_cache_get(st->cache, key, key_len, value, value_len);
	if (rc == 0)
		return 0;
	if (rc == STORAGE_CACHE_ABSENT)
		return COFFER_ERR_NOT_FOUND;
	epoch = storage_cache_epoch(st->cache);
	ret = sqlite_reader_get(st, &r);
	if (ret != 0)
		return ret;
	stmt = r->get;
	ret = COFFER_ERR_IO;
	if (sqlite_bind(stmt, 1, key, key_len) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		storage_cache_fill(st->cache, epoch, key, key_len, NULL, 0);
		ret = COFFER_ERR_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	blob = sqlite3_column_blob(stmt, 0);
	len = (size_t)sqlite3_column_bytes(stmt, 0);
	copy = xmalloc(len);
	if (len > 0)
		memcpy(copy, blob, len);
	*value = copy;
	*value_len = len;
	storage_cache_fill(st->cache, epoch, key, key_len, copy, len);
	ret = 0;
out:
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return ret;
}

/* Step a bound scan statement, calling fn on each row. */
static int sqlite_scan_rows(sqlite3_stmt *stmt, storage_scan_fn fn, void *arg)
{
	int rc, ret;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *k = sqlite3_column_blob(stmt, 0);
		size_t k_len = (size_t)sqlite3_column_bytes(stmt, 0);
		const void *v = sqlite3_column_blob(stmt, 1);
		size_t v_len = (size_t)sqlite3_column_bytes(stmt, 1);

		ret = fn(arg, k, k_len, v, v_len);
		if (ret != 0)
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : COFFER_ERR_IO;
}

static int sqlite_scan(struct storage *base, const uint8_t *prefix, size_t prefix_len,
                       storage_scan_fn fn, void *arg)
{
	struct sqlite_storage *st = (struct sqlite_storage *)base;
	struct sqlite_reader *r;
	sqlite3_stmt *stmt = NULL, *own = NULL;
	uint8_t *upper = NULL;
	size_t upper_len;
	int ret;

	if (prefix_len > INT_MAX || (prefix == NULL && prefix_len > 0))
		return COFFER_ERR_INVALID;
	ret = sqlite_reader_get(st, &r);
	if (ret != 0)
		return ret;
	upper = xmalloc(prefix_len);
	storage_prefix_upper_bound(prefix, prefix_len, upper, &upper_len);
	stmt = upper_len > 0 ? r->scan_bounded : r->scan_open;
	ret = COFFER_ERR_IO;
	/* A callback that scans again on this thread finds the cached statement busy. */
	if (sqlite3_stmt_busy(stmt)) {
		if (sqlite3_prepare_v2(r->db, sqlite3_sql(stmt), -1, &own, NULL) != SQLITE_OK) {
			stmt = NULL;
			goto out;
		}
		stmt = own;
	}
	if (sqlite_bind(stmt, 1, prefix, prefix_len) != SQLITE_OK ||
	    (upper_len > 0 && sqlite_bind(stmt, 2, upper, upper_len) != SQLITE_OK))
		goto out;
	ret = sqlite_scan_rows(stmt, fn, arg);
out:
	if (own != NULL) {
		sqlite3_finalize(own);
	} else if (stmt != NULL) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
	free(upper);
	return ret;
}

/* Run a prepared statement that returns no rows, and reset it. */
static int sqlite_step_once(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

/* Apply one request's ops inside the open transaction. */
static int sqlite_apply_ops(struct sqlite_storage *st, const struct storage_op *ops, size_t n_ops)
{
	sqlite3_stmt *stmt;
	size_t i;
	int rc;

	for (i = 0; i < n_ops; i++) {
		stmt = ops[i].type == STORAGE_PUT             ? st->put
		       : ops[i].type == STORAGE_PUT_IF_ABSENT ? st->put_absent
		                                              : st->del;
		rc = sqlite_bind(stmt, 1, ops[i].key, ops[i].key_len);
		if (rc == SQLITE_OK && ops[i].type != STORAGE_DELETE)
			rc = sqlite_bind(stmt, 2, ops[i].value, ops[i].value_len);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		if (rc != SQLITE_OK)
			return COFFER_ERR_IO;
	}
	return 0;
}

/* Apply one request in its own savepoint, so its failure leaves the others in the group intact.
 * Returns nonzero when the whole transaction is lost (SQLite rolled it back). */
static int sqlite_apply_req(struct sqlite_storage *st, struct sqlite_req *req)
{
	if (sqlite_step_once(st->sp_begin) != SQLITE_OK)
		return -1;
	req->result = sqlite_apply_ops(st, req->ops, req->n_ops);
	if (req->result != 0 && sqlite_step_once(st->sp_rollback) != SQLITE_OK)
		return -1;
	if (sqlite_step_once(st->sp_release) != SQLITE_OK)
		return -1;
	return 0;
}

static void sqlite_fail_writes(struct sqlite_req *group)
{
	for (; group != NULL; group = group->next) {
		if (group->kind == SQLITE_REQ_WRITE)
			group->result = COFFER_ERR_IO;
	}
}

/* Before the commit: the cache forgets what the group writes, and keeps no fill until
 * storage_cache_write_end() after the commit. */
static void sqlite_forget_group(struct sqlite_storage *st, struct sqlite_req *group)
{
	storage_cache_write_begin(st->cache);
	for (; group != NULL; group = group->next) {
		if (group->kind == SQLITE_REQ_WRITE)
			storage_cache_forget(st->cache, group->ops, group->n_ops);
	}
}

/* Commit every write request of the group in one transaction (one fsync). */
static void sqlite_commit_group(struct sqlite_storage *st, struct sqlite_req *group)
{
	struct sqlite_req *req;
	int has_writes = 0;

	for (req = group; req != NULL; req = req->next)
		has_writes |= req->kind == SQLITE_REQ_WRITE;
	if (!has_writes)
		return;
	if (sqlite3_exec(st->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_fail_writes(group);
		return;
	}
	sqlite_forget_group(st, group);
	for (req = group; req != NULL; req = req->next) {
		if (req->kind == SQLITE_REQ_WRITE && sqlite_apply_req(st, req) != 0)
			goto fail;
	}
	if (sqlite3_exec(st->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		storage_cache_write_end(st->cache);
		return;
	}
fail:
	if (!sqlite3_get_autocommit(st->wdb))
		sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
	storage_cache_write_end(st->cache);
	sqlite_fail_writes(group);
}

/* Checkpoints run after the group's commit, outside any transaction. */
static void sqlite_checkpoint_group(struct sqlite_storage *st, struct sqlite_req *group)
{
	for (; group != NULL; group = group->next) {
		if (group->kind != SQLITE_REQ_CHECKPOINT)
			continue;
		group->result = sqlite3_wal_checkpoint_v2(st->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE,
		                                          NULL, NULL) == SQLITE_OK
		                    ? 0
		                    : COFFER_ERR_IO;
	}
}

/* The writer thread: take every queued request, commit them together, then wake the callers.
 * It drains the queue before honouring is_stopping. */
static void *sqlite_writer_main(void *arg)
{
	struct sqlite_storage *st = arg;
	struct sqlite_req *group, *req, *next;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->queue == NULL && !st->is_stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (st->queue == NULL)
			break;
		group = st->queue;
		st->queue = NULL;
		st->queue_tail = &st->queue;
		pthread_mutex_unlock(&st->lock);

		sqlite_commit_group(st, group);
		sqlite_checkpoint_group(st, group);

		/* A request's caller may return as soon as it is posted: read next first. */
		for (req = group; req != NULL; req = next) {
			next = req->next;
			sem_post(&req->done);
		}
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* Queue a request and wait until the writer has finished it. */
static int sqlite_submit(struct sqlite_storage *st, struct sqlite_req *req)
{
	int is_queued = 0;

	if (sem_init(&req->done, 0, 0) != 0)
		return COFFER_ERR_IO;
	pthread_mutex_lock(&st->lock);
	if (!st->is_stopping) {
		*st->queue_tail = req;
		st->queue_tail = &req->next;
		pthread_cond_signal(&st->wake);
		is_queued = 1;
	}
	pthread_mutex_unlock(&st->lock);
	while (is_queued && sem_wait(&req->done) != 0)
		; /* EINTR */
	/* glibc allows destroying a semaphore as soon as sem_wait has returned. */
	sem_destroy(&req->done);
	return is_queued ? req->result : COFFER_ERR_IO;
}

static int sqlite_batch(struct storage *base, const struct storage_op *ops, size_t n_ops)
{
	struct sqlite_req req = {.kind = SQLITE_REQ_WRITE, .ops = ops, .n_ops = n_ops};
	int err = storage_ops_check(ops, n_ops);

	if (err != 0 || n_ops == 0)
		return err;
	return sqlite_submit((struct sqlite_storage *)base, &req);
}

static int sqlite_checkpoint(struct storage *base)
{
	struct sqlite_req req = {.kind = SQLITE_REQ_CHECKPOINT};

	return sqlite_submit((struct sqlite_storage *)base, &req);
}

/* Free whatever open got to; also the second half of close. */
/*
 * One cofferd per store: the record, token and ACL caches hold what this process committed, so a
 * second process writing the same file would make them serve stale data. An exclusive flock on
 * the file, held for the store's life (released by the kernel when the process dies), makes a
 * second cofferd on the same file refuse to start. SQLite's own locks (fcntl) are separate.
 */
static int sqlite_lock_file(struct sqlite_storage *st)
{
	int fd = open(st->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		sqlite_log_errno("open", st->path, errno);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			log_error("storage: %s is in use by another cofferd (one server per store)",
			          st->path);
		else
			sqlite_log_errno("lock", st->path, errno);
		close(fd);
		return -1;
	}
	st->lock_fd = fd;
	return 0;
}

static void sqlite_storage_free(struct sqlite_storage *st)
{
	struct sqlite_reader *r;

	if (st->has_writer) {
		pthread_mutex_lock(&st->lock);
		st->is_stopping = 1;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->writer, NULL);
	}
	if (st->has_key) {
		/* Threads that exit later must not run the destructor on freed readers. */
		pthread_setspecific(st->reader_key, NULL);
		pthread_key_delete(st->reader_key);
		pthread_mutex_lock(&st->readers_lock);
		while ((r = st->readers) != NULL) {
			st->readers = r->next;
			sqlite_reader_free(r);
		}
		pthread_mutex_unlock(&st->readers_lock);
	}
	sqlite3_finalize(st->put);
	sqlite3_finalize(st->put_absent);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->sp_begin);
	sqlite3_finalize(st->sp_release);
	sqlite3_finalize(st->sp_rollback);
	sqlite3_close(st->wdb); /* last connection: folds the WAL into the file */
	if (st->has_sync) {
		pthread_cond_destroy(&st->wake);
		pthread_mutex_destroy(&st->lock);
		pthread_mutex_destroy(&st->readers_lock);
	}
	storage_cache_free(st->cache);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* after the last connection */
	free(st->path);
	free(st);
}

/* Callers must have stopped using the store, and no thread that used it may be exiting. */
static void sqlite_close(struct storage *base)
{
	sqlite_storage_free((struct sqlite_storage *)base);
}

static const struct storage_ops sqlite_storage_ops = {
    .name = "sqlite",
    .get = sqlite_get,
    .scan = sqlite_scan,
    .batch = sqlite_batch,
    .checkpoint = sqlite_checkpoint,
    .close = sqlite_close,
};

static int sqlite_sync_init(struct sqlite_storage *st)
{
	if (pthread_mutex_init(&st->readers_lock, NULL) != 0)
		return COFFER_ERR_IO;
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		goto err_lock;
	if (pthread_cond_init(&st->wake, NULL) != 0)
		goto err_wake;
	st->has_sync = 1;
	return 0;
err_wake:
	pthread_mutex_destroy(&st->lock);
err_lock:
	pthread_mutex_destroy(&st->readers_lock);
	return COFFER_ERR_IO;
}

int storage_sqlite_open(const char *path, struct storage **out)
{
	struct sqlite_storage *st = NULL;
	int ret = COFFER_ERR_IO;

	*out = NULL;
	st = xcalloc(1, sizeof(*st));
	st->base.ops = &sqlite_storage_ops;
	st->queue_tail = &st->queue;
	st->lock_fd = -1;
	st->cache = storage_cache_new(SQLITE_CACHE_BYTES);
	if (sqlite_create_file(path) != 0)
		goto out;
	/* Absolute, so reader connections opened later do not depend on the working directory. */
	st->path = realpath(path, NULL);
	if (st->path == NULL) {
		sqlite_log_errno("resolve", path, errno);
		goto out;
	}
	if (sqlite_lock_file(st) != 0)
		goto out;
	if (sqlite_sync_init(st) != 0 ||
	    pthread_key_create(&st->reader_key, sqlite_reader_destroy) != 0) {
		log_error("storage: cannot create the writer's locks or the readers' key");
		goto out;
	}
	st->has_key = 1;
	if (sqlite_writer_open(st) != 0) {
		sqlite_log_db(st->path, st->wdb);
		goto out;
	}
	if (sqlite_chmod_sidecars(st->path) != 0)
		goto out;
	if (pthread_create(&st->writer, NULL, sqlite_writer_main, st) != 0) {
		log_error("storage: cannot start the writer thread");
		goto out;
	}
	pthread_setname_np(st->writer, "store-writer");
	st->has_writer = 1;
	*out = &st->base;
	st = NULL;
	ret = 0;
out:
	if (st != NULL)
		sqlite_storage_free(st);
	return ret;
}
