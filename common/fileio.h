/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fileio.h: the one way the programs read a secret file (key, token, credential, a value the user
 * names): by descriptor into secmem, never through stdio, whose buffers are not wiped; and the one
 * write_all. Used by cofferd (TLS key, seal key file), coffer (token file, @FILE values) and
 * coffer-agent (credentials, its files).
 */
#ifndef COFFER_FILEIO_H
#define COFFER_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Flags of coffer_read_secret_file(). */
/* Refuse a symbolic link as the last component of the path (O_NOFOLLOW). */
#define COFFER_SECRET_FILE_NOFOLLOW 0x1u
/* Read a pipe, socket or device as well as a regular file (k=@<(cmd), @/dev/stdin); open() then
 * waits for a FIFO's writer. A directory is refused all the same. */
#define COFFER_SECRET_FILE_ANY_TYPE 0x2u
/* No permission rule: the file's protection is not the program's to judge (a file the user names
 * on the command line, a certificate, a pid file). */
#define COFFER_SECRET_FILE_ANY_MODE 0x4u

/*
 * Read the file at path into secmem: min_len..max_len bytes (min_len == max_len: exactly that
 * many; max_len < SIZE_MAX), followed by a NUL byte that *out_len does not count, so that text
 * can be used as a string. The file is opened O_RDONLY | O_CLOEXEC | O_NOCTTY, and O_NONBLOCK
 * unless ANY_TYPE (a FIFO cannot hold open() up before it is refused); fstat() then decides:
 * a regular file unless ANY_TYPE, of an allowed size. It is read with read(2) to its end,
 * through EINTR and short reads; a regular file that ends before or after the size fstat()
 * gave changed while it was read, and is refused.
 *
 * The permission rule, unless ANY_MODE: a file that group or others may access (mode & 077) is
 * read, with a warning (as every caller did before; refusing would stop running deployments
 * whose key files are 0640 or 0644). So on success (0, *out for secmem_free(), *out_len) err holds "" or the
 * warning for the caller to show: "PATH is accessible by group or others (mode 0644); run chmod
 * go-rwx PATH".
 *
 * Otherwise a negative enum coffer_err, the reason in err as "PATH: why" (never content):
 * COFFER_ERR_NOT_FOUND (no such file: "PATH: cannot open: No such file or directory"),
 * COFFER_ERR_IO (open or read failed), COFFER_ERR_INVALID (not a regular file, shorter than
 * min_len, changed while read), COFFER_ERR_TOO_LARGE (longer than max_len), COFFER_ERR_NOMEM. *out
 * is then NULL and *out_len 0, and whatever was read has been wiped.
 */
int coffer_read_secret_file(const char *path, size_t min_len, size_t max_len, unsigned flags,
                            uint8_t **out, size_t *out_len, char *err, size_t err_len) COFFER_WUR;

/*
 * The same for fd, open for reading and left open (stdin): read to its end, at most max_len
 * bytes, into secmem with a NUL after them. 0, or COFFER_ERR_IO, COFFER_ERR_TOO_LARGE or
 * COFFER_ERR_NOMEM with the reason in err, which calls fd name.
 */
int coffer_read_secret_fd(int fd, const char *name, size_t max_len, uint8_t **out, size_t *out_len,
                          char *err, size_t err_len) COFFER_WUR;

/* Write all len bytes of p to fd, through EINTR and short writes. 0, or COFFER_ERR_IO with errno
 * set by the write that failed (EIO for a write that wrote nothing). */
int coffer_write_all(int fd, const void *p, size_t len) COFFER_WUR;

#endif
