/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.h: coffer-agent's confinement (DESIGN.md §7, §10.8). One syscall allow-list table in
 * sandbox.c drives both the in-process seccomp filter and the OCI seccomp profile that
 * `coffer-agent --print-seccomp-profile` prints (deploy/seccomp/coffer-agent.json), so the two can
 * never disagree. Called once from agent/main.c, after the destination directory is open and the
 * credentials are read, before the first request and before any thread is started.
 */
#ifndef COFFER_SANDBOX_H
#define COFFER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* What the confined agent still does: the inputs of sandbox_apply(). */
struct sandbox_opts {
	const char *dest_dir;            /* the only place written (Landlock); NULL: nowhere */
	const char *const *read_files;   /* NULL-terminated files read after start-up as they
	                                    are (the CA file); NULL: none */
	const char *const *reread_files; /* the same for files another process may replace by
	                                    rename (token file, pid file): their directories are
	                                    readable too, unless top-level */
	uid_t uid;                       /* the owner and group given to every written file: */
	gid_t gid;                       /* fchown() allows these and no others */
	int notify_signal;               /* kill() only with this signal; 0: no kill() at all */
	bool require_landlock;           /* refuse to run where the kernel has no Landlock */
};

/*
 * Confine the process: RLIMIT_CORE 0, PR_SET_DUMPABLE 0, mlockall(MCL_CURRENT|MCL_FUTURE) best
 * effort (RLIMIT_MEMLOCK raised first where allowed), PR_SET_NO_NEW_PRIVS, every capability
 * dropped (permitted, effective, inheritable, ambient and, with CAP_SETPCAP, bounding) but
 * CAP_CHOWN when o->uid/o->gid differ from the process's own ids and CAP_FOWNER when they do and
 * the destination is a sticky directory another user owns; Landlock, where the kernel has it:
 * reads only of o->read_files, of o->reread_files (and their directories, unless top-level:
 * /etc, /run, /tmp), of the system files
 * name resolution and the loader need (/etc/hosts, /etc/resolv.conf, /etc/nsswitch.conf, the
 * library directories, the CA store) and below dest_dir; writes, creations, truncations and
 * removals of regular files below dest_dir only; without Landlock a warning, or an error when
 * o->require_landlock. Last the seccomp allow-list (SCMP_ACT_KILL_PROCESS for anything else: no
 * execve/execveat, ptrace, mount, chmod/fchmod/fchmodat, chown/lchown/fchownat, bpf, ...), with
 * fchown() pinned to o->uid:o->gid, kill() to o->notify_signal and tgkill() to the process
 * itself. 0, or -1 with the reason in err.
 *
 * Call it once, from the main thread, before any thread is started: Landlock and capabilities
 * confine only the calling thread (the seccomp filter is synchronised to all threads). After it,
 * the process cannot exec, fork, ptrace, gain privileges or change a file's mode; an unlisted
 * syscall kills it with SIGSYS. In AddressSanitizer builds, mlockall is skipped, /proc/self stays
 * readable for reports and LeakSanitizer's check runs here instead of at exit (its exit-time
 * check needs ptrace).
 */
int sandbox_apply(const struct sandbox_opts *o, char *err, size_t err_len);

/*
 * Print the allow-list as an OCI seccomp profile (JSON) to f: defaultAction SCMP_ACT_ERRNO (EPERM),
 * architectures x86_64 and aarch64, one entry per table row with its argument conditions and a
 * comment (the reason). The profile is a superset of the in-process filter: it also allows what the
 * runtime's exec and sandbox_apply() itself need ("start-up only" rows). The output is
 * deploy/seccomp/coffer-agent.json, byte for byte. 0, or -1 on a write error.
 */
int sandbox_print_profile(FILE *f);

#endif
