/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_agent_sink.c: coffer-agent's file writer (agent/sink.c): the tmpfs check, the final mode
 * and content, replacement by rename with no temp file left behind, and no writing through a
 * symlink planted at the final name's place.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "secmem.h"
#include "test.h"

static char dir[64];

static int count_entries(void)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(dir);

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

static void test_require_tmpfs_refuses_a_disk_directory(void)
{
	char err[AGENT_ERR_LEN];
	struct stat st;
	int fd;

	/* dir is under /tmp; when /tmp is itself tmpfs the refusal cannot be shown here. */
	fd = sink_open(dir, true, err, sizeof(err));
	if (fd >= 0) {
		close(fd);
		fprintf(stderr, "(skipped: %s is on tmpfs)\n", dir);
		return;
	}
	CHECK(strstr(err, "is not tmpfs or ramfs") != NULL);
	fd = sink_open(dir, false, err, sizeof(err));
	CHECK(fd >= 0);
	close(fd);
	if (stat("/dev/shm", &st) == 0) {
		fd = sink_open("/dev/shm", true, err, sizeof(err));
		CHECK(fd >= 0);
		close(fd);
	}
	CHECK_EQ(sink_open("/nonexistent/dir", false, err, sizeof(err)), -1);
}

static void test_write_sets_mode_and_replaces_atomically(void)
{
	char err[AGENT_ERR_LEN], path[128], buf[64];
	struct stat st;
	int fd = -1;
	ssize_t n;

	/* Files are created with their mode (no chmod after): sink_open() clears the umask. */
	umask(0077);
	fd = sink_open(dir, false, err, sizeof(err));
	CHECK_OUT(fd >= 0);
	CHECK_EQ_OUT(sink_write(fd, "a", getuid(), getgid(), 0440, "one", 3, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/a", dir);
	CHECK_EQ_OUT(stat(path, &st), 0);
	CHECK_EQ_OUT(st.st_mode & 07777, 0440);
	CHECK_EQ_OUT(sink_write(fd, "a", getuid(), getgid(), 0400, "second", 6, err, sizeof(err)),
	             0);
	CHECK_EQ_OUT(stat(path, &st), 0);
	CHECK_EQ_OUT(st.st_mode & 07777, 0400);
	CHECK_EQ_OUT(st.st_size, 6);
	CHECK_EQ_OUT(count_entries(), 1);
	{
		int rfd = open(path, O_RDONLY);

		CHECK_OUT(rfd >= 0);
		n = read(rfd, buf, sizeof(buf));
		close(rfd);
	}
	CHECK_EQ_OUT(n, 6);
	CHECK_OUT(memcmp(buf, "second", 6) == 0);
	CHECK_EQ_OUT(sink_remove(fd, "a"), 0);
	CHECK_EQ_OUT(sink_remove(fd, "a"), 0);
	CHECK_EQ_OUT(count_entries(), 0);
out:
	/* Nothing of this test stays in the directory the next tests count. */
	if (fd >= 0) {
		sink_remove(fd, "a");
		close(fd);
	}
}

static void test_a_symlink_at_the_name_is_replaced_not_followed(void)
{
	char err[AGENT_ERR_LEN], link_path[128], target[128];
	struct stat st;
	int fd = -1;

	snprintf(target, sizeof(target), "%s.target", dir);
	snprintf(link_path, sizeof(link_path), "%s/b", dir);
	CHECK_EQ_OUT(symlink(target, link_path), 0);
	fd = sink_open(dir, false, err, sizeof(err));
	CHECK_OUT(fd >= 0);
	CHECK_EQ_OUT(sink_write(fd, "b", getuid(), getgid(), 0400, "x", 1, err, sizeof(err)), 0);
	CHECK_EQ_OUT(lstat(link_path, &st), 0);
	CHECK_OUT(S_ISREG(st.st_mode));
	CHECK_OUT(access(target, F_OK) != 0);
	CHECK_EQ_OUT(sink_remove(fd, "b"), 0);
out:
	if (fd >= 0)
		close(fd);
	/* The link, or the file written in its place; the target only if it was written through. */
	unlink(link_path);
	unlink(target);
}

/* A temp file a killed run left is removed at the next open; other files, and a directory or a
 * symlink with the prefix, are not touched. */
static void test_open_removes_stale_temp_files_only(void)
{
	char err[AGENT_ERR_LEN], path[160];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/.coffer-tmp.0123456789abcdef", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0400);
	CHECK_OUT(fd >= 0 && write(fd, "half a secr", 11) == 11);
	close(fd);
	fd = -1;
	snprintf(path, sizeof(path), "%s/keep", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0400);
	close(fd);
	fd = -1;
	snprintf(path, sizeof(path), "%s/.coffer-tmp.dir", dir);
	CHECK_EQ_OUT(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.coffer-tmp.link", dir);
	CHECK_EQ_OUT(symlink("/etc/hostname", path), 0);
	fd = sink_open(dir, false, err, sizeof(err));
	CHECK_OUT(fd >= 0);
	close(fd);
	fd = -1;
	snprintf(path, sizeof(path), "%s/.coffer-tmp.0123456789abcdef", dir);
	CHECK_OUT(access(path, F_OK) != 0);
	CHECK_EQ_OUT(count_entries(), 3);
	CHECK_OUT(access("/etc/hostname", F_OK) == 0);
out:
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/keep", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.coffer-tmp.dir", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/.coffer-tmp.link", dir);
	unlink(path);
	/* Left only when the open did not remove it. */
	snprintf(path, sizeof(path), "%s/.coffer-tmp.0123456789abcdef", dir);
	unlink(path);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/test_agent_sink.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(test_require_tmpfs_refuses_a_disk_directory);
	RUN(test_write_sets_mode_and_replaces_atomically);
	RUN(test_a_symlink_at_the_name_is_replaced_not_followed);
	RUN(test_open_removes_stale_temp_files_only);
	rmdir(dir);
	return test_summary();
}
