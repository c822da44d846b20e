/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testutil.h: helpers shared by the unit tests that need files: a private temporary directory and
 * its removal, a SQLite store with a barrier over it, and reading a whole file for at-rest scans.
 */
#ifndef COFFER_TESTUTIL_H
#define COFFER_TESTUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store/barrier.h"
#include "store/storage.h"

/* Create a private directory /tmp/coffer-<name>-XXXXXX, its path in dir. 0, or -1. */
static inline int testutil_mkdtemp(char *dir, size_t dir_len, const char *name)
{
	if ((size_t)snprintf(dir, dir_len, "/tmp/coffer-%s-XXXXXX", name) >= dir_len)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int testutil_remove_entry(const char *path, const struct stat *sb, int flag,
                                        struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and everything below it; best effort. */
static inline void testutil_rmtree(const char *dir)
{
	nftw(dir, testutil_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new private directory for a test store: its path in dir, the store's path in db. 0, or -1. */
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

/* Free the barrier and close the store that testutil_open_barrier() opened; NULLs both. */
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

#endif
