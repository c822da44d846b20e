/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.h: cofferd's own confinement (DESIGN.md §10): one syscall allow-list table in confine.c
 * drives both the in-process seccomp filter that main.c loads once start-up is over and the OCI
 * seccomp profile that `cofferd --print-seccomp-profile` prints (deploy/seccomp/cofferd.json).
 */
#ifndef COFFER_CONFINE_H
#define COFFER_CONFINE_H

#include <stdio.h>

/*
 * Confine the process for the rest of its life: PR_SET_NO_NEW_PRIVS, then the seccomp allow-list,
 * synchronised to every thread (SCMP_ACT_KILL_PROCESS for anything else: no execve/execveat, fork,
 * ptrace, mount, new sockets, module or BPF loading, executable memory). Call it once start-up is
 * over: the listener bound, the storage and the audit files open. 0, or -1 with the reason in err.
 */
int confine_apply(char *err, size_t err_len);

/*
 * Print the allow-list as an OCI seccomp profile (JSON) to f: defaultAction SCMP_ACT_ERRNO (EPERM),
 * x86_64 and aarch64, one entry per row with its conditions and its reason. It also allows what the
 * runtime's exec and cofferd's own start-up need ("start-up only" rows) and what the coffer CLI run
 * in the container needs (the "coffer CLI only" rows: it connects). The output is
 * deploy/seccomp/cofferd.json, byte for byte. 0, or -1 on a write error.
 */
int confine_print_profile(FILE *f);

#ifdef COFFER_TEST_HOOKS
/* Test builds only: make the forbidden call named by what ("execve", "fork", "ptrace", "mount",
 * "socket", "mmap_exec"); under the filter the process dies of SIGSYS. In AddressSanitizer builds,
 * "asan_report" reads past a heap block: the report must still be made. -1 when what is unknown or
 * the call returned. */
int confine_test_forbidden(const char *what);
#endif

#endif
