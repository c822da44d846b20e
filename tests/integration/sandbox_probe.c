/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_probe: a test helper for tests/integration/test_sandbox.py. It applies agent/sandbox.c's
 * confinement and then does one thing: the agent's ordinary work (which must succeed), or
 * something the sandbox forbids (which must kill it with SIGSYS or fail with EACCES).
 *
 *   sandbox_probe profile                      print the OCI seccomp profile
 *   sandbox_probe work DIR URL [HOST]          apply; GET URL/v1/sys/health (CA file in
 *                                              $SANDBOX_PROBE_CACERT); resolve HOST; write DIR/out
 *                                              atomically; signal, sleep, thread; print "ok"
 *   sandbox_probe exec DIR                     apply; execve("/bin/true"): must die by SIGSYS
 *   sandbox_probe exec-unconfined              execve("/bin/true") without the sandbox (a control)
 *   sandbox_probe fork DIR                     apply; fork(): must die by SIGSYS
 *   sandbox_probe ptrace DIR                   apply; ptrace(PTRACE_TRACEME): must die by SIGSYS
 *   sandbox_probe write-outside DIR PATH       apply; open PATH for writing; print its errno
 *   sandbox_probe none DIR URL                 as work, without the sandbox (a baseline for strace)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "sandbox.h"

static void probe_fail(const char *what)
{
	fprintf(stderr, "sandbox_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static volatile sig_atomic_t probe_hups;

static void probe_on_hup(int sig)
{
	(void)sig;
	probe_hups++;
}

static void *probe_thread(void *arg)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
	return arg;
}

static void probe_http(const char *url)
{
	char errbuf[256] = "";
	struct coffer_http *h =
	    coffer_http_new(url, getenv("SANDBOX_PROBE_CACERT"), 5000, errbuf, sizeof(errbuf));
	json_t *resp = NULL;
	long status = 0;

	if (h == NULL) {
		fprintf(stderr, "sandbox_probe: http: %s\n", errbuf);
		exit(1);
	}
	if (coffer_http_request(h, "GET", "sys/health", NULL, NULL, &status, &resp) != 0) {
		fprintf(stderr, "sandbox_probe: http: %s\n", coffer_http_error(h));
		exit(1);
	}
	printf("http %ld\n", status);
	json_decref(resp);
	coffer_http_free(h);
}

static void probe_resolve(const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, "8200", &hints, &res);

	if (rc != 0) {
		fprintf(stderr, "sandbox_probe: getaddrinfo %s: %s\n", host, gai_strerror(rc));
		exit(1);
	}
	freeaddrinfo(res);
	printf("resolved %s\n", host);
}

/* What sink.c does: a temp file with owner and mode set before content, fsync, rename over. */
static void probe_files(const char *dir)
{
	static const char content[] = "s3cr3t\n";
	struct statfs sfs;
	struct stat st;
	char buf[16];
	int dfd, fd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		probe_fail("open dir");
	if (fstatfs(dfd, &sfs) != 0 || statfs(dir, &sfs) != 0)
		probe_fail("statfs");
	fd = openat(dfd, ".out.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		probe_fail("openat tmp");
	if (fchown(fd, geteuid(), getegid()) != 0 || fchmod(fd, 0400) != 0)
		probe_fail("fchown/fchmod");
	if (write(fd, content, sizeof(content) - 1) != (ssize_t)(sizeof(content) - 1) ||
	    fsync(fd) != 0 || fstat(fd, &st) != 0 || close(fd) != 0)
		probe_fail("write");
	if (fchownat(dfd, ".out.tmp", geteuid(), getegid(), AT_SYMLINK_NOFOLLOW) != 0 ||
	    fstatat(dfd, ".out.tmp", &st, AT_SYMLINK_NOFOLLOW) != 0)
		probe_fail("fchownat");
	if (renameat(dfd, ".out.tmp", dfd, "out") != 0 || fsync(dfd) != 0)
		probe_fail("renameat");
	fd = openat(dfd, "out", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)(sizeof(content) - 1) ||
	    close(fd) != 0)
		probe_fail("read back");
	fd = openat(dfd, ".stale", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) != 0 || unlinkat(dfd, ".stale", 0) != 0)
		probe_fail("unlinkat");
	close(dfd);
}

static void probe_work(const char *dir, const char *url, const char *host)
{
	struct timespec ts = {0, 1000000};
	struct sigaction sa = {.sa_handler = probe_on_hup};
	unsigned char rnd[16];
	pthread_t th;
	void *ret;

	probe_http(url);
	if (host != NULL)
		probe_resolve(host);
	probe_files(dir);
	if (sigaction(SIGHUP, &sa, NULL) != 0 || kill(getpid(), SIGHUP) != 0 || probe_hups != 1)
		probe_fail("kill");
	if (nanosleep(&ts, NULL) != 0 || clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) != 0)
		probe_fail("sleep");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		probe_fail("getrandom");
	if (pthread_create(&th, NULL, probe_thread, NULL) != 0 || pthread_join(th, &ret) != 0)
		probe_fail("pthread");
	printf("ok\n");
}

static void probe_apply(const char *dir)
{
	char err[256] = "";

	if (sandbox_apply(dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "sandbox_probe: sandbox_apply: %s\n", err);
		exit(1);
	}
	printf("applied\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char *const exec_argv[] = {"/bin/true", NULL};
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "profile") == 0)
		return sandbox_print_profile(stdout) == 0 ? 0 : 1;
	if (strcmp(mode, "exec-unconfined") == 0) {
		execve(exec_argv[0], exec_argv, NULL);
		probe_fail("execve");
	}
	if (argc < 3) {
		fprintf(stderr, "usage: sandbox_probe "
		                "profile|work|exec|fork|ptrace|write-outside|none DIR ...\n");
		return 2;
	}
	if (strcmp(mode, "none") == 0 && argc >= 4) {
		probe_work(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
		return 0;
	}
	probe_apply(argv[2]);
	if (strcmp(mode, "work") == 0 && argc >= 4) {
		probe_work(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	} else if (strcmp(mode, "exec") == 0) {
		execve(exec_argv[0], exec_argv, NULL);
		probe_fail("execve returned");
	} else if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		probe_fail("fork returned");
	} else if (strcmp(mode, "ptrace") == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		probe_fail("ptrace returned");
	} else if (strcmp(mode, "write-outside") == 0 && argc >= 4) {
		fd = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		printf("errno %d\n", fd < 0 ? errno : 0);
	} else {
		fprintf(stderr, "sandbox_probe: bad mode %s\n", mode);
		return 2;
	}
	return 0;
}
