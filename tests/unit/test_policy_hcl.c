/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_policy_hcl.c: unit tests of server/identity/policy_hcl.c: the HCL subset of Vault policies
 * on valid documents (comments, trailing commas, several blocks, legacy policy, tolerated
 * parameters) and invalid ones, whose errors must name the right line.
 */
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "identity/policy.h"
#include "secmem.h"
#include "test.h"

static json_t *hcl(const char *text)
{
	json_t *doc = NULL;
	char err[256];

	if (policy_hcl_to_json(text, strlen(text), &doc, err, sizeof(err)) != 0) {
		fprintf(stderr, "unexpected error: %s\n", err);
		return NULL;
	}
	return doc;
}

/* True when parsing text fails with an error that starts with prefix (e.g. "line 3: "). */
static bool hcl_fails_with(const char *text, const char *prefix, const char *needle)
{
	json_t *doc = NULL;
	char err[256] = "";
	int rc;

	rc = policy_hcl_to_json(text, strlen(text), &doc, err, sizeof(err));
	if (rc != COFFER_ERR_INVALID || doc != NULL || strncmp(err, prefix, strlen(prefix)) != 0 ||
	    (needle != NULL && strstr(err, needle) == NULL)) {
		fprintf(stderr, "rc %d, error \"%s\", wanted \"%s...%s\"\n", rc, err, prefix,
		        needle != NULL ? needle : "");
		json_decref(doc);
		return false;
	}
	return true;
}

/* The capabilities array of pattern as a comma-joined string in out. */
static const char *caps_of(json_t *doc, const char *pattern, char *out, size_t out_len)
{
	json_t *caps =
	    json_object_get(json_object_get(json_object_get(doc, "path"), pattern), "capabilities");
	json_t *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach(caps, i, v)
	{
		if (i > 0)
			strncat(out, ",", out_len - strlen(out) - 1);
		strncat(out, json_string_value(v), out_len - strlen(out) - 1);
	}
	return out;
}

static void test_hcl_single_block_gives_json_form(void)
{
	json_t *doc = hcl("path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n");
	char buf[128];

	CHECK_OUT(doc != NULL);
	CHECK_OUT(strcmp(caps_of(doc, "secret/*", buf, sizeof(buf)), "read,list") == 0);
	CHECK_EQ_OUT(json_object_size(json_object_get(doc, "path")), 1);
out:
	json_decref(doc);
}

static void test_hcl_accepts_comments_and_trailing_commas(void)
{
	json_t *doc = hcl("# hash comment\n"
	                  "// slash comment\n"
	                  "/* block\n   comment */ path \"a/*\" { # after brace\n"
	                  "  capabilities = [\n    \"read\", // trailing comma next\n"
	                  "    \"update\",\n  ]\n}\n");
	char buf[128];

	CHECK_OUT(doc != NULL);
	CHECK_OUT(strcmp(caps_of(doc, "a/*", buf, sizeof(buf)), "read,update") == 0);
out:
	json_decref(doc);
}

static void test_hcl_reads_several_blocks_and_merges_repeats(void)
{
	json_t *doc = hcl("path \"a\" { capabilities = [\"read\"] }\n"
	                  "path \"b/+/c\" { capabilities = [\"create\"] }\n"
	                  "path \"a\" { capabilities = [\"delete\"] }\n");
	char buf[128];

	CHECK_OUT(doc != NULL);
	CHECK_EQ_OUT(json_object_size(json_object_get(doc, "path")), 2);
	CHECK_OUT(strcmp(caps_of(doc, "a", buf, sizeof(buf)), "read,delete") == 0);
	CHECK_OUT(strcmp(caps_of(doc, "b/+/c", buf, sizeof(buf)), "create") == 0);
out:
	json_decref(doc);
}

static void test_hcl_keeps_legacy_policy(void)
{
	json_t *doc = hcl("path \"sys/*\" {\n  policy = \"write\"\n}\n"
	                  "path \"x\" { policy = \"read\"\n policy = \"deny\" }\n");
	json_t *rule;
	char buf[128];

	CHECK_OUT(doc != NULL);
	rule = json_object_get(json_object_get(doc, "path"), "sys/*");
	CHECK_OUT(strcmp(json_string_value(json_object_get(rule, "policy")), "write") == 0);
	/* A second legacy policy for one path is merged as capabilities. */
	CHECK_OUT(strcmp(caps_of(doc, "x", buf, sizeof(buf)), "deny") == 0);
out:
	json_decref(doc);
}

static void test_hcl_tolerates_parameter_constraints(void)
{
	json_t *doc = hcl("path \"secret/data/app\" {\n"
	                  "  capabilities = [\"create\"]\n"
	                  "  allowed_parameters = {\n    \"ttl\" = [\"1h\", \"2h\",]\n"
	                  "    \"*\" = []\n  }\n"
	                  "  denied_parameters = { \"x\" = [] }\n"
	                  "  required_parameters = [\"ttl\"]\n"
	                  "  min_wrapping_ttl = \"1s\"\n  max_wrapping_ttl = \"90s\"\n}\n");
	char buf[128];

	CHECK_OUT(doc != NULL);
	CHECK_OUT(strcmp(caps_of(doc, "secret/data/app", buf, sizeof(buf)), "create") == 0);
	CHECK_OUT(json_object_get(json_object_get(json_object_get(doc, "path"), "secret/data/app"),
	                          "allowed_parameters") == NULL);
out:
	json_decref(doc);
}

static void test_hcl_unescapes_strings(void)
{
	json_t *doc = hcl("path \"a\\\"b\\\\c\" { capabilities = [\"read\"] }");

	CHECK_OUT(doc != NULL);
	CHECK_OUT(json_object_get(json_object_get(doc, "path"), "a\"b\\c") != NULL);
out:
	json_decref(doc);
}

static void test_hcl_empty_document_has_no_rules(void)
{
	json_t *doc = hcl("  \n# nothing but a comment\n");

	CHECK_OUT(doc != NULL);
	CHECK_EQ_OUT(json_object_size(json_object_get(doc, "path")), 0);
	json_decref(doc);
	doc = hcl("");
	CHECK_OUT(doc != NULL);
out:
	json_decref(doc);
}

static void test_hcl_unterminated_string_names_its_line(void)
{
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read]\n}\n",
	                     "line 2: ", "unterminated string"));
	CHECK(hcl_fails_with("\n\npath \"a", "line 3: ", "unterminated string"));
}

static void test_hcl_missing_brace_names_the_block(void)
{
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read\"]\n",
	                     "line 1: ", "missing '}'"));
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read\"]\n\npath \"b\" {}\n",
	                     "line 4: ", "missing '}'"));
	CHECK(hcl_fails_with("\npath \"a\"\n  capabilities = [\"read\"]\n}\n",
	                     "line 3: ", "expected '{'"));
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read\"\n}\n",
	                     "line 3: ", "expected ',' or ']'"));
}

static void test_hcl_unknown_capability_names_its_line(void)
{
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read\",\n    \"reed\"]\n}\n",
	                     "line 3: ", "unknown capability \"reed\" in path \"a\""));
	CHECK(hcl_fails_with("path \"a\" {\n\n  policy = \"readonly\"\n}\n",
	                     "line 3: ", "policy in path \"a\""));
}

static void test_hcl_rejects_garbage(void)
{
	CHECK(hcl_fails_with("path \"a\" {}\n\n\n@", "line 4: ", "unexpected character '@'"));
	CHECK(hcl_fails_with("{\"path\"", "line 1: ", "expected a path block"));
	CHECK(hcl_fails_with("paths \"a\" {}", "line 1: ", "expected a path block"));
	CHECK(hcl_fails_with("path a {}", "line 1: ", "expected a quoted path"));
	CHECK(hcl_fails_with("\xff\xfe", "line 1: ", "unexpected byte"));
	CHECK(hcl_fails_with("path \"a\" {}\n/* never closed\n\n",
	                     "line 2: ", "unterminated /* comment"));
}

static void test_hcl_rejects_bad_keys_and_values(void)
{
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities [\"read\"]\n}",
	                     "line 2: ", "expected '=' after capabilities"));
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = \"read\"\n}",
	                     "line 2: ", "must be a list"));
	CHECK(hcl_fails_with("path \"a\" {\n capabilities = [read]\n}",
	                     "line 2: ", "list of strings"));
	CHECK(hcl_fails_with("path \"a\" {\n\n  capabilites = [\"read\"]\n}",
	                     "line 3: ", "unknown key \"capabilites\""));
	CHECK(hcl_fails_with("path \"a\" {\n  capabilities = [\"read\"]\n  \"x\\q\" = 1 }",
	                     "line 3: ", "invalid escape"));
}

/* A policy sent base64-encoded may decode to any bytes: a path jansson refuses is a 400. */
static void test_hcl_path_that_is_not_utf8_is_invalid(void)
{
	CHECK(hcl_fails_with("\n# comment\npath \"secret/\xff\" { capabilities = [\"read\"] }",
	                     "line 3: ", "must be UTF-8 text"));
}

static void test_hcl_bounds_nesting(void)
{
	char doc[512];
	size_t n;

	n = (size_t)snprintf(doc, sizeof(doc), "path \"a\" {\n allowed_parameters = ");
	while (n < 200)
		doc[n++] = '[';
	doc[n] = '\0';
	CHECK(hcl_fails_with(doc, "line 2: ", "nested too deeply"));
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_hcl_single_block_gives_json_form);
	RUN(test_hcl_accepts_comments_and_trailing_commas);
	RUN(test_hcl_reads_several_blocks_and_merges_repeats);
	RUN(test_hcl_keeps_legacy_policy);
	RUN(test_hcl_tolerates_parameter_constraints);
	RUN(test_hcl_unescapes_strings);
	RUN(test_hcl_empty_document_has_no_rules);
	RUN(test_hcl_unterminated_string_names_its_line);
	RUN(test_hcl_missing_brace_names_the_block);
	RUN(test_hcl_unknown_capability_names_its_line);
	RUN(test_hcl_rejects_garbage);
	RUN(test_hcl_rejects_bad_keys_and_values);
	RUN(test_hcl_path_that_is_not_utf8_is_invalid);
	RUN(test_hcl_bounds_nesting);
	return test_summary();
}
