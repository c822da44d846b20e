/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp_rows.c: turns an allow-list table (seccomp_rows.h) into libseccomp rules and into the
 * OCI seccomp profile, so that a program's filter and its profile come from one table. Used by
 * agent/sandbox.c and server/confine.c.
 */
#include "seccomp_rows.h"

#include <errno.h>
#include <string.h>

static void seccomp_rows_set_err(char *err, size_t err_len, const char *who, const char *what,
                                 int errnum)
{
	if (err == NULL || err_len == 0)
		return;
	if (errnum != 0)
		snprintf(err, err_len, "%s: %s: %s", who, what, strerror(errnum));
	else
		snprintf(err, err_len, "%s: %s", who, what);
}

/* One SECCOMP_ROW_RUN row into ctx: 0 (also when the row is left out), or libseccomp's negative
 * errno. */
static int seccomp_rows_add_row(scmp_filter_ctx ctx, const struct seccomp_row *r,
                                seccomp_rows_value_fn value, const void *arg)
{
	struct scmp_arg_cmp cmp[2];
	uint32_t action;
	uint64_t v;
	unsigned int j;
	int nr;

	nr = seccomp_syscall_resolve_name(r->name);
	if (nr < 0) /* not a syscall of this architecture */
		return 0;
	for (j = 0; j < r->n_conds; j++) {
		const struct seccomp_row_cond *c = &r->conds[j];
		bool is_masked = c->op == SCMP_CMP_MASKED_EQ;

		v = c->value;
		if (c->src != SECCOMP_ROW_CONST && (value == NULL || !value(c->src, arg, &v)))
			return 0;
		cmp[j].arg = c->arg;
		cmp[j].op = c->op;
		cmp[j].datum_a = is_masked ? c->mask : v;
		cmp[j].datum_b = is_masked ? v : 0;
	}
	action = r->errno_ret != 0 ? SCMP_ACT_ERRNO((uint32_t)r->errno_ret) : SCMP_ACT_ALLOW;
	return seccomp_rule_add_array(ctx, action, nr, r->n_conds, cmp);
}

/* The SECCOMP_ROW_RUN rows of t into ctx. 0, or -1 with the reason in err. */
static int seccomp_rows_add(scmp_filter_ctx ctx, const struct seccomp_rows *t,
                            seccomp_rows_value_fn value, const void *arg, const char *who,
                            char *err, size_t err_len)
{
	size_t i;
	int rc;

	for (i = 0; i < t->n_rows; i++) {
		if (t->rows[i].phase != SECCOMP_ROW_RUN)
			continue;
		rc = seccomp_rows_add_row(ctx, &t->rows[i], value, arg);
		if (rc != 0) {
			seccomp_rows_set_err(err, err_len, who, t->rows[i].name, -rc);
			return -1;
		}
	}
	return 0;
}

int seccomp_rows_load(const struct seccomp_rows *tables, size_t n_tables,
                      seccomp_rows_value_fn value, const void *arg, const char *who, char *err,
                      size_t err_len)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc, ret = -1;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		seccomp_rows_set_err(err, err_len, who, "seccomp_init failed", 0);
		return -1;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0) /* every thread started so far */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc != 0) {
		seccomp_rows_set_err(err, err_len, who, "seccomp_attr_set", -rc);
		goto out;
	}
	for (i = 0; i < n_tables; i++)
		if (seccomp_rows_add(ctx, &tables[i], value, arg, who, err, err_len) != 0)
			goto out;
	rc = seccomp_load(ctx);
	if (rc != 0) {
		seccomp_rows_set_err(err, err_len, who, "seccomp_load", -rc);
		goto out;
	}
	ret = 0;
out:
	seccomp_release(ctx);
	return ret;
}

/* What a comment in the profile starts with: the rows the in-process filter does not have. */
static const char *seccomp_rows_note(enum seccomp_row_phase phase)
{
	switch (phase) {
	case SECCOMP_ROW_START:
		return "start-up only: ";
	case SECCOMP_ROW_TOOL:
		return "the coffer CLI only: ";
	case SECCOMP_ROW_RUN:
		break;
	}
	return "";
}

/* One row as one entry of the profile's syscalls array, on one line. */
static void seccomp_rows_print_row(FILE *f, const struct seccomp_row *r, bool is_last)
{
	unsigned int j, n_args = 0;

	fprintf(f, "    {\"names\": [\"%s\"], \"action\": \"%s\"", r->name,
	        r->errno_ret != 0 ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW");
	if (r->errno_ret != 0)
		fprintf(f, ", \"errnoRet\": %d", r->errno_ret);
	for (j = 0; j < r->n_conds; j++) {
		const struct seccomp_row_cond *c = &r->conds[j];
		bool is_masked = c->op == SCMP_CMP_MASKED_EQ;

		/* A run-time value is the in-process filter's only: the profile cannot know it. */
		if (c->src != SECCOMP_ROW_CONST)
			continue;
		/* As runc and crun read it: MASKED_EQ's value is the mask. */
		fprintf(f,
		        "%s{\"index\": %u, \"value\": %llu, \"valueTwo\": %llu, \"op\": "
		        "\"%s\"}",
		        n_args++ > 0 ? ", " : ", \"args\": [", c->arg,
		        (unsigned long long)(is_masked ? c->mask : c->value),
		        (unsigned long long)(is_masked ? c->value : 0),
		        is_masked ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ");
	}
	if (n_args > 0)
		fputs("]", f);
	fprintf(f, ", \"comment\": \"%s%s\"}%s\n", seccomp_rows_note(r->phase), r->why,
	        is_last ? "" : ",");
}

/*
 * defaultAction is SCMP_ACT_ERRNO (EPERM), not KILL_PROCESS: the runtime loads the profile before
 * its own last steps (runc's Go code between loading the filter and execve) and before the loader
 * runs, where a killed process looks like a broken runtime; once the program has loaded its
 * in-process filter, that filter kills anything outside the table.
 */
int seccomp_rows_print(FILE *f, const struct seccomp_rows *t)
{
	size_t i;

	fputs("{\n"
	      "  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
	      "  \"defaultErrnoRet\": 1,\n"
	      "  \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\"],\n"
	      "  \"syscalls\": [\n",
	      f);
	for (i = 0; i < t->n_rows; i++)
		seccomp_rows_print_row(f, &t->rows[i], i + 1 == t->n_rows);
	fputs("  ]\n}\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
