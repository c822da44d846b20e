/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_chain.c: the audit hash chain (common/audit_chain.c). Chains are written to temporary
 * files with audit_line_hash()/audit_prev_text() and then verified intact, across rotated files,
 * and after each kind of tampering: an edited byte, a deleted line, swapped lines, a truncated
 * tail.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"
#include "json.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

#define TEST_MAX_LINES 16

static char test_dir[256];

/* Lines (without newlines) of one chain, each malloc'd. */
struct test_chain {
	char *lines[TEST_MAX_LINES];
	uint8_t hashes[TEST_MAX_LINES][AUDIT_HASH_LEN];
	size_t n;
};

static void chain_free(struct test_chain *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->lines[i]);
	c->n = 0;
}

/*
 * Build n lines with seq first_seq, first_seq + 1, ...; each carries data_len bytes of filler. The
 * first prev is zero for seq 1 and a made-up hash otherwise (as after deleted older files).
 * 0, or -1.
 */
static int chain_make(struct test_chain *c, uint64_t first_seq, size_t n, size_t data_len)
{
	uint8_t prev[AUDIT_HASH_LEN];
	char prev_text[AUDIT_PREV_TEXT_LEN + 1];
	char *data;
	size_t i, cap;

	memset(c, 0, sizeof(*c));
	if (n > TEST_MAX_LINES || (data = malloc(data_len + 1)) == NULL)
		return -1;
	memset(data, 'x', data_len);
	data[data_len] = '\0';
	memset(prev, first_seq == 1 ? 0 : 0xab, sizeof(prev));
	cap = data_len + 256;
	for (i = 0; i < n; i++) {
		audit_prev_text(prev, prev_text);
		c->lines[i] = malloc(cap);
		if (c->lines[i] == NULL)
			break;
		c->n++;
		snprintf(c->lines[i], cap,
		         "{\"seq\":%llu,\"prev\":\"%s\",\"time\":\"2024-05-01T12:00:00.%06zuZ\","
		         "\"type\":\"request\",\"data\":\"%s\"}",
		         (unsigned long long)(first_seq + i), prev_text, i, data);
		audit_line_hash(c->lines[i], strlen(c->lines[i]), c->hashes[i]);
		memcpy(prev, c->hashes[i], sizeof(prev));
	}
	free(data);
	return c->n == n ? 0 : -1;
}

/* name inside the test directory. */
static const char *test_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", test_dir, name);
	return buf;
}

/* Write lines[0..n) each followed by "\n", then tail (may be NULL) without one. 0, or -1. */
static int file_write(const char *path, char *const *lines, size_t n, const char *tail,
                      size_t tail_len)
{
	FILE *fp = fopen(path, "w");
	size_t i;
	int rc = 0;

	if (fp == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (fputs(lines[i], fp) == EOF || fputc('\n', fp) == EOF)
			rc = -1;
	}
	if (tail != NULL && fwrite(tail, 1, tail_len, fp) != tail_len)
		rc = -1;
	if (fclose(fp) != 0)
		rc = -1;
	return rc;
}

/* Verify one file; the result in *res. The return value of audit_verify_files(). */
static int verify_one(const char *path, struct audit_verify_result *res)
{
	const char *paths[1] = {path};

	return audit_verify_files(paths, 1, res);
}

static void test_line_hash_is_unkeyed_blake2b_256(void)
{
	static const char want_abc[] =
	    "blake2b:bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
	static const char want_empty[] =
	    "blake2b:0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8";
	uint8_t hash[AUDIT_HASH_LEN];
	char text[AUDIT_PREV_TEXT_LEN + 1];

	audit_line_hash("abc", 3, hash);
	audit_prev_text(hash, text);
	CHECK(strcmp(text, want_abc) == 0);
	audit_line_hash("", 0, hash);
	audit_prev_text(hash, text);
	CHECK(strcmp(text, want_empty) == 0);
	CHECK_EQ(strlen(text), AUDIT_PREV_TEXT_LEN);
}

static void test_verify_accepts_intact_chain_in_one_file(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512];

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	CHECK_EQ(file_write(test_path(path, sizeof(path), "one.log"), c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(res.is_ok);
	CHECK_EQ(res.n_lines, 5);
	CHECK_EQ(res.first_seq, 1);
	CHECK_EQ(res.last_seq, 5);
	CHECK_EQ(res.line, 0);
	CHECK(res.file[0] == '\0');
}

static void test_verify_accepts_chain_across_rotated_files(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char p[4][512];
	const char *paths[4] = {p[0], p[1], p[2], p[3]};

	/* Older files were deleted: the chain starts at seq 40 with a prev we cannot check. */
	CHECK_EQ(chain_make(&c, 40, 9, 50), 0);
	CHECK_EQ(file_write(test_path(p[0], sizeof(p[0]), "rot.log.2"), c.lines, 3, NULL, 0), 0);
	CHECK_EQ(file_write(test_path(p[1], sizeof(p[1]), "rot.log.1"), c.lines + 3, 4, NULL, 0),
	         0);
	/* A file rotated before anything was written to it. */
	CHECK_EQ(file_write(test_path(p[2], sizeof(p[2]), "rot.log.0"), NULL, 0, NULL, 0), 0);
	CHECK_EQ(file_write(test_path(p[3], sizeof(p[3]), "rot.log"), c.lines + 7, 2, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(audit_verify_files(paths, 4, &res), 0);
	CHECK(res.is_ok);
	CHECK_EQ(res.n_lines, 9);
	CHECK_EQ(res.first_seq, 40);
	CHECK_EQ(res.last_seq, 48);
	/* The same files out of order break the chain at the first line of the misplaced file. */
	paths[0] = p[1];
	paths[1] = p[0];
	CHECK_EQ(audit_verify_files(paths, 4, &res), 0);
	CHECK(!res.is_ok);
	CHECK(strcmp(res.file, p[0]) == 0);
	CHECK_EQ(res.line, 1);
}

static void test_verify_detects_missing_line_at_file_boundary(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char p[2][512];
	const char *paths[2] = {p[0], p[1]};

	CHECK_EQ(chain_make(&c, 1, 6, 10), 0);
	/* Line 4 (seq 4) went missing between the rotated file and the current one. */
	CHECK_EQ(file_write(test_path(p[0], sizeof(p[0]), "gap.log.1"), c.lines, 3, NULL, 0), 0);
	CHECK_EQ(file_write(test_path(p[1], sizeof(p[1]), "gap.log"), c.lines + 4, 2, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(audit_verify_files(paths, 2, &res), 0);
	CHECK(!res.is_ok);
	CHECK(strcmp(res.file, p[1]) == 0);
	CHECK_EQ(res.line, 1);
	CHECK(strstr(res.reason, "seq 5 follows seq 3") != NULL);
	CHECK_EQ(res.n_lines, 3);
}

static void test_verify_names_line_after_body_edit(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], *p;

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	/* One byte of line 3's data: line 3 still parses, so line 4's prev is what breaks. */
	p = strstr(c.lines[2], "xxxx");
	CHECK(p != NULL);
	*p = 'y';
	CHECK_EQ(file_write(test_path(path, sizeof(path), "edit.log"), c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK(strcmp(res.file, path) == 0);
	CHECK_EQ(res.line, 4);
	CHECK(strcmp(res.reason, "prev hash does not match line 3") == 0);
	CHECK_EQ(res.n_lines, 3);
}

static void test_verify_detects_every_single_byte_edit_of_a_middle_line(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], saved;
	size_t i, len;

	CHECK_EQ(chain_make(&c, 1, 5, 4), 0);
	test_path(path, sizeof(path), "bytes.log");
	len = strlen(c.lines[2]);
	for (i = 0; i < len; i++) {
		saved = c.lines[2][i];
		c.lines[2][i] = saved == '7' ? '8' : '7';
		CHECK_EQ(file_write(path, c.lines, c.n, NULL, 0), 0);
		c.lines[2][i] = saved;
		CHECK_EQ(verify_one(path, &res), 0);
		if (res.is_ok || (res.line != 3 && res.line != 4)) {
			fprintf(stderr, "byte %zu: ok %d line %llu\n", i, res.is_ok,
			        (unsigned long long)res.line);
			chain_free(&c);
			CHECK(0);
		}
	}
	chain_free(&c);
}

static void test_verify_names_edited_seq_and_prev(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], *p;

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	test_path(path, sizeof(path), "seqedit.log");
	/* {"seq":3 -> {"seq":9: the line itself is the first to fail. */
	c.lines[2][7] = '9';
	CHECK_EQ(file_write(path, c.lines, c.n, NULL, 0), 0);
	c.lines[2][7] = '3';
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 3);
	CHECK(strstr(res.reason, "seq 9 follows seq 2") != NULL);
	/* One hex digit of line 3's prev. */
	p = strstr(c.lines[2], "blake2b:") + 8;
	*p = *p == '0' ? '1' : '0';
	CHECK_EQ(file_write(path, c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 3);
	CHECK(strcmp(res.reason, "prev hash does not match line 2") == 0);
}

static void test_verify_names_line_after_deleted_line(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], *lines[4];

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	lines[0] = c.lines[0];
	lines[1] = c.lines[1];
	lines[2] = c.lines[3];
	lines[3] = c.lines[4];
	CHECK_EQ(file_write(test_path(path, sizeof(path), "del.log"), lines, 4, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 3);
	CHECK(strstr(res.reason, "seq 4 follows seq 2") != NULL);
	CHECK(strstr(res.reason, "missing") != NULL);
}

static void test_verify_names_first_of_swapped_lines(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], *tmp;

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	tmp = c.lines[1];
	c.lines[1] = c.lines[2];
	c.lines[2] = tmp;
	CHECK_EQ(file_write(test_path(path, sizeof(path), "swap.log"), c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 2);
	CHECK(strstr(res.reason, "seq 3 follows seq 1") != NULL);
}

static void test_verify_names_truncated_tail(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512];
	int rc;

	CHECK_EQ(chain_make(&c, 1, 5, 10), 0);
	/* Lines 1-4 complete, then half of line 5 and no newline: a crash mid-write. */
	rc = file_write(test_path(path, sizeof(path), "trunc.log"), c.lines, 4, c.lines[4],
	                strlen(c.lines[4]) / 2);
	chain_free(&c);
	CHECK_EQ(rc, 0);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 5);
	CHECK(strstr(res.reason, "truncated") != NULL);
	CHECK_EQ(res.n_lines, 4);
}

static void test_verify_rejects_seq_1_with_nonzero_prev(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512];

	/* A chain that starts at seq 2 has a non-zero first prev; relabel its first line seq 1. */
	CHECK_EQ(chain_make(&c, 2, 1, 10), 0);
	c.lines[0][7] = '1';
	CHECK_EQ(file_write(test_path(path, sizeof(path), "seq1.log"), c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(!res.is_ok);
	CHECK_EQ(res.line, 1);
	CHECK(strstr(res.reason, "not zero") != NULL);
}

static void test_verify_rejects_lines_that_are_not_chain_objects(void)
{
	static const char *const bad[] = {
	    "hello",
	    "[1,2]",
	    "",
	    "{\"prev\":\"blake2b:"
	    "0000000000000000000000000000000000000000000000000000000000000000\"}",
	    "{\"seq\":\"2\",\"prev\":\"blake2b:"
	    "000000000000000000000000000000000000000000000000000000000"
	    "0000000\"}",
	    "{\"seq\":2,\"prev\":\"blake2b:ABCD\"}",
	    "{\"seq\":2,\"seq\":2,\"prev\":\"blake2b:"
	    "0000000000000000000000000000000000000000000000000"
	    "000000000000000\"}",
	    "{\"seq\":2} trailing",
	};
	struct test_chain c;
	struct audit_verify_result res;
	char path[512], *lines[3];
	size_t i;

	CHECK_EQ(chain_make(&c, 1, 3, 10), 0);
	test_path(path, sizeof(path), "bad.log");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lines[0] = c.lines[0];
		lines[1] = (char *)bad[i];
		lines[2] = c.lines[2];
		if (file_write(path, lines, 3, NULL, 0) != 0 || verify_one(path, &res) != 0 ||
		    res.is_ok || res.line != 2) {
			fprintf(stderr, "bad line %zu accepted or misplaced\n", i);
			chain_free(&c);
			CHECK(0);
		}
	}
	chain_free(&c);
	CHECK(strstr(res.reason, "not a JSON object") != NULL);
}

static void test_verify_reads_lines_longer_than_any_buffer(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char path[512];

	struct audit_verify_result edited;
	int rc_edited, rc;

	CHECK_EQ(chain_make(&c, 1, 3, 1 << 20), 0);
	test_path(path, sizeof(path), "long.log");
	c.lines[1][100000] = 'y';
	rc_edited = file_write(path, c.lines, c.n, NULL, 0);
	if (rc_edited == 0)
		rc_edited = verify_one(path, &edited);
	c.lines[1][100000] = 'x';
	rc = file_write(path, c.lines, c.n, NULL, 0);
	if (rc == 0)
		rc = verify_one(path, &res);
	chain_free(&c);
	CHECK_EQ(rc_edited, 0);
	CHECK(!edited.is_ok);
	CHECK_EQ(edited.line, 3);
	CHECK_EQ(rc, 0);
	CHECK(res.is_ok);
	CHECK_EQ(res.n_lines, 3);
}

static void test_verify_reports_unreadable_file(void)
{
	struct test_chain c;
	struct audit_verify_result res;
	char p[2][512];
	const char *paths[2] = {p[0], p[1]};

	CHECK_EQ(chain_make(&c, 1, 2, 10), 0);
	CHECK_EQ(file_write(test_path(p[0], sizeof(p[0]), "here.log"), c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	test_path(p[1], sizeof(p[1]), "absent.log");
	CHECK_EQ(audit_verify_files(paths, 2, &res), COFFER_ERR_IO);
	CHECK(!res.is_ok);
	CHECK(strcmp(res.file, p[1]) == 0);
	CHECK(res.reason[0] != '\0');
	CHECK_EQ(audit_verify_files(paths, 0, &res), COFFER_ERR_INVALID);
}

static void test_verify_accepts_empty_file(void)
{
	struct audit_verify_result res;
	char path[512];

	CHECK_EQ(file_write(test_path(path, sizeof(path), "empty.log"), NULL, 0, NULL, 0), 0);
	CHECK_EQ(verify_one(path, &res), 0);
	CHECK(res.is_ok);
	CHECK_EQ(res.n_lines, 0);
}

static void test_chain_tail_returns_last_complete_line(void)
{
	struct test_chain c;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 0;
	char path[512];
	int rc;

	/* Lines longer than the backwards-reading chunk, so the search crosses chunks. */
	CHECK_EQ(chain_make(&c, 7, 4, 10000), 0);
	test_path(path, sizeof(path), "tail.log");
	CHECK_EQ(file_write(path, c.lines, 4, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), 0);
	CHECK_EQ(seq, 10);
	CHECK(memcmp(hash, c.hashes[3], AUDIT_HASH_LEN) == 0);
	/* A partial line after the last newline is not part of the chain yet. */
	CHECK_EQ(file_write(path, c.lines, 3, c.lines[3], 5000), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), 0);
	CHECK_EQ(seq, 9);
	CHECK(memcmp(hash, c.hashes[2], AUDIT_HASH_LEN) == 0);
	/* A single line: no newline before it. */
	CHECK_EQ(file_write(path, c.lines, 1, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), 0);
	CHECK_EQ(seq, 7);
	CHECK(memcmp(hash, c.hashes[0], AUDIT_HASH_LEN) == 0);
	/* Only a partial line. */
	rc = file_write(path, NULL, 0, c.lines[0], 100);
	chain_free(&c);
	CHECK_EQ(rc, 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), COFFER_ERR_NOT_FOUND);
}

static void test_chain_tail_of_empty_or_missing_file_is_not_found(void)
{
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 99;
	char path[512];

	CHECK_EQ(file_write(test_path(path, sizeof(path), "tail-empty.log"), NULL, 0, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), COFFER_ERR_NOT_FOUND);
	CHECK_EQ(seq, 99);
	CHECK_EQ(audit_chain_tail(test_path(path, sizeof(path), "tail-absent.log"), &seq, hash),
	         COFFER_ERR_NOT_FOUND);
}

static void test_chain_tail_rejects_garbage_last_line(void)
{
	char *lines[1] = {(char *)"not json"};
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq;
	char path[512];

	CHECK_EQ(file_write(test_path(path, sizeof(path), "tail-bad.log"), lines, 1, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, hash), COFFER_ERR_INTEGRITY);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	if (testutil_mkdtemp(test_dir, sizeof(test_dir), "audit-chain") != 0)
		return 1;
	RUN(test_line_hash_is_unkeyed_blake2b_256);
	RUN(test_verify_accepts_intact_chain_in_one_file);
	RUN(test_verify_accepts_chain_across_rotated_files);
	RUN(test_verify_detects_missing_line_at_file_boundary);
	RUN(test_verify_names_line_after_body_edit);
	RUN(test_verify_detects_every_single_byte_edit_of_a_middle_line);
	RUN(test_verify_names_edited_seq_and_prev);
	RUN(test_verify_names_line_after_deleted_line);
	RUN(test_verify_names_first_of_swapped_lines);
	RUN(test_verify_names_truncated_tail);
	RUN(test_verify_rejects_seq_1_with_nonzero_prev);
	RUN(test_verify_rejects_lines_that_are_not_chain_objects);
	RUN(test_verify_reads_lines_longer_than_any_buffer);
	RUN(test_verify_reports_unreadable_file);
	RUN(test_verify_accepts_empty_file);
	RUN(test_chain_tail_returns_last_complete_line);
	RUN(test_chain_tail_of_empty_or_missing_file_is_not_found);
	RUN(test_chain_tail_rejects_garbage_last_line);
	testutil_rmtree(test_dir);
	return test_summary();
}
