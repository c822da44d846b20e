/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c: the agent's only writer of files (DESIGN.md §7, §10.8). The destination directory is
 * opened once and every call is relative to its fd; a file is a temp file created O_EXCL with its
 * final mode (umask 0), given its final owner through its own fd (fchown) and checked before any
 * byte is written, synced, then renamed over the final name, so an app never sees a partial or
 * world-readable file. No chmod of any kind: the sandbox forbids them all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <sodium.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"

#define SINK_TMP_PREFIX ".coffer-tmp."

/* Temp files a previous run left (killed between create and rename): regular files only, never
 * followed; they may hold part of a secret. Runs before the sandbox (it reads the directory). */
static void sink_remove_stale(int dir_fd)
{
	int fd = dup(dir_fd);
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, SINK_TMP_PREFIX, strlen(SINK_TMP_PREFIX)) != 0 ||
		    fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dir_fd, e->d_name, 0) == 0)
			log_info("removed %s, left by an earlier run", e->d_name);
	}
	closedir(d);
}

int sink_open(const char *dir, bool require_tmpfs, char *err, size_t err_len)
{
	struct statfs sfs;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "destination %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstatfs(fd, &sfs) != 0) {
		snprintf(err, err_len, "destination %s: statfs: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	if (require_tmpfs && sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC) {
		snprintf(
		    err, err_len,
		    "destination %s is not tmpfs or ramfs (set destination.require_tmpfs to false "
		    "to allow it)",
		    dir);
		close(fd);
		return -1;
	}
	sink_remove_stale(fd);
	/* Files are created with their final mode, which no umask may narrow. */
	umask(0);
	return fd;
}

int sink_write(int dir_fd, const char *name, uid_t uid, gid_t gid, mode_t mode, const void *data,
               size_t len, char *err, size_t err_len)
{
	char tmp[256];
	const char *step = "create";
	struct stat st;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), SINK_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	/* Owner and mode before content: the file is never readable by anyone else. */
	step = "chown";
	if (fchown(fd, uid, gid) != 0)
		goto fail_unlink;
	step = "stat";
	if (fstat(fd, &st) != 0)
		goto fail_unlink;
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid) {
		/* A umask set since sink_open() or a default ACL on the directory. */
		snprintf(err, err_len, "%s: created with mode %04o owner %u:%u, not %04o %u:%u",
		         name, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		         (unsigned)st.st_gid, (unsigned)mode, (unsigned)uid, (unsigned)gid);
		close(fd);
		(void)unlinkat(dir_fd, tmp, 0);
		return COFFER_ERR_IO;
	}
	step = "write";
	if (coffer_write_all(fd, data, len) != 0)
		goto fail_unlink;
	step = "fsync";
	if (fsync(fd) != 0)
		goto fail_unlink;
	step = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	step = "rename";
	if (renameat(dir_fd, tmp, dir_fd, name) != 0)
		goto fail_unlink;
	(void)fsync(dir_fd);
	return 0;
fail_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dir_fd, tmp, 0);
	errno = saved;
fail:
	snprintf(err, err_len, "%s: %s: %s", name, step, strerror(errno));
	return COFFER_ERR_IO;
}

int sink_remove(int dir_fd, const char *name)
{
	if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
		return COFFER_ERR_IO;
	return 0;
}
