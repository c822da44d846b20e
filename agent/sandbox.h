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

#include <stddef.h>
#include <stdio.h>

/*
 * Confine the process: RLIMIT_CORE 0, PR_SET_DUMPABLE 0, mlockall(MCL_CURRENT|MCL_FUTURE) best
 * effort, PR_SET_NO_NEW_PRIVS, the seccomp allow-list (SCMP_ACT_KILL_PROCESS for anything else;
 * no execve/execveat, ptrace, mount/umount2, init_module/finit_module/delete_module, bpf, kexec,
 * etc.), and Landlock restricting file writes to below dest_dir where the kernel has Landlock (best
 * effort: skip with a log line when unsupported). 0, or -1 with the reason in err.
 *
 * Call it once, from the main thread, before any thread is started: Landlock confines only the
 * calling thread (the seccomp filter is synchronised to all threads). Reads are not restricted by
 * Landlock; writes, creations, truncations and removals of regular files are allowed below dest_dir
 * only (nowhere when dest_dir is NULL), so every file the agent writes must be below it. After it,
 * the process cannot exec, fork, ptrace or gain privileges; an unlisted syscall kills it with
 * SIGSYS. In AddressSanitizer builds, mlockall is skipped and LeakSanitizer's check runs here
 * instead of at exit (its exit-time check needs ptrace).
 */
int sandbox_apply(const char *dest_dir, char *err, size_t err_len);

/*
 * Print the allow-list as an OCI seccomp profile (JSON) to f: defaultAction SCMP_ACT_ERRNO (EPERM),
 * architectures x86_64 and aarch64, one entry per table row with its argument conditions and a
 * comment (the reason). The profile is a superset of the in-process filter: it also allows what the
 * runtime's exec and sandbox_apply() itself need ("start-up only" rows). The output is
 * deploy/seccomp/coffer-agent.json, byte for byte. 0, or -1 on a write error.
 */
int sandbox_print_profile(FILE *f);

#endif
