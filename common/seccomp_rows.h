/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp_rows.h: the machinery behind a syscall allow-list table: the row type, the filter made
 * from a table's run-time rows and the OCI seccomp profile printed from all of them. The tables
 * themselves stay with their programs: agent/sandbox.c (coffer-agent), server/confine.c (cofferd).
 */
#ifndef COFFER_SECCOMP_ROWS_H
#define COFFER_SECCOMP_ROWS_H

#include <linux/sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * When a row applies. SECCOMP_ROW_RUN rows are the in-process filter and are in the profile.
 * SECCOMP_ROW_START rows are in the profile only: the container runtime applies the profile
 * before it execs the program, so the profile must also let the loader run and the program do
 * its start-up and harden itself, after which the in-process filter forbids them.
 * SECCOMP_ROW_TOOL rows are in the profile only too: what another program exec'd into the
 * container under the same profile needs (the coffer CLI in cofferd's container).
 */
enum seccomp_row_phase { SECCOMP_ROW_RUN, SECCOMP_ROW_START, SECCOMP_ROW_TOOL };

/* A condition's value is the table's (SECCOMP_ROW_CONST) or, for any other src, one the
 * program knows only at run time (see seccomp_rows_value_fn). */
#define SECCOMP_ROW_CONST 0U

/*
 * One argument condition: EQ (arg == value) or MASKED_EQ ((arg & mask) == value). A run-time
 * value (src other than SECCOMP_ROW_CONST) is compared as the row says (RUN_EQ: on the low 32
 * bits, as the kernel reads an int or a uid_t); the profile cannot know it and leaves the
 * condition out.
 */
struct seccomp_row_cond {
	unsigned int arg;
	enum scmp_compare op;
	uint64_t mask;
	uint64_t value;
	unsigned int src;
};

/* One row: allow name (when every condition holds), or fail it with errno_ret when nonzero.
 * Rows with the same name are alternatives (OR); the conditions of one row all hold (AND). */
struct seccomp_row {
	const char *name;
	enum seccomp_row_phase phase;
	int errno_ret;
	unsigned int n_conds;
	struct seccomp_row_cond conds[2];
	const char *why;
};

/* A table: rows[0..n_rows). */
struct seccomp_rows {
	const struct seccomp_row *rows;
	size_t n_rows;
};
#define SECCOMP_ROWS(a)                                                                            \
	{                                                                                          \
		(a), sizeof(a) / sizeof((a)[0])                                                    \
	}

/* Every CLONE_NEW* flag: a thread never gets a new namespace. */
#define SECCOMP_ROWS_CLONE_NEW                                                                     \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

/*
 * The table macros, short because the tables are read row by row (this header is for the files
 * that hold a table). A reason must not hold '"' or '\': it is printed into the JSON as is.
 */
/* clang-format off */
#define EQ(a, v) {(a), SCMP_CMP_EQ, 0, (uint64_t)(v), SECCOMP_ROW_CONST}
#define MASKED_EQ(a, m, v) {(a), SCMP_CMP_MASKED_EQ, (uint64_t)(m), (uint64_t)(v), SECCOMP_ROW_CONST}
#define RUN_EQ(a, src) {(a), SCMP_CMP_MASKED_EQ, 0xffffffffULL, 0, (src)}
#define ALLOW(n, why) {n, SECCOMP_ROW_RUN, 0, 0, {{0}}, why}
#define ALLOW_IF(n, c, why) {n, SECCOMP_ROW_RUN, 0, 1, {c}, why}
#define ALLOW_IF2(n, c1, c2, why) {n, SECCOMP_ROW_RUN, 0, 2, {c1, c2}, why}
#define START(n, why) {n, SECCOMP_ROW_START, 0, 0, {{0}}, why}
#define START_IF(n, c, why) {n, SECCOMP_ROW_START, 0, 1, {c}, why}
#define TOOL(n, why) {n, SECCOMP_ROW_TOOL, 0, 0, {{0}}, why}
#define FAIL(n, e, why) {n, SECCOMP_ROW_RUN, e, 0, {{0}}, why}
#define FAIL_IF(n, e, c, why) {n, SECCOMP_ROW_RUN, e, 1, {c}, why}
/* clang-format on */

/* The run-time value of a condition whose src is not SECCOMP_ROW_CONST, into *value; false
 * leaves the whole row out of the filter (the allowance it would make does not exist). */
typedef bool (*seccomp_rows_value_fn)(unsigned int src, const void *arg, uint64_t *value);

/*
 * Load the SECCOMP_ROW_RUN rows of tables[0..n_tables) as a seccomp filter synchronised to every
 * thread of the process: SCMP_ACT_KILL_PROCESS for any other call and for another architecture.
 * value(src, arg, ...) gives the run-time values; without it a row with one is left out. A name
 * this architecture lacks is skipped. The caller has set PR_SET_NO_NEW_PRIVS. 0, or -1 with
 * "who: what: reason" in err (what: the failed step or row's name).
 */
int seccomp_rows_load(const struct seccomp_rows *tables, size_t n_tables,
                      seccomp_rows_value_fn value, const void *arg, const char *who, char *err,
                      size_t err_len);

/*
 * Print every row of t as an OCI seccomp profile (JSON) to f: defaultAction SCMP_ACT_ERRNO
 * (EPERM), architectures x86_64 and aarch64, one entry per row on one line, with its constant
 * conditions and a comment: the reason, after "start-up only: " or "the coffer CLI only: " for a
 * row that is not in the in-process filter. 0, or -1 on a write error.
 */
int seccomp_rows_print(FILE *f, const struct seccomp_rows *t);

#endif
