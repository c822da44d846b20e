/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fileio.c: reading secret files (common/fileio.c): exact and bounded lengths with a NUL
 * after the content, the permission rule (a warning, word for word), refusals (FIFO, directory,
 * symbolic link with NOFOLLOW, a file that changes while read), pipes longer than the first
 * buffer, and that a partial read is released through the wiping free. The last needs to see the
 * buffers: this program interposes sodium_malloc and sodium_free (libsodium is a shared library)
 * and records every region the reader takes and gives back. coffer_write_all goes on through
 * signals that cut its writes short.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

#define TRACK_MAX 64

/* The secmem regions made and released while is_tracking. */
static struct {
	uint8_t *p;
	size_t len;
	bool is_freed;
	bool held_secret; /* it held the partial secret when released */
} tracked[TRACK_MAX];
static size_t n_tracked;
static bool is_tracking;
static uint8_t track_pattern[8]; /* the bytes a test writes; found in a region = it held them */

void *sodium_malloc(const size_t size)
{
	static void *(*real)(size_t);
	void *p;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sodium_malloc");
	p = real(size);
	if (is_tracking && p != NULL && n_tracked < TRACK_MAX) {
		tracked[n_tracked].p = p;
		tracked[n_tracked].len = size;
		tracked[n_tracked].is_freed = false;
		tracked[n_tracked].held_secret = false;
		n_tracked++;
	}
	return p;
}

void sodium_free(void *ptr)
{
	static void (*real)(void *);
	size_t i;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "sodium_free");
	for (i = 0; is_tracking && ptr != NULL && i < n_tracked; i++) {
		if (tracked[i].p != ptr)
			continue;
		tracked[i].is_freed = true;
		tracked[i].held_secret =
		    tracked[i].len >= sizeof(track_pattern) &&
		    memmem(ptr, tracked[i].len, track_pattern, sizeof(track_pattern)) != NULL;
	}
	real(ptr); /* wipes the region, then unmaps it */
}

static void track_start(void)
{
	memset(tracked, 0, sizeof(tracked));
	n_tracked = 0;
	is_tracking = true;
}

static char dir[64];

/* dir/name with data and mode (umask aside); its path in path. */
static int put_file(char *path, size_t path_len, const char *name, const void *data, size_t len,
                    mode_t mode)
{
	int fd, rc = 0;

	snprintf(path, path_len, "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0 || write(fd, data, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}

/* For out: paths: stop and reap the child pid (-1: none) unless a wait reaped it already. */
static void child_reap(pid_t pid)
{
	if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void test_read_secret_file_reads_exact_length_with_a_nul_after(void)
{
	uint8_t key[32], *out = NULL;
	char path[128], err[256];
	size_t len = 99, i;
	bool is_same;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(put_file(path, sizeof(path), "key", key, sizeof(key), 0600), 0);
	CHECK_EQ(coffer_read_secret_file(path, 32, 32, 0, &out, &len, err, sizeof(err)), 0);
	is_same = len == 32 && memcmp(out, key, 32) == 0 && out[32] == '\0';
	secmem_free(out);
	CHECK(is_same);
	CHECK_EQ(err[0], '\0');
}

static void test_read_secret_file_warns_when_group_readable(void)
{
	char path[128], err[256], want[512];
	uint8_t *out = NULL;
	size_t len = 0;
	bool is_text;

	CHECK_EQ(put_file(path, sizeof(path), "tok", "cof.abc\n", 8, 0640), 0);
	CHECK_EQ(coffer_read_secret_file(path, 1, 100, 0, &out, &len, err, sizeof(err)), 0);
	is_text = len == 8 && strcmp((char *)out, "cof.abc\n") == 0;
	secmem_free(out);
	CHECK(is_text);
	snprintf(want, sizeof(want),
	         "%s is accessible by group or others (mode 0640); run chmod go-rwx %s", path,
	         path);
	CHECK(strcmp(err, want) == 0);
}

static void test_read_secret_file_warns_for_any_access_by_others(void)
{
	static const mode_t modes[] = {0604, 0602, 0601, 0620, 0610, 0644, 0777};
	char path[128], err[256];
	uint8_t *out = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		CHECK_EQ(put_file(path, sizeof(path), "open", "x", 1, modes[i]), 0);
		CHECK_EQ(coffer_read_secret_file(path, 1, 10, 0, &out, &len, err, sizeof(err)), 0);
		secmem_free(out);
		CHECK(strstr(err, "is accessible by group or others") != NULL);
	}
}

static void test_read_secret_file_is_quiet_for_owner_only_and_any_mode(void)
{
	static const mode_t modes[] = {0600, 0400, 0700};
	char path[128], err[256];
	uint8_t *out = NULL;
	size_t len = 0, i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		CHECK_EQ(put_file(path, sizeof(path), "own", "x", 1, modes[i]), 0);
		CHECK_EQ(coffer_read_secret_file(path, 1, 10, 0, &out, &len, err, sizeof(err)), 0);
		secmem_free(out);
		CHECK_EQ(err[0], '\0');
	}
	CHECK_EQ(put_file(path, sizeof(path), "cert", "x", 1, 0644), 0);
	CHECK_EQ(coffer_read_secret_file(path, 1, 10, COFFER_SECRET_FILE_ANY_MODE, &out, &len, err,
	                                 sizeof(err)),
	         0);
	secmem_free(out);
	CHECK_EQ(err[0], '\0');
}

static void test_read_secret_file_refuses_wrong_lengths_with_messages(void)
{
	char path[128], err[256], want[256];
	static uint8_t unset[] = "x"; /* not NULL: the failed reads must clear out */
	uint8_t *out = unset;
	size_t len = 7;

	CHECK_EQ_OUT(put_file(path, sizeof(path), "short", "0123456789", 10, 0600), 0);
	CHECK_EQ_OUT(coffer_read_secret_file(path, 32, 32, 0, &out, &len, err, sizeof(err)),
	             COFFER_ERR_INVALID);
	CHECK_OUT(out == NULL && len == 0);
	snprintf(want, sizeof(want), "%s: 10 bytes, must be 32", path);
	CHECK_OUT(strcmp(err, want) == 0);
	CHECK_EQ_OUT(coffer_read_secret_file(path, 1, 9, 0, &out, &len, err, sizeof(err)),
	             COFFER_ERR_TOO_LARGE);
	snprintf(want, sizeof(want), "%s: larger than 9 bytes", path);
	CHECK_OUT(strcmp(err, want) == 0);
	CHECK_EQ_OUT(coffer_read_secret_file(path, 11, 20, 0, &out, &len, err, sizeof(err)),
	             COFFER_ERR_INVALID);
	snprintf(want, sizeof(want), "%s: shorter than 11 bytes", path);
	CHECK_OUT(strcmp(err, want) == 0);
	CHECK_EQ_OUT(put_file(path, sizeof(path), "empty", "", 0, 0600), 0);
	CHECK_EQ_OUT(coffer_read_secret_file(path, 1, 20, 0, &out, &len, err, sizeof(err)),
	             COFFER_ERR_INVALID);
	snprintf(want, sizeof(want), "%s: empty", path);
	CHECK_OUT(strcmp(err, want) == 0);
	CHECK_OUT(out == NULL);
	/* An empty file is fine when min_len allows it: a string "". */
	CHECK_EQ_OUT(coffer_read_secret_file(path, 0, 20, 0, &out, &len, err, sizeof(err)), 0);
	CHECK_OUT(len == 0 && out != NULL && out[0] == '\0');
out:
	if (out != unset)
		secmem_free(out);
}

static void test_read_secret_file_missing_is_not_found(void)
{
	char path[128], err[256], want[300];
	uint8_t *out = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/nosuch", dir);
	CHECK_EQ(coffer_read_secret_file(path, 0, 10, 0, &out, &len, err, sizeof(err)),
	         COFFER_ERR_NOT_FOUND);
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	CHECK(strcmp(err, want) == 0);
}

static void test_read_secret_file_refuses_fifo_without_waiting_and_directories(void)
{
	char path[128], err[256];
	uint8_t *out = NULL;
	size_t len = 0;

	/* No writer: without O_NONBLOCK, open() would wait for one forever. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ_OUT(mkfifo(path, 0600), 0);
	alarm(10);
	CHECK_EQ_OUT(coffer_read_secret_file(path, 0, 10, 0, &out, &len, err, sizeof(err)),
	             COFFER_ERR_INVALID);
	alarm(0);
	CHECK_OUT(strstr(err, "not a regular file") != NULL);
	CHECK_EQ_OUT(coffer_read_secret_file(dir, 0, 10, COFFER_SECRET_FILE_ANY_TYPE, &out, &len,
	                                     err, sizeof(err)),
	             COFFER_ERR_INVALID);
	CHECK_OUT(strstr(err, "not a regular file") != NULL && out == NULL);
out:
	alarm(0);
	unlink(path);
	secmem_free(out);
}

static void test_read_secret_file_nofollow_refuses_a_symbolic_link(void)
{
	char path[128], link_path[128], err[256];
	uint8_t *out = NULL;
	size_t len = 0;

	CHECK_EQ_OUT(put_file(path, sizeof(path), "target", "secret", 6, 0600), 0);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	unlink(link_path);
	CHECK_EQ_OUT(symlink(path, link_path), 0);
	CHECK_EQ_OUT(coffer_read_secret_file(link_path, 0, 10, COFFER_SECRET_FILE_NOFOLLOW, &out,
	                                     &len, err, sizeof(err)),
	             COFFER_ERR_IO);
	CHECK_OUT(strstr(err, ": a symbolic link, not followed") != NULL && out == NULL);
	/* Without the flag the link is followed, and its target's mode is what counts. */
	CHECK_EQ_OUT(coffer_read_secret_file(link_path, 0, 10, 0, &out, &len, err, sizeof(err)), 0);
	CHECK_OUT(len == 6 && memcmp(out, "secret", 6) == 0);
	CHECK_EQ_OUT(err[0], '\0');
out:
	secmem_free(out);
}

static void test_read_secret_file_refuses_a_file_whose_size_changes(void)
{
	char err[256];
	uint8_t *out = NULL;
	size_t len = 0;

	/* procfs gives a size of 0 and then content: as a file that grew after fstat(). */
	track_start();
	CHECK_EQ_OUT(coffer_read_secret_file("/proc/self/status", 0, 1 << 20,
	                                     COFFER_SECRET_FILE_ANY_MODE, &out, &len, err,
	                                     sizeof(err)),
	             COFFER_ERR_INVALID);
	is_tracking = false;
	CHECK_OUT(strstr(err, "changed while it was read") != NULL);
	CHECK_OUT(out == NULL && len == 0);
	CHECK_OUT(n_tracked > 0);
	for (size_t i = 0; i < n_tracked; i++)
		CHECK_OUT(tracked[i].is_freed);
out:
	is_tracking = false;
	secmem_free(out);
}

/* A child that writes n bytes of the pattern into the FIFO at path, then closes it. */
static pid_t fifo_writer(const char *path, size_t n)
{
	pid_t pid = fork();
	size_t i;
	int fd;

	if (pid != 0)
		return pid;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	for (i = 0; fd >= 0 && i < n; i += sizeof(track_pattern))
		if (write(fd, track_pattern,
		          n - i < sizeof(track_pattern) ? n - i : sizeof(track_pattern)) < 0)
			_exit(1);
	_exit(fd >= 0 ? 0 : 1);
}

static void test_read_secret_file_wipes_a_partial_read(void)
{
	char path[128], err[256];
	uint8_t *out = NULL;
	size_t len = 0, i;
	bool is_held = false;
	pid_t pid = -1;
	int status;

	memcpy(track_pattern, "S3CR3T!!", sizeof(track_pattern));
	snprintf(path, sizeof(path), "%s/partial", dir);
	CHECK_EQ_OUT(mkfifo(path, 0600), 0);
	/* 16 of the 32 bytes a key needs, then the end of the stream. */
	pid = fifo_writer(path, 16);
	CHECK_OUT(pid > 0);
	track_start();
	CHECK_EQ_OUT(coffer_read_secret_file(path, 32, 32, COFFER_SECRET_FILE_ANY_TYPE, &out, &len,
	                                     err, sizeof(err)),
	             COFFER_ERR_INVALID);
	is_tracking = false;
	CHECK_OUT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_OUT(out == NULL && len == 0);
	CHECK_OUT(strstr(err, "16 bytes, must be 32") != NULL);
	/* The partial key was in secmem, and every region went back through sodium_free, which
	 * wipes: no copy of it is left. */
	CHECK_OUT(n_tracked > 0);
	for (i = 0; i < n_tracked; i++) {
		CHECK_OUT(tracked[i].is_freed);
		is_held = is_held || tracked[i].held_secret;
	}
	CHECK_OUT(is_held);
out:
	is_tracking = false;
	child_reap(pid);
	unlink(path);
	secmem_free(out);
}

static void test_read_secret_file_reads_a_long_pipe_and_refuses_a_longer_one(void)
{
	char path[128], err[256];
	uint8_t *out = NULL, *stale = NULL;
	size_t len = 0, i;
	pid_t pid = -1;
	bool is_ok = true;

	memcpy(track_pattern, "pipe-val", sizeof(track_pattern));
	snprintf(path, sizeof(path), "%s/long", dir);
	CHECK_EQ_OUT(mkfifo(path, 0600), 0);
	/* Several times the first buffer: it grows, and the old buffers are released. */
	pid = fifo_writer(path, 40000);
	track_start();
	CHECK_EQ_OUT(coffer_read_secret_file(path, 0, 40000, COFFER_SECRET_FILE_ANY_TYPE, &out,
	                                     &len, err, sizeof(err)),
	             0);
	is_tracking = false;
	waitpid(pid, NULL, 0);
	CHECK_EQ_OUT(len, 40000);
	for (i = 0; i < len; i++)
		is_ok = is_ok && out[i] == track_pattern[i % sizeof(track_pattern)];
	is_ok = is_ok && out[len] == '\0';
	for (i = 0; i < n_tracked; i++)
		is_ok = is_ok && (tracked[i].is_freed || tracked[i].p == out);
	secmem_free(out);
	/* out is left stale, not reset: the failed read below must clear it, as a later check
	 * pins; out: does not free a pointer it left stale. */
	stale = out;
	CHECK_OUT(is_ok);
	CHECK_OUT(n_tracked > 1);
	pid = fifo_writer(path, 40001);
	track_start();
	CHECK_EQ_OUT(coffer_read_secret_file(path, 0, 40000, COFFER_SECRET_FILE_ANY_TYPE, &out,
	                                     &len, err, sizeof(err)),
	             COFFER_ERR_TOO_LARGE);
	is_tracking = false;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_OUT(out == NULL && strstr(err, "larger than 40000 bytes") != NULL);
	for (i = 0; i < n_tracked; i++)
		CHECK_OUT(tracked[i].is_freed);
out:
	is_tracking = false;
	child_reap(pid);
	unlink(path);
	if (out != stale)
		secmem_free(out);
}

static void test_read_secret_fd_reads_to_the_end(void)
{
	char err[256];
	uint8_t *out = NULL, *stale = NULL;
	size_t len = 0;
	int fds[2] = {-1, -1};

	CHECK_EQ_OUT(pipe(fds), 0);
	CHECK_EQ_OUT(write(fds[1], "line one\nline two", 17), 17);
	close(fds[1]);
	fds[1] = -1;
	CHECK_EQ_OUT(coffer_read_secret_fd(fds[0], "stdin", 100, &out, &len, err, sizeof(err)), 0);
	close(fds[0]);
	fds[0] = -1;
	CHECK_OUT(len == 17 && strcmp((char *)out, "line one\nline two") == 0);
	secmem_free(out);
	/* out is left stale, not reset: the failed read below must clear it, as the last check
	 * pins; out: does not free a pointer it left stale. */
	stale = out;
	CHECK_EQ_OUT(pipe(fds), 0);
	CHECK_EQ_OUT(write(fds[1], "0123456789", 10), 10);
	close(fds[1]);
	fds[1] = -1;
	CHECK_EQ_OUT(coffer_read_secret_fd(fds[0], "stdin", 9, &out, &len, err, sizeof(err)),
	             COFFER_ERR_TOO_LARGE);
	close(fds[0]);
	fds[0] = -1;
	CHECK_OUT(out == NULL && strcmp(err, "stdin: larger than 9 bytes") == 0);
out:
	if (fds[1] >= 0)
		close(fds[1]);
	if (fds[0] >= 0)
		close(fds[0]);
	if (out != stale)
		secmem_free(out);
}

static volatile sig_atomic_t n_alarms;

static void on_alarm(int sig)
{
	(void)sig;
	n_alarms++;
}

static void test_write_all_goes_on_through_signals_and_short_writes(void)
{
	static const size_t len = 8u << 20;
	struct itimerval every_ms = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
	struct sigaction sa, old;
	uint8_t *data = NULL, chunk[4096];
	size_t i, got = 0;
	bool is_same = true;
	int fds[2], rc;
	ssize_t n;
	pid_t pid = -1;

	data = malloc(len);
	CHECK_OUT(data != NULL);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 31 + i / 4096);
	CHECK_EQ_OUT(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		/* The reader, slow enough that the writer blocks and the timer interrupts it. */
		close(fds[1]);
		while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) {
			for (i = 0; i < (size_t)n; i++)
				is_same = is_same && chunk[i] == data[got + i];
			got += (size_t)n;
			if (got % (256u << 10) < (size_t)n)
				usleep(1000);
		}
		_exit(is_same && got == len ? 0 : 1);
	}
	close(fds[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: write() returns short or with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	n_alarms = 0;
	setitimer(ITIMER_REAL, &every_ms, NULL);
	rc = coffer_write_all(fds[1], data, len);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	close(fds[1]);
	free(data);
	data = NULL;
	CHECK_EQ_OUT(rc, 0);
	CHECK_OUT(n_alarms > 0);
	CHECK_OUT(waitpid(pid, &rc, 0) == pid && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
out:
	child_reap(pid);
	free(data);
}

static void test_write_all_reports_the_error_in_errno(void)
{
	struct sigaction sa, old;
	int fds[2], rc, saved;

	CHECK_EQ(pipe(fds), 0);
	close(fds[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &old);
	errno = 0;
	rc = coffer_write_all(fds[1], "x", 1);
	saved = errno;
	sigaction(SIGPIPE, &old, NULL);
	close(fds[1]);
	CHECK_EQ(rc, COFFER_ERR_IO);
	CHECK_EQ(saved, EPIPE);
	CHECK_EQ(coffer_write_all(-1, "x", 1), COFFER_ERR_IO);
	CHECK_EQ(errno, EBADF);
	CHECK_EQ(coffer_write_all(-1, "", 0), 0);
}

int main(void)
{
	if (secmem_init() != 0 || testutil_mkdtemp(dir, sizeof(dir), "fileio") != 0)
		return 1;
	RUN(test_read_secret_file_reads_exact_length_with_a_nul_after);
	RUN(test_read_secret_file_warns_when_group_readable);
	RUN(test_read_secret_file_warns_for_any_access_by_others);
	RUN(test_read_secret_file_is_quiet_for_owner_only_and_any_mode);
	RUN(test_read_secret_file_refuses_wrong_lengths_with_messages);
	RUN(test_read_secret_file_missing_is_not_found);
	RUN(test_read_secret_file_refuses_fifo_without_waiting_and_directories);
	RUN(test_read_secret_file_nofollow_refuses_a_symbolic_link);
	RUN(test_read_secret_file_refuses_a_file_whose_size_changes);
	RUN(test_read_secret_file_wipes_a_partial_read);
	RUN(test_read_secret_file_reads_a_long_pipe_and_refuses_a_longer_one);
	RUN(test_read_secret_fd_reads_to_the_end);
	RUN(test_write_all_goes_on_through_signals_and_short_writes);
	RUN(test_write_all_reports_the_error_in_errno);
	testutil_rmtree(dir);
	return test_summary();
}
