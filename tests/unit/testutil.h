/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testutil.h: helpers shared by the unit tests that need files: a private temporary directory and
 * its removal, a SQLite store with a barrier over it, and reading a whole file for at-rest scans;
 * and a child process for cofferd's fatal out-of-memory exit. The releases (testutil_rmtree,
 * testutil_close_barrier) accept what a failed or skipped acquisition leaves (an empty path,
 * NULL), so a test's out: path can call them whatever failed.
 */
#ifndef COFFER_TESTUTIL_H
#define COFFER_TESTUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/engine.h"
#include "crypto.h"
#include "log.h"
#include "secmem.h"
#include "store/barrier.h"
#include "store/storage.h"

/* Create a private directory /tmp/coffer-<name>-XXXXXX, its path in dir. 0, or -1 with dir
 * empty (nothing for testutil_rmtree() to remove). */
static inline int testutil_mkdtemp(char *dir, size_t dir_len, const char *name)
{
	if ((size_t)snprintf(dir, dir_len, "/tmp/coffer-%s-XXXXXX", name) >= dir_len ||
	    mkdtemp(dir) == NULL) {
		if (dir_len > 0)
			dir[0] = '\0';
		return -1;
	}
	return 0;
}

static inline int testutil_remove_entry(const char *path, const struct stat *sb, int flag,
                                        struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and everything below it; best effort. NULL or an empty path (a zeroed fixture, a
 * failed testutil_mkdtemp) does nothing. */
static inline void testutil_rmtree(const char *dir)
{
	if (dir == NULL || dir[0] == '\0')
		return;
	nftw(dir, testutil_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new private directory for a test store: its path in dir, the store's path in db. 0, or -1
 * with whatever directory was made still in dir for testutil_rmtree(). */
static inline int testutil_mkstore(char *dir, size_t dir_len, char *db, size_t db_len,
                                   const char *name)
{
	if (testutil_mkdtemp(dir, dir_len, name) != 0)
		return -1;
	return (size_t)snprintf(db, db_len, "%s/coffer.db", dir) < db_len ? 0 : -1;
}

/* Open the SQLite store at db and a new (sealed) barrier over it. 0, or -1 with what did open
 * left in *st and *b for testutil_close_barrier(). */
static inline int testutil_open_barrier(const char *db, struct storage **st, struct barrier **b)
{
	if (storage_sqlite_open(db, st) != 0 || barrier_new(*st, b) != 0)
		return -1;
	return 0;
}

/* Free the barrier and close the store that testutil_open_barrier() opened; NULLs both. Either
 * may already be NULL (not opened, or closed before). */
static inline void testutil_close_barrier(struct storage **st, struct barrier **b)
{
	barrier_free(*b);
	storage_close(*st);
	*b = NULL;
	*st = NULL;
}

/* The whole of the file at path in *out (malloc'd; the caller frees) and its length in *out_len.
 * 0; -1 when the file cannot be opened; -2 when out of memory. */
static inline int testutil_read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, r;

	*out = NULL;
	*out_len = 0;
	if (fp == NULL)
		return -1;
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (nb == NULL) {
				fclose(fp);
				free(buf);
				return -2;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, fp);
		len += r;
	} while (r > 0);
	fclose(fp);
	*out = buf;
	*out_len = len;
	return 0;
}

/* Run fn in a child process. 1 when the child exits 1 after logging "out of memory" (fatal(),
 * xmalloc.h), 0 otherwise (fn returned, or died another way). */
static inline int testutil_exits_out_of_memory(void (*fn)(void))
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int fds[2], status = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		log_init(LOG_LEVEL_ERROR, false);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
	       strstr(buf, "[ERROR] out of memory") != NULL;
}

/*
 * A mount's engine context over a real, unsealed barrier on a fresh store, as the router makes
 * it for a secrets engine (no services): what tests drive engine handlers with. open() returns 0
 * or -1; close() accepts a zeroed or partly opened fixture and may run twice.
 */
struct testutil_mount {
	char dir[64];
	char db[128];
	struct storage *st;
	struct engine_services svc;
	struct engine_ctx ctx;
	struct mount_entry mount;
};

static inline int testutil_mount_open(struct testutil_mount *m, const char *name, const char *uuid)
{
	uint8_t root[COFFER_KEY_LEN];
	int err;

	memset(m, 0, sizeof(*m));
	if (testutil_mkstore(m->dir, sizeof(m->dir), m->db, sizeof(m->db), name) != 0 ||
	    testutil_open_barrier(m->db, &m->st, &m->svc.barrier) != 0)
		return -1;
	coffer_random(root, sizeof(root));
	err = barrier_initialize(m->svc.barrier, root);
	secmem_wipe(root, sizeof(root));
	m->mount.path = "secret/";
	m->mount.uuid = (char *)uuid;
	snprintf(m->mount.storage_prefix, sizeof(m->mount.storage_prefix), "logical/%s/", uuid);
	engine_ctx_init(&m->ctx, &m->svc, 0, m->mount.storage_prefix);
	return err != 0 ? -1 : 0;
}

static inline void testutil_mount_close(struct testutil_mount *m)
{
	testutil_close_barrier(&m->st, &m->svc.barrier);
	testutil_rmtree(m->dir);
	m->dir[0] = '\0';
}

#endif
