/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fileio.c: reading secret files (fileio.h) with one permission rule, by descriptor into secmem;
 * every buffer that held part of a file is released through secmem_free(), which wipes it. And
 * writing a whole buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "secmem.h"

/* The first allocation for input of unknown length (a pipe); it doubles from there. */
#define FILEIO_CHUNK 4096

/* Move the len bytes read so far into a larger secmem buffer of room bytes. */
static int fileio_grow(uint8_t **buf, size_t len, size_t room)
{
	uint8_t *grown = secmem_alloc(room);

	if (grown == NULL)
		return COFFER_ERR_NOMEM;
	memcpy(grown, *buf, len);
	secmem_free(*buf);
	*buf = grown;
	return 0;
}

/* Read fd to its end into a new secmem buffer: about hint bytes expected (0: unknown), at most
 * max_len. The buffer always has a byte more than the content it may hold: for the NUL, and so
 * that a read past the expected length shows the input is longer. */
static int fileio_read_fd(int fd, const char *name, size_t hint, size_t max_len, uint8_t **out,
                          size_t *out_len, char *err, size_t err_len)
{
	size_t len = 0, room = hint != 0 ? hint : FILEIO_CHUNK;
	uint8_t *buf;
	ssize_t n;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (room > max_len)
		room = max_len;
	room++;
	buf = secmem_alloc(room);
	if (buf == NULL) {
		rc = COFFER_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (len == room) {
			if (len > max_len) {
				rc = COFFER_ERR_TOO_LARGE;
				goto out;
			}
			room = room > max_len / 2 ? max_len + 1 : room * 2;
			if ((rc = fileio_grow(&buf, len, room)) != 0)
				goto out;
		}
		n = read(fd, buf + len, room - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			coffer_errf(err, err_len, "%s: cannot read: %s", name, strerror(errno));
			rc = COFFER_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	if (rc == COFFER_ERR_NOMEM)
		coffer_errf(err, err_len, "%s: out of memory", name);
	else if (rc == COFFER_ERR_TOO_LARGE)
		coffer_errf(err, err_len, "%s: larger than %zu bytes", name, max_len);
	secmem_free(buf);
	return rc;
}

int coffer_read_secret_fd(int fd, const char *name, size_t max_len, uint8_t **out, size_t *out_len,
                          char *err, size_t err_len)
{
	coffer_errf(err, err_len, "%s", "");
	return fileio_read_fd(fd, name, 0, max_len, out, out_len, err, err_len);
}

/* Why len bytes of path are not min_len..max_len: COFFER_ERR_TOO_LARGE or COFFER_ERR_INVALID. */
static int fileio_bad_len(const char *path, size_t len, size_t min_len, size_t max_len, char *err,
                          size_t err_len)
{
	if (min_len == max_len)
		coffer_errf(err, err_len, "%s: %zu bytes, must be %zu", path, len, min_len);
	else if (len > max_len)
		coffer_errf(err, err_len, "%s: larger than %zu bytes", path, max_len);
	else if (len == 0)
		coffer_errf(err, err_len, "%s: empty", path);
	else
		coffer_errf(err, err_len, "%s: shorter than %zu bytes", path, min_len);
	return len > max_len ? COFFER_ERR_TOO_LARGE : COFFER_ERR_INVALID;
}

/* Open path and check what fstat() says of it: 0 with the descriptor in *fd, or an error. */
static int fileio_open(const char *path, size_t min_len, size_t max_len, unsigned flags, int *fd,
                       struct stat *st, char *err, size_t err_len)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY;

	if (flags & COFFER_SECRET_FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if (!(flags & COFFER_SECRET_FILE_ANY_TYPE))
		oflags |= O_NONBLOCK;
	*fd = open(path, oflags);
	if (*fd < 0) {
		if (errno == ELOOP && (flags & COFFER_SECRET_FILE_NOFOLLOW))
			coffer_errf(err, err_len, "%s: a symbolic link, not followed", path);
		else
			coffer_errf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return errno == ENOENT ? COFFER_ERR_NOT_FOUND : COFFER_ERR_IO;
	}
	if (fstat(*fd, st) != 0) {
		coffer_errf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return COFFER_ERR_IO;
	}
	if (S_ISDIR(st->st_mode) ||
	    (!S_ISREG(st->st_mode) && !(flags & COFFER_SECRET_FILE_ANY_TYPE))) {
		coffer_errf(err, err_len, "%s: not a regular file", path);
		return COFFER_ERR_INVALID;
	}
	/* The size is known before any byte is read: refuse at once what cannot fit. */
	if (S_ISREG(st->st_mode) &&
	    ((uintmax_t)st->st_size > max_len || (uintmax_t)st->st_size < min_len))
		return fileio_bad_len(path, (size_t)st->st_size, min_len, max_len, err, err_len);
	return 0;
}

int coffer_read_secret_file(const char *path, size_t min_len, size_t max_len, unsigned flags,
                            uint8_t **out, size_t *out_len, char *err, size_t err_len)
{
	struct stat st;
	bool is_reg;
	int fd = -1, rc;

	*out = NULL;
	*out_len = 0;
	coffer_errf(err, err_len, "%s", "");
	rc = fileio_open(path, min_len, max_len, flags, &fd, &st, err, err_len);
	if (rc != 0)
		goto out;
	is_reg = S_ISREG(st.st_mode);
	rc = fileio_read_fd(fd, path, is_reg ? (size_t)st.st_size : 0, max_len, out, out_len, err,
	                    err_len);
	if (rc != 0)
		goto out;
	if (is_reg && *out_len != (size_t)st.st_size) {
		coffer_errf(err, err_len, "%s: changed while it was read", path);
		rc = COFFER_ERR_INVALID;
	} else if (*out_len < min_len) {
		rc = fileio_bad_len(path, *out_len, min_len, max_len, err, err_len);
	} else if (!(flags & COFFER_SECRET_FILE_ANY_MODE) && (st.st_mode & 077) != 0) {
		coffer_errf(err, err_len,
		            "%s is accessible by group or others (mode %04o); run chmod go-rwx %s",
		            path, (unsigned)(st.st_mode & 07777), path);
	}
out:
	if (rc != 0) {
		secmem_free(*out);
		*out = NULL;
		*out_len = 0;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int coffer_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *at = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, at, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return COFFER_ERR_IO;
		}
		at += n;
		len -= (size_t)n;
	}
	return 0;
}
