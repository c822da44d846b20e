/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_probe: a test helper for tests/integration/test_sandbox.py. It applies agent/sandbox.c's
 * confinement and then does one thing: the agent's ordinary work (which must succeed), or
 * something the sandbox forbids (which must kill it with SIGSYS or fail with EACCES/EPERM).
 * sandbox_opts come from the environment: SANDBOX_PROBE_UID and _GID (the files' owner; default
 * the probe's own), SANDBOX_PROBE_SIGNAL (the notify signal number; default SIGHUP; 0: none),
 * SANDBOX_PROBE_CACERT (a file read after it; also the CA file of work's https),
 * SANDBOX_PROBE_PIDFILE (a file read after it that may be replaced: its directory too).
 *
 *   sandbox_probe profile                      print the OCI seccomp profile
 *   sandbox_probe work DIR URL [HOST]          apply; GET URL/v1/sys/health; resolve HOST; write
 *                                              DIR/out atomically; signal, raise, sleep, thread;
 *                                              print "ok"
 *   sandbox_probe exec DIR                     apply; execve("/bin/true"): must die by SIGSYS
 *   sandbox_probe exec-unconfined              execve("/bin/true") without the sandbox (a control)
 *   sandbox_probe fork DIR                     apply; fork(): must die by SIGSYS
 *   sandbox_probe ptrace DIR                   apply; ptrace(PTRACE_TRACEME): must die by SIGSYS
 *   sandbox_probe write-outside DIR PATH       apply; open PATH for writing; print its errno
 *   sandbox_probe read DIR PATH                apply; open PATH for reading; print its errno
 *   sandbox_probe fchownat DIR PATH            apply; fchownat(PATH, own ids); print its errno
 *   sandbox_probe chown DIR PATH               apply; chown(PATH, own ids); print its errno
 *   sandbox_probe chmod DIR PATH               apply; chmod(PATH, its mode); print its errno
 *   sandbox_probe fchmodat DIR PATH            apply; fchmodat(PATH, its mode); print its errno
 *   sandbox_probe fchmodat2 DIR PATH           the same through the fchmodat2 syscall
 *   sandbox_probe fchmod DIR PATH              open PATH, apply; fchmod(fd, its mode); errno
 *   sandbox_probe fchown DIR PATH UID GID      open PATH, apply; fchown(fd, UID, GID); errno
 *   sandbox_probe kill DIR PID SIG             apply; kill(PID, SIG) (PID may be negative)
 *   sandbox_probe tgkill DIR PID               apply; tgkill(PID, PID, SIGHUP)
 *   sandbox_probe caps DIR                     apply; print the Cap* lines of /proc/self/status
 *   sandbox_probe none DIR URL                 as work, without the sandbox (a baseline for strace)
 *   sandbox_probe nolandlock PROG ARG...       exec PROG as a kernel without Landlock would run
 *                                              it: landlock_create_ruleset fails with EOPNOTSUPP
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

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

static unsigned probe_env(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

/* What sink.c does: a temp file created with its mode, its owner set through its fd before
 * content, fsync, rename over. */
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
	fd = openat(dfd, ".out.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
	if (fd < 0)
		probe_fail("openat tmp");
	if (fchown(fd, probe_env("SANDBOX_PROBE_UID", geteuid()),
	           probe_env("SANDBOX_PROBE_GID", getegid())) != 0)
		probe_fail("fchown");
	if (write(fd, content, sizeof(content) - 1) != (ssize_t)(sizeof(content) - 1) ||
	    fsync(fd) != 0 || fstat(fd, &st) != 0 || close(fd) != 0)
		probe_fail("write");
	if (fstatat(dfd, ".out.tmp", &st, AT_SYMLINK_NOFOLLOW) != 0)
		probe_fail("fstatat");
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
	if (raise(SIGHUP) != 0 || probe_hups != 2)
		probe_fail("raise");
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
	const char *reads[] = {getenv("SANDBOX_PROBE_CACERT"), NULL};
	const char *rereads[] = {getenv("SANDBOX_PROBE_PIDFILE"), NULL};
	struct sandbox_opts o = {
	    .dest_dir = dir,
	    .read_files = reads,
	    .reread_files = rereads,
	    .uid = probe_env("SANDBOX_PROBE_UID", geteuid()),
	    .gid = probe_env("SANDBOX_PROBE_GID", getegid()),
	    .notify_signal = (int)probe_env("SANDBOX_PROBE_SIGNAL", SIGHUP),
	};
	char err[256] = "";

	if (sandbox_apply(&o, err, sizeof(err)) != 0) {
		fprintf(stderr, "sandbox_probe: sandbox_apply: %s\n", err);
		exit(1);
	}
	printf("applied\n");
	fflush(stdout);
}

/* A kernel without Landlock, as far as the program exec'ed next can tell. */
static int probe_nolandlock(char **argv)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (ctx == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(landlock_create_ruleset),
	                     0) != 0 ||
	    seccomp_load(ctx) != 0)
		probe_fail("seccomp");
	seccomp_release(ctx);
	execv(argv[0], argv);
	probe_fail("execv");
	return 1;
}

/* The Cap* lines of /proc/self/status, read through a descriptor opened before the sandbox. */
static void probe_caps(int status_fd)
{
	char buf[8192], *line, *save = NULL;
	ssize_t n = pread(status_fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		probe_fail("pread /proc/self/status");
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "Cap", 3) == 0)
			printf("%s\n", line);
}

/* The modes that change a file's owner or mode by path or through a descriptor opened before. */
static int probe_metadata(const char *mode, int argc, char **argv, int pre_fd)
{
	const char *path = argv[3];
	struct stat st;
	int rc;

	if (stat(path, &st) != 0)
		probe_fail("stat");
	if (strcmp(mode, "fchownat") == 0)
		rc = fchownat(AT_FDCWD, path, st.st_uid, st.st_gid, 0);
	else if (strcmp(mode, "chown") == 0)
		rc = chown(path, st.st_uid, st.st_gid);
	else if (strcmp(mode, "chmod") == 0)
		rc = chmod(path, st.st_mode & 07777);
	else if (strcmp(mode, "fchmodat") == 0)
		rc = fchmodat(AT_FDCWD, path, st.st_mode & 07777, 0);
	else if (strcmp(mode, "fchmodat2") == 0)
		rc = (int)syscall(__NR_fchmodat2, AT_FDCWD, path, st.st_mode & 07777, 0);
	else if (strcmp(mode, "fchmod") == 0)
		rc = fchmod(pre_fd, st.st_mode & 07777);
	else if (strcmp(mode, "fchown") == 0 && argc >= 6)
		rc = fchown(pre_fd, (uid_t)strtoul(argv[4], NULL, 10),
		            (gid_t)strtoul(argv[5], NULL, 10));
	else
		return 2;
	printf("errno %d\n", rc != 0 ? errno : 0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char *const exec_argv[] = {"/bin/true", NULL};
	int fd, pre_fd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "profile") == 0)
		return sandbox_print_profile(stdout) == 0 ? 0 : 1;
	if (strcmp(mode, "exec-unconfined") == 0) {
		execve(exec_argv[0], exec_argv, NULL);
		probe_fail("execve");
	}
	if (strcmp(mode, "nolandlock") == 0 && argc >= 3)
		return probe_nolandlock(argv + 2);
	if (argc < 3) {
		fprintf(stderr, "usage: sandbox_probe MODE DIR ... (see sandbox_probe.c)\n");
		return 2;
	}
	if (strcmp(mode, "none") == 0 && argc >= 4) {
		probe_work(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
		return 0;
	}
	/* Descriptors opened before the sandbox, as the agent's own are. */
	if ((strcmp(mode, "fchmod") == 0 || strcmp(mode, "fchown") == 0) && argc >= 4 &&
	    (pre_fd = open(argv[3], O_RDONLY | O_CLOEXEC)) < 0)
		probe_fail("open");
	if (strcmp(mode, "caps") == 0 &&
	    (pre_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		probe_fail("open /proc/self/status");
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
	} else if (strcmp(mode, "read") == 0 && argc >= 4) {
		fd = open(argv[3], O_RDONLY | O_CLOEXEC);
		printf("errno %d\n", fd < 0 ? errno : 0);
	} else if (strcmp(mode, "kill") == 0 && argc >= 5) {
		fd = kill((pid_t)strtol(argv[3], NULL, 10), (int)strtol(argv[4], NULL, 10));
		printf("errno %d\n", fd != 0 ? errno : 0);
	} else if (strcmp(mode, "tgkill") == 0 && argc >= 4) {
		pid_t pid = (pid_t)strtol(argv[3], NULL, 10);
		fd = (int)syscall(SYS_tgkill, pid, pid, SIGHUP);
		printf("errno %d\n", fd != 0 ? errno : 0);
	} else if (strcmp(mode, "caps") == 0) {
		probe_caps(pre_fd);
	} else if (argc >= 4 && probe_metadata(mode, argc, argv, pre_fd) == 0) {
		/* printed */
	} else {
		fprintf(stderr, "sandbox_probe: bad mode %s\n", mode);
		return 2;
	}
	return 0;
}
