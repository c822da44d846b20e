/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_chain.c: the audit hash chain (common/audit_chain.c). Chains (BLAKE2b, then the same
 * tests with SHA-256) are written to temporary
 * files with audit_line_hash()/audit_prev_text() and then verified intact, across rotated files,
 * and after each kind of tampering: an edited byte, a deleted line, swapped lines, a truncated
 * tail. Then signed logs (header, checkpoints): a chain rebuilt without the key, a cut head, an
 * unsigned or cut tail, with and without the head the server recorded, and across rotation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit_chain.h"
#include "json.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

#define TEST_MAX_LINES 16

static char test_dir[256];
/* The hash function of the chains the tests build; every test runs with each (main). */
static enum audit_hash_alg test_alg = AUDIT_HASH_BLAKE2B;

/* Lines (without newlines) of one chain, each malloc'd. */
struct test_chain {
	char *lines[TEST_MAX_LINES];
	uint8_t hashes[TEST_MAX_LINES][AUDIT_HASH_LEN];
	size_t n;
};

/* Safe on a zeroed chain, and a second time (n goes back to 0). */
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
	char prev_text[AUDIT_PREV_TEXT_MAX + 1];
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
		audit_prev_text(test_alg, prev, prev_text);
		c->lines[i] = malloc(cap);
		if (c->lines[i] == NULL)
			break;
		c->n++;
		snprintf(c->lines[i], cap,
		         "{\"seq\":%llu,\"prev\":\"%s\",\"time\":\"2024-05-01T12:00:00.%06zuZ\","
		         "\"type\":\"request\",\"data\":\"%s\"}",
		         (unsigned long long)(first_seq + i), prev_text, i, data);
		audit_line_hash(test_alg, c->lines[i], strlen(c->lines[i]), c->hashes[i]);
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

static void test_line_hash_is_unkeyed_blake2b_256_or_sha256(void)
{
	static const char *const want[][2] = {
	    {"blake2b:bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
	     "blake2b:0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"},
	    {"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	     "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}};
	static const enum audit_hash_alg algs[] = {AUDIT_HASH_BLAKE2B, AUDIT_HASH_SHA256};
	uint8_t hash[AUDIT_HASH_LEN], back[AUDIT_HASH_LEN];
	char text[AUDIT_PREV_TEXT_MAX + 1];
	enum audit_hash_alg alg;

	for (size_t i = 0; i < 2; i++) {
		audit_line_hash(algs[i], "abc", 3, hash);
		CHECK_EQ(audit_prev_text(algs[i], hash, text), strlen(want[i][0]));
		CHECK(strcmp(text, want[i][0]) == 0);
		CHECK_EQ(audit_prev_parse(text, strlen(text), &alg, back), 0);
		CHECK_EQ(alg, algs[i]);
		CHECK(memcmp(back, hash, sizeof(hash)) == 0);
		audit_line_hash(algs[i], "", 0, hash);
		audit_prev_text(algs[i], hash, text);
		CHECK(strcmp(text, want[i][1]) == 0);
	}
	CHECK_EQ(strlen(want[0][0]), AUDIT_PREV_TEXT_MAX);
}

static void test_prev_parse_takes_only_the_spellings_the_server_writes(void)
{
	static const char *const bad[] = {
	    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
	    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
	    "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
	    "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
	    "blake2b:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
	    "blake2b;ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "",
	};
	uint8_t hash[AUDIT_HASH_LEN];
	enum audit_hash_alg alg = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(audit_prev_parse(bad[i], strlen(bad[i]), &alg, hash), COFFER_ERR_INVALID);
	CHECK_EQ(alg, 0);
	CHECK(audit_hash_preferred() == AUDIT_HASH_BLAKE2B ||
	      audit_hash_preferred() == AUDIT_HASH_SHA256);
}

static void test_verify_accepts_intact_chain_in_one_file(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512];

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "one.log"), c.lines, c.n, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_lines, 5);
	CHECK_EQ_OUT(res.first_seq, 1);
	CHECK_EQ_OUT(res.last_seq, 5);
	CHECK_EQ_OUT(res.line, 0);
	CHECK_OUT(res.file[0] == '\0');
out:
	chain_free(&c);
}

static void test_verify_accepts_chain_across_rotated_files(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char p[4][512];
	const char *paths[4] = {p[0], p[1], p[2], p[3]};

	/* Older files were deleted: the chain starts at seq 40 with a prev we cannot check. */
	CHECK_EQ_OUT(chain_make(&c, 40, 9, 50), 0);
	CHECK_EQ_OUT(file_write(test_path(p[0], sizeof(p[0]), "rot.log.2"), c.lines, 3, NULL, 0),
	             0);
	CHECK_EQ_OUT(
	    file_write(test_path(p[1], sizeof(p[1]), "rot.log.1"), c.lines + 3, 4, NULL, 0), 0);
	/* A file rotated before anything was written to it. */
	CHECK_EQ_OUT(file_write(test_path(p[2], sizeof(p[2]), "rot.log.0"), NULL, 0, NULL, 0), 0);
	CHECK_EQ_OUT(file_write(test_path(p[3], sizeof(p[3]), "rot.log"), c.lines + 7, 2, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(audit_verify_files(paths, 4, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_lines, 9);
	CHECK_EQ_OUT(res.first_seq, 40);
	CHECK_EQ_OUT(res.last_seq, 48);
	/* The same files out of order break the chain at the first line of the misplaced file. */
	paths[0] = p[1];
	paths[1] = p[0];
	CHECK_EQ_OUT(audit_verify_files(paths, 4, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_OUT(strcmp(res.file, p[0]) == 0);
	CHECK_EQ_OUT(res.line, 1);
out:
	chain_free(&c);
}

static void test_verify_detects_missing_line_at_file_boundary(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char p[2][512];
	const char *paths[2] = {p[0], p[1]};

	CHECK_EQ_OUT(chain_make(&c, 1, 6, 10), 0);
	/* Line 4 (seq 4) went missing between the rotated file and the current one. */
	CHECK_EQ_OUT(file_write(test_path(p[0], sizeof(p[0]), "gap.log.1"), c.lines, 3, NULL, 0),
	             0);
	CHECK_EQ_OUT(file_write(test_path(p[1], sizeof(p[1]), "gap.log"), c.lines + 4, 2, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(audit_verify_files(paths, 2, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_OUT(strcmp(res.file, p[1]) == 0);
	CHECK_EQ_OUT(res.line, 1);
	CHECK_OUT(strstr(res.reason, "seq 5 follows seq 3") != NULL);
	CHECK_EQ_OUT(res.n_lines, 3);
out:
	chain_free(&c);
}

static void test_verify_names_line_after_body_edit(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], *p;

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	/* One byte of line 3's data: line 3 still parses, so line 4's prev is what breaks. */
	p = strstr(c.lines[2], "xxxx");
	CHECK_OUT(p != NULL);
	*p = 'y';
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "edit.log"), c.lines, c.n, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_OUT(strcmp(res.file, path) == 0);
	CHECK_EQ_OUT(res.line, 4);
	CHECK_OUT(strcmp(res.reason, "prev hash does not match line 3") == 0);
	CHECK_EQ_OUT(res.n_lines, 3);
out:
	chain_free(&c);
}

static void test_verify_detects_every_single_byte_edit_of_a_middle_line(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], saved;
	size_t i, len;

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 4), 0);
	test_path(path, sizeof(path), "bytes.log");
	len = strlen(c.lines[2]);
	for (i = 0; i < len; i++) {
		saved = c.lines[2][i];
		c.lines[2][i] = saved == '7' ? '8' : '7';
		CHECK_EQ_OUT(file_write(path, c.lines, c.n, NULL, 0), 0);
		c.lines[2][i] = saved;
		CHECK_EQ_OUT(verify_one(path, &res), 0);
		if (res.is_ok || (res.line != 3 && res.line != 4)) {
			fprintf(stderr, "byte %zu: ok %d line %llu\n", i, res.is_ok,
			        (unsigned long long)res.line);
			CHECK_OUT(0);
		}
	}
out:
	chain_free(&c);
}

static void test_verify_names_edited_seq_and_prev(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], *p;

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	test_path(path, sizeof(path), "seqedit.log");
	/* {"seq":3 -> {"seq":9: the line itself is the first to fail. */
	c.lines[2][7] = '9';
	CHECK_EQ_OUT(file_write(path, c.lines, c.n, NULL, 0), 0);
	c.lines[2][7] = '3';
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 3);
	CHECK_OUT(strstr(res.reason, "seq 9 follows seq 2") != NULL);
	/* One hex digit of line 3's prev. */
	p = strstr(c.lines[2], "\"prev\":\"") + 8 + strlen(audit_hash_name(test_alg)) + 1;
	*p = *p == '0' ? '1' : '0';
	CHECK_EQ_OUT(file_write(path, c.lines, c.n, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 3);
	CHECK_OUT(strcmp(res.reason, "prev hash does not match line 2") == 0);
out:
	chain_free(&c);
}

static void test_verify_names_line_after_deleted_line(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], *lines[4];

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	lines[0] = c.lines[0];
	lines[1] = c.lines[1];
	lines[2] = c.lines[3];
	lines[3] = c.lines[4];
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "del.log"), lines, 4, NULL, 0), 0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 3);
	CHECK_OUT(strstr(res.reason, "seq 4 follows seq 2") != NULL);
	CHECK_OUT(strstr(res.reason, "missing") != NULL);
out:
	chain_free(&c);
}

static void test_verify_names_first_of_swapped_lines(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], *tmp;

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	tmp = c.lines[1];
	c.lines[1] = c.lines[2];
	c.lines[2] = tmp;
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "swap.log"), c.lines, c.n, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 2);
	CHECK_OUT(strstr(res.reason, "seq 3 follows seq 1") != NULL);
out:
	chain_free(&c);
}

static void test_verify_names_truncated_tail(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512];
	int rc;

	CHECK_EQ_OUT(chain_make(&c, 1, 5, 10), 0);
	/* Lines 1-4 complete, then half of line 5 and no newline: a crash mid-write. */
	rc = file_write(test_path(path, sizeof(path), "trunc.log"), c.lines, 4, c.lines[4],
	                strlen(c.lines[4]) / 2);
	chain_free(&c);
	CHECK_EQ_OUT(rc, 0);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 5);
	CHECK_OUT(strstr(res.reason, "truncated") != NULL);
	CHECK_EQ_OUT(res.n_lines, 4);
out:
	chain_free(&c);
}

static void test_verify_rejects_seq_1_with_nonzero_prev(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512];

	/* A chain that starts at seq 2 has a non-zero first prev; relabel its first line seq 1. */
	CHECK_EQ_OUT(chain_make(&c, 2, 1, 10), 0);
	c.lines[0][7] = '1';
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "seq1.log"), c.lines, c.n, NULL, 0),
	             0);
	chain_free(&c);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 1);
	CHECK_OUT(strstr(res.reason, "not zero") != NULL);
out:
	chain_free(&c);
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
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512], *lines[3];
	size_t i;

	CHECK_EQ_OUT(chain_make(&c, 1, 3, 10), 0);
	test_path(path, sizeof(path), "bad.log");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lines[0] = c.lines[0];
		lines[1] = (char *)bad[i];
		lines[2] = c.lines[2];
		if (file_write(path, lines, 3, NULL, 0) != 0 || verify_one(path, &res) != 0 ||
		    res.is_ok || res.line != 2) {
			fprintf(stderr, "bad line %zu accepted or misplaced\n", i);
			CHECK_OUT(0);
		}
	}
	chain_free(&c);
	CHECK_OUT(strstr(res.reason, "not a JSON object") != NULL);
out:
	chain_free(&c);
}

static void test_verify_reads_lines_longer_than_any_buffer(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char path[512];

	struct audit_verify_result edited;
	int rc_edited, rc;

	CHECK_EQ_OUT(chain_make(&c, 1, 3, 1 << 20), 0);
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
	CHECK_EQ_OUT(rc_edited, 0);
	CHECK_OUT(!edited.is_ok);
	CHECK_EQ_OUT(edited.line, 3);
	CHECK_EQ_OUT(rc, 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_lines, 3);
out:
	chain_free(&c);
}

static void test_verify_reports_unreadable_file(void)
{
	struct test_chain c = {0};
	struct audit_verify_result res;
	char p[2][512];
	const char *paths[2] = {p[0], p[1]};

	CHECK_EQ_OUT(chain_make(&c, 1, 2, 10), 0);
	CHECK_EQ_OUT(file_write(test_path(p[0], sizeof(p[0]), "here.log"), c.lines, c.n, NULL, 0),
	             0);
	chain_free(&c);
	test_path(p[1], sizeof(p[1]), "absent.log");
	CHECK_EQ_OUT(audit_verify_files(paths, 2, &res), COFFER_ERR_IO);
	CHECK_OUT(!res.is_ok);
	CHECK_OUT(strcmp(res.file, p[1]) == 0);
	CHECK_OUT(res.reason[0] != '\0');
	CHECK_EQ_OUT(audit_verify_files(paths, 0, &res), COFFER_ERR_INVALID);
out:
	chain_free(&c);
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
	struct test_chain c = {0};
	enum audit_hash_alg alg = 0;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 0;
	char path[512];
	int rc;

	/* Lines longer than the backwards-reading chunk, so the search crosses chunks. */
	CHECK_EQ_OUT(chain_make(&c, 7, 4, 10000), 0);
	test_path(path, sizeof(path), "tail.log");
	CHECK_EQ_OUT(file_write(path, c.lines, 4, NULL, 0), 0);
	CHECK_EQ_OUT(audit_chain_tail(path, &seq, &alg, hash), 0);
	CHECK_EQ_OUT(seq, 10);
	CHECK_OUT(memcmp(hash, c.hashes[3], AUDIT_HASH_LEN) == 0);
	/* A partial line after the last newline is not part of the chain yet. */
	CHECK_EQ_OUT(file_write(path, c.lines, 3, c.lines[3], 5000), 0);
	CHECK_EQ_OUT(audit_chain_tail(path, &seq, &alg, hash), 0);
	CHECK_EQ_OUT(seq, 9);
	CHECK_OUT(memcmp(hash, c.hashes[2], AUDIT_HASH_LEN) == 0);
	/* A single line: no newline before it. */
	CHECK_EQ_OUT(file_write(path, c.lines, 1, NULL, 0), 0);
	CHECK_EQ_OUT(audit_chain_tail(path, &seq, &alg, hash), 0);
	CHECK_EQ_OUT(seq, 7);
	CHECK_OUT(memcmp(hash, c.hashes[0], AUDIT_HASH_LEN) == 0);
	/* Only a partial line. */
	rc = file_write(path, NULL, 0, c.lines[0], 100);
	chain_free(&c);
	CHECK_EQ_OUT(rc, 0);
	CHECK_EQ_OUT(audit_chain_tail(path, &seq, &alg, hash), COFFER_ERR_NOT_FOUND);
out:
	chain_free(&c);
}

static void test_chain_tail_of_empty_or_missing_file_is_not_found(void)
{
	enum audit_hash_alg alg = 0;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 99;
	char path[512];

	CHECK_EQ(file_write(test_path(path, sizeof(path), "tail-empty.log"), NULL, 0, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, &alg, hash), COFFER_ERR_NOT_FOUND);
	CHECK_EQ(seq, 99);
	CHECK_EQ(
	    audit_chain_tail(test_path(path, sizeof(path), "tail-absent.log"), &seq, &alg, hash),
	    COFFER_ERR_NOT_FOUND);
}

static void test_chain_tail_rejects_garbage_last_line(void)
{
	char *lines[1] = {(char *)"not json"};
	enum audit_hash_alg alg = 0;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq;
	char path[512];

	CHECK_EQ(file_write(test_path(path, sizeof(path), "tail-bad.log"), lines, 1, NULL, 0), 0);
	CHECK_EQ(audit_chain_tail(path, &seq, &alg, hash), COFFER_ERR_INTEGRITY);
}

/* --- signed checkpoints --------------------------------------------------------------------- */

static uint8_t test_pk[AUDIT_PK_LEN], test_sk[AUDIT_SK_LEN];

/* A signed log as the server writes one: lines[k] (without newline); kinds[k] is the checkpoint
 * kind or NULL for a request line. */
struct test_slog {
	char *lines[TEST_MAX_LINES];
	size_t n;
	uint64_t seq;
	uint8_t prev[AUDIT_HASH_LEN];
};

/* Safe on a zeroed log, and a second time (n goes back to 0). */
static void slog_free(struct test_slog *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->lines[i]);
	l->n = 0;
}

/* Append a line of kind (a checkpoint kind, or NULL for a request line) signed with sk. */
static int slog_add(struct test_slog *l, const char *kind, const uint8_t *sk)
{
	char prev_text[AUDIT_PREV_TEXT_MAX + 1], buf[AUDIT_CKPT_LINE_MAX];
	size_t len;

	if (l->n == TEST_MAX_LINES)
		return -1;
	audit_prev_text(test_alg, l->prev, prev_text);
	l->seq++;
	if (kind != NULL) {
		len = audit_ckpt_line(buf, sk, kind, "file/", "2024-05-01T12:00:00.000001Z", l->seq,
		                      prev_text);
		if (len == 0)
			return -1;
		buf[len - 1] = '\0';
	} else {
		snprintf(buf, sizeof(buf),
		         "{\"time\":\"2024-05-01T12:00:00Z\",\"type\":\"request\",\"n\":%zu,"
		         "\"seq\":%llu,\"prev\":\"%s\"}",
		         l->n, (unsigned long long)l->seq, prev_text);
	}
	l->lines[l->n] = strdup(buf);
	if (l->lines[l->n] == NULL)
		return -1;
	audit_line_hash(test_alg, buf, strlen(buf), l->prev);
	l->n++;
	return 0;
}

/* header, 3 lines, periodic, 2 lines, shutdown: 9 lines, seq first..first+8. */
static int slog_make(struct test_slog *l, uint64_t first_seq, const uint8_t *sk)
{
	static const char *const kinds[] = {AUDIT_CKPT_HEADER,   NULL, NULL, NULL,
	                                    AUDIT_CKPT_PERIODIC, NULL, NULL, AUDIT_CKPT_SHUTDOWN};
	memset(l, 0, sizeof(*l));
	l->seq = first_seq - 1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (slog_add(l, kinds[i], sk) != 0)
			return -1;
	}
	return 0;
}

/* What a forger without the key does: recompute seq and prev of lines[from..] to follow
 * lines[from - 1] (or start at first_seq with a zero prev when from is 0). */
static void slog_rechain(struct test_slog *l, size_t from, uint64_t first_seq)
{
	char prev_text[AUDIT_PREV_TEXT_MAX + 1], buf[AUDIT_CKPT_LINE_MAX], *cut;
	uint8_t prev[AUDIT_HASH_LEN] = {0};
	uint64_t seq = first_seq - 1;

	if (from > 0) {
		audit_line_hash(test_alg, l->lines[from - 1], strlen(l->lines[from - 1]), prev);
		(void)audit_chain_link(l->lines[from - 1], strlen(l->lines[from - 1]), &seq,
		                       &(enum audit_hash_alg){0}, (uint8_t[AUDIT_HASH_LEN]){0});
	}
	for (size_t i = from; i < l->n; i++) {
		cut = strstr(l->lines[i], ",\"seq\":");
		*cut = '\0';
		audit_prev_text(test_alg, prev, prev_text);
		snprintf(buf, sizeof(buf), "%s,\"seq\":%llu,\"prev\":\"%s\"}", l->lines[i],
		         (unsigned long long)++seq, prev_text);
		free(l->lines[i]);
		l->lines[i] = strdup(buf);
		audit_line_hash(test_alg, buf, strlen(buf), prev);
	}
}

static void slog_delete(struct test_slog *l, size_t i)
{
	free(l->lines[i]);
	memmove(&l->lines[i], &l->lines[i + 1], (l->n - i - 1) * sizeof(l->lines[0]));
	l->n--;
}

static int verify_signed(const char *path, const struct audit_verify_opts *o,
                         struct audit_verify_result *res)
{
	const char *paths[1] = {path};

	return audit_verify_files_signed(paths, 1, o, res);
}

static void test_signed_log_verifies_and_is_closed(void)
{
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog l = {0};
	char path[512];

	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "s-ok.log"), l.lines, l.n, NULL, 0),
	             0);
	slog_free(&l);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_lines, 8);
	CHECK_EQ_OUT(res.n_checkpoints, 3);
	CHECK_EQ_OUT(res.signed_seq, 8);
	CHECK_EQ_OUT(res.unsigned_lines, 0);
	CHECK_OUT(res.is_closed);
	CHECK_EQ_OUT(res.n_warnings, 0);
	/* The chain alone also passes (the old entry point). */
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(res.is_ok);
out:
	slog_free(&l);
}

static void test_signed_rebuilt_chain_is_refused(void)
{
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog l = {0};
	char path[512];

	/* Line 3 deleted, every later seq and prev recomputed: the chain is whole again... */
	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	slog_delete(&l, 2);
	slog_rechain(&l, 2, 1);
	CHECK_EQ_OUT(
	    file_write(test_path(path, sizeof(path), "s-forged.log"), l.lines, l.n, NULL, 0), 0);
	slog_free(&l);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(res.is_ok);
	/* ...but the next checkpoint's signature covers the old head. */
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 4);
	CHECK_OUT(strstr(res.reason, "periodic checkpoint's signature does not verify") != NULL);
out:
	slog_free(&l);
}

static void test_signed_head_cut_is_refused(void)
{
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog l = {0};
	char path[512];

	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	slog_delete(&l, 0);
	slog_delete(&l, 0);
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "s-head.log"), l.lines, l.n, NULL, 0),
	             0);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 1);
	CHECK_OUT(strstr(res.reason, "first line is not a signed header") != NULL);
	/* Not even from a checkpoint: only a header starts a file. */
	slog_delete(&l, 0);
	slog_delete(&l, 0);
	CHECK_OUT(strstr(l.lines[0], "\"kind\":\"periodic\"") != NULL);
	CHECK_EQ_OUT(file_write(path, l.lines, l.n, NULL, 0), 0);
	slog_free(&l);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 1);
out:
	slog_free(&l);
}

static void test_signed_other_key_or_edited_checkpoint_is_refused(void)
{
	uint8_t pk2[AUDIT_PK_LEN], sk2[AUDIT_SK_LEN];
	struct audit_verify_opts o = {.public_key = pk2};
	struct audit_verify_result res;
	struct test_slog l = {0};
	char path[512], *p;

	crypto_sign_keypair(pk2, sk2);
	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "s-key.log"), l.lines, l.n, NULL, 0),
	             0);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 1);
	/* The right key, a checkpoint's signed time edited and the chain rebuilt after it. */
	o.public_key = test_pk;
	p = strstr(l.lines[4], "12:00:00");
	p[1] = '3';
	slog_rechain(&l, 5, 1);
	CHECK_EQ_OUT(file_write(path, l.lines, l.n, NULL, 0), 0);
	slog_free(&l);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 5);
out:
	slog_free(&l);
}

static void test_signed_tail_is_warned_offline_and_refused_with_the_head(void)
{
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog l = {0};
	uint8_t head[AUDIT_HASH_LEN];
	char path[512];

	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	audit_line_hash(test_alg, l.lines[7], strlen(l.lines[7]), head);
	/* The shutdown checkpoint and a line cut: two unsigned lines are left, a warning. */
	CHECK_EQ_OUT(file_write(test_path(path, sizeof(path), "s-tail.log"), l.lines, 7, NULL, 0),
	             0);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.unsigned_lines, 2);
	CHECK_EQ_OUT(res.signed_seq, 5);
	CHECK_EQ_OUT(res.n_warnings, 1);
	CHECK_OUT(strstr(res.warnings[0], "last 2 lines (after seq 5)") != NULL);
	/* Cut at the periodic checkpoint: ends signed, but not closed. */
	CHECK_EQ_OUT(file_write(path, l.lines, 5, NULL, 0), 0);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_OUT(!res.is_closed);
	CHECK_EQ_OUT(res.n_warnings, 1);
	CHECK_OUT(strstr(res.warnings[0], "periodic checkpoint (seq 5)") != NULL);
	/* With the head the server recorded (the shutdown checkpoint, seq 8): refused. */
	o.has_head = true;
	o.head_seq = 8;
	o.head_alg = test_alg;
	memcpy(o.head_hash, head, sizeof(head));
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_OUT(strstr(res.reason,
	                 "ends at seq 5, before the head the server recorded (seq 8)") != NULL);
	/* The whole log reaches it; a different line at the head's seq does not. */
	CHECK_EQ_OUT(file_write(path, l.lines, l.n, NULL, 0), 0);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_warnings, 0);
	o.head_hash[0] ^= 1;
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	slog_free(&l);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 8);
out:
	slog_free(&l);
}

static void test_signed_files_continue_across_rotation(void)
{
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog a = {0}, b = {0};
	char p1[512], p2[512];
	const char *paths[2] = {p1, p2};

	CHECK_EQ_OUT(slog_make(&a, 1, test_sk), 0);
	/* The second file's header continues the first file's last line. */
	b.seq = a.seq;
	memcpy(b.prev, a.prev, sizeof(b.prev));
	CHECK_EQ_OUT(slog_add(&b, AUDIT_CKPT_HEADER, test_sk), 0);
	CHECK_EQ_OUT(slog_add(&b, NULL, NULL), 0);
	CHECK_EQ_OUT(slog_add(&b, AUDIT_CKPT_SHUTDOWN, test_sk), 0);
	CHECK_EQ_OUT(file_write(test_path(p1, sizeof(p1), "s-rot.log.1"), a.lines, a.n, NULL, 0),
	             0);
	CHECK_EQ_OUT(file_write(test_path(p2, sizeof(p2), "s-rot.log"), b.lines, b.n, NULL, 0), 0);
	CHECK_EQ_OUT(audit_verify_files_signed(paths, 2, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	CHECK_EQ_OUT(res.n_lines, 11);
	CHECK_EQ_OUT(res.n_checkpoints, 5);
	/* The newer file alone verifies (older files may be deleted)... */
	CHECK_EQ_OUT(audit_verify_files_signed(paths + 1, 1, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	/* ...out of order they do not. */
	paths[0] = p2;
	paths[1] = p1;
	CHECK_EQ_OUT(audit_verify_files_signed(paths, 2, &o, &res), 0);
	slog_free(&a);
	slog_free(&b);
	CHECK_OUT(!res.is_ok);
out:
	slog_free(&b);
	slog_free(&a);
}

static void test_ckpt_message_and_key_text(void)
{
	static const char prev[] =
	    "blake2b:0000000000000000000000000000000000000000000000000000000000000000";
	char msg[AUDIT_CKPT_MSG_MAX], text[AUDIT_PK_TEXT_LEN + 1], spaced[80];
	uint8_t pk[AUDIT_PK_LEN];
	size_t n;

	n = audit_ckpt_message(msg, "header", "file/", "T", 7, prev);
	CHECK(n > 0);
	CHECK(strcmp(msg, "coffer-audit-checkpoint-v1\nheader\nfile/\nT\n7\n"
	                  "blake2b:0000000000000000000000000000000000000000000000000000000000000000"
	                  "\n") == 0);
	CHECK_EQ(audit_ckpt_message(msg, "other", "file/", "T", 7, prev), 0);
	CHECK_EQ(audit_ckpt_message(msg, "header", "fi\nle/", "T", 7, prev), 0);
	CHECK_EQ(audit_ckpt_message(msg, "header", "file/", "T\"", 7, prev), 0);
	CHECK_EQ(audit_ckpt_message(msg, "header", "", "T", 7, prev), 0);
	CHECK_EQ(audit_ckpt_message(msg, "header", "file/", "T", 7, "blake2b:00"), 0);
	audit_pk_encode(test_pk, text);
	CHECK_EQ(strlen(text), AUDIT_PK_TEXT_LEN);
	snprintf(spaced, sizeof(spaced), "  ed25519:%s\n", text);
	CHECK_EQ(audit_pk_decode(spaced, pk), 0);
	CHECK(memcmp(pk, test_pk, sizeof(pk)) == 0);
	CHECK_EQ(audit_pk_decode("AAAA", pk), COFFER_ERR_INVALID);
	CHECK_EQ(audit_pk_decode("", pk), COFFER_ERR_INVALID);
}

/* A chain never changes its hash function: a line whose prev is the right hash of the line
 * before, but under the other function, is refused (and a head under the other one too). */
static void test_verify_refuses_a_chain_that_changes_its_hash(void)
{
	enum audit_hash_alg other = test_alg == AUDIT_HASH_SHA256 ? AUDIT_HASH_BLAKE2B
	                                                          : AUDIT_HASH_SHA256,
	                    mine = test_alg;
	struct audit_verify_opts o = {.public_key = test_pk};
	struct audit_verify_result res;
	struct test_slog l = {0};
	char path[512];

	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	test_alg = other;
	slog_rechain(&l, 3, 1);
	test_alg = mine;
	CHECK_EQ_OUT(
	    file_write(test_path(path, sizeof(path), "s-switch.log"), l.lines, l.n, NULL, 0), 0);
	CHECK_EQ_OUT(verify_one(path, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 4);
	CHECK_OUT(strstr(res.reason, "a chain never changes its hash function") != NULL);
	slog_free(&l);
	/* The head's function must be the chain's. */
	CHECK_EQ_OUT(slog_make(&l, 1, test_sk), 0);
	CHECK_EQ_OUT(file_write(path, l.lines, l.n, NULL, 0), 0);
	o.has_head = true;
	o.head_seq = 8;
	o.head_alg = mine;
	audit_line_hash(mine, l.lines[7], strlen(l.lines[7]), o.head_hash);
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(res.is_ok);
	o.head_alg = other;
	CHECK_EQ_OUT(verify_signed(path, &o, &res), 0);
	CHECK_OUT(!res.is_ok);
	CHECK_EQ_OUT(res.line, 8);
out:
	slog_free(&l);
}

/* The tail names the chain's function, as its last line's prev does. */
static void test_chain_tail_names_the_chains_hash(void)
{
	struct test_chain c = {0};
	uint8_t hash[AUDIT_HASH_LEN];
	enum audit_hash_alg alg = 0;
	uint64_t seq = 0;
	char path[512];

	CHECK_EQ_OUT(chain_make(&c, 1, 3, 10), 0);
	CHECK_EQ_OUT(
	    file_write(test_path(path, sizeof(path), "tail-alg.log"), c.lines, c.n, NULL, 0), 0);
	CHECK_EQ_OUT(audit_chain_tail(path, &seq, &alg, hash), 0);
	CHECK_EQ_OUT(alg, test_alg);
	CHECK_OUT(memcmp(hash, c.hashes[2], AUDIT_HASH_LEN) == 0);
out:
	chain_free(&c);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	if (testutil_mkdtemp(test_dir, sizeof(test_dir), "audit-chain") != 0)
		return 1;
	RUN(test_line_hash_is_unkeyed_blake2b_256_or_sha256);
	RUN(test_prev_parse_takes_only_the_spellings_the_server_writes);
	crypto_sign_keypair(test_pk, test_sk);
	/* Every chain test with each hash function a chain may use. */
	for (int a = 0; a < 2; a++) {
		test_alg = a == 0 ? AUDIT_HASH_BLAKE2B : AUDIT_HASH_SHA256;
		printf("# chains hashed with %s\n", audit_hash_name(test_alg));
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
		RUN(test_chain_tail_names_the_chains_hash);
		RUN(test_signed_log_verifies_and_is_closed);
		RUN(test_signed_rebuilt_chain_is_refused);
		RUN(test_signed_head_cut_is_refused);
		RUN(test_signed_other_key_or_edited_checkpoint_is_refused);
		RUN(test_signed_tail_is_warned_offline_and_refused_with_the_head);
		RUN(test_signed_files_continue_across_rotation);
		RUN(test_verify_refuses_a_chain_that_changes_its_hash);
	}
	RUN(test_ckpt_message_and_key_text);
	testutil_rmtree(test_dir);
	return test_summary();
}
