/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_path.c: logical path normalization, unescaping and the trailing-slash rule.
 */
#include <string.h>

#include "path.h"
#include "test.h"

static int norm(const char *in, char *out, size_t cap)
{
	return path_normalize(in, strlen(in), out, cap);
}

static void test_path_normalize_accepts_and_normalizes(void)
{
	static const char *const cases[][2] = {
	    {"/secret/data/x", "secret/data/x"},
	    {"secret/data/x", "secret/data/x"},
	    {"///secret/x", "secret/x"},
	    {"secret/", "secret/"},
	    {"/secret/metadata/", "secret/metadata/"},
	    {"", ""},
	    {"/", ""},
	    {"//", ""},
	    {"a", "a"},
	    {"a.b/...x/...", "a.b/...x/..."},
	    {"sys/policy/my-policy_1", "sys/policy/my-policy_1"},
	    {"kv/caf\xc3\xa9", "kv/caf\xc3\xa9"},
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(norm(cases[i][0], out, sizeof(out)), 0);
		CHECK(strcmp(out, cases[i][1]) == 0);
	}
}

static void test_path_normalize_rejects_bad_paths(void)
{
	static const char *const bad[] = {"..",     ".",     "a/../b", "a/./b", "a//b",
	                                  "a\001b", "a\177", "../a",   "a/..",  "a/.",
	                                  "/..",    "a/b//", "a\tb",   "a\nb",  "a/\037"};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(out, "junk");
		CHECK_EQ(norm(bad[i], out, sizeof(out)), COFFER_ERR_INVALID);
		CHECK(out[0] == '\0');
	}
}

static void test_path_normalize_rejects_embedded_nul(void)
{
	char out[64];

	CHECK_EQ(path_normalize("secret\0x", 8, out, sizeof(out)), COFFER_ERR_INVALID);
	CHECK_EQ(path_normalize("secret\0", 7, out, sizeof(out)), COFFER_ERR_INVALID);
	CHECK_EQ(path_normalize("secret\0x", 6, out, sizeof(out)), 0);
	CHECK(strcmp(out, "secret") == 0);
}

static void test_path_normalize_rejects_overlong(void)
{
	static char in[PATH_MAX_LEN + 2], out[PATH_MAX_LEN + 2];

	memset(in, 'a', PATH_MAX_LEN + 1);
	CHECK_EQ(path_normalize(in, PATH_MAX_LEN + 1, out, sizeof(out)), COFFER_ERR_INVALID);
	CHECK_EQ(path_normalize(in, PATH_MAX_LEN, out, sizeof(out)), 0);
	CHECK_EQ(strlen(out), PATH_MAX_LEN);
}

static void test_path_normalize_rejects_small_output(void)
{
	char out[8];

	CHECK_EQ(norm("/secret/x", out, 8), COFFER_ERR_INVALID);
	CHECK_EQ(norm("/secret/x", out, 7), COFFER_ERR_INVALID);
	CHECK_EQ(norm("/secretx", out, 8), 0);
	CHECK_EQ(path_normalize("a", 1, out, 0), COFFER_ERR_INVALID);
}

static void test_path_unescape_decodes_and_marks_nul(void)
{
	static const char *const cases[][2] = {
	    {"secret/data/a%2Fb", "secret/data/a/b"},
	    {"a%2fb%2F", "a/b/"},
	    {"a%20b", "a b"},
	    {"a%00b", "a\177b"},
	    {"%00", "\177"},
	    {"a%2", "a%2"},
	    {"a%zzb%", "a%zzb%"},
	    {"%%41", "%A"},
	    {"a%2500b", "a%00b"},
	    {"plain", "plain"},
	    {"", ""},
	};
	char buf[64], out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i][0]);
		CHECK_EQ(path_unescape(buf), strlen(cases[i][1]));
		CHECK(strcmp(buf, cases[i][1]) == 0);
	}
	/* What %00 decodes to is refused as a path: "a%00b" never names "a". */
	strcpy(buf, "secret/data/a%00b");
	CHECK_EQ(path_normalize(buf, path_unescape(buf), out, sizeof(out)), COFFER_ERR_INVALID);
}

static void test_path_set_folder(void)
{
	static const struct {
		const char *in;
		bool is_folder;
		const char *out;
	} cases[] = {
	    {"secret/data/x/", false, "secret/data/x"},
	    {"secret/data/x", false, "secret/data/x"},
	    {"secret/metadata", true, "secret/metadata/"},
	    {"secret/metadata/", true, "secret/metadata/"},
	    {"", true, ""},
	    {"", false, ""},
	    {"a/", false, "a"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i].in);
		CHECK_EQ(path_set_folder(buf, sizeof(buf), cases[i].is_folder), 0);
		CHECK(strcmp(buf, cases[i].out) == 0);
	}
	strcpy(buf, "abc");
	CHECK_EQ(path_set_folder(buf, 4, true), COFFER_ERR_INVALID);
	CHECK(strcmp(buf, "abc") == 0);
	CHECK_EQ(path_set_folder(buf, 5, true), 0);
	CHECK(strcmp(buf, "abc/") == 0);
}

int main(void)
{
	RUN(test_path_normalize_accepts_and_normalizes);
	RUN(test_path_normalize_rejects_bad_paths);
	RUN(test_path_normalize_rejects_embedded_nul);
	RUN(test_path_normalize_rejects_overlong);
	RUN(test_path_normalize_rejects_small_output);
	RUN(test_path_unescape_decodes_and_marks_nul);
	RUN(test_path_set_folder);
	return test_summary();
}
