/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_policy.c: unit tests of server/identity/policy.c: the ACL matrix (exact, '*', '+', Vault's
 * five priority rules, union and deny across policies, default deny, root), the JSON form, and the
 * policy store over a real barrier (round trip, built-in policies, ACL cache invalidation).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/barrier.h"
#include "crypto.h"
#include "json.h"
#include "identity/policy.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

/* The ACL of one or two policy documents (doc2 may be NULL); NULL when one does not parse. */
static struct acl *acl_of2(const char *doc1, const char *doc2)
{
	struct policy *p[2] = {NULL, NULL};
	struct acl *acl = NULL;
	char err[256];

	if (policy_parse("t1", doc1, strlen(doc1), &p[0], err, sizeof(err)) != 0 ||
	    (doc2 != NULL && policy_parse("t2", doc2, strlen(doc2), &p[1], err, sizeof(err)) != 0))
		fprintf(stderr, "parse error: %s\n", err);
	else
		acl = acl_build(p, doc2 != NULL ? 2 : 1, false);
	policy_free(p[0]);
	policy_free(p[1]);
	return acl;
}

static struct acl *acl_of(const char *doc)
{
	return acl_of2(doc, NULL);
}

/* The capability names for caps as one comma-joined string in out. */
static const char *caps_str(unsigned caps, char *out, size_t out_len)
{
	json_t *a = acl_capabilities_json(caps), *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach(a, i, v)
	{
		if (i > 0)
			strncat(out, ",", out_len - strlen(out) - 1);
		strncat(out, json_string_value(v), out_len - strlen(out) - 1);
	}
	json_decref(a);
	return out;
}

static void test_acl_exact_rule_matches_only_its_path(void)
{
	struct acl *acl = acl_of("path \"secret/foo\" { capabilities = [\"read\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/foo"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "/secret/foo"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/foo/"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/foob"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/fo"), 0);
out:
	acl_release(acl);
}

static void test_acl_glob_is_a_prefix_match(void)
{
	struct acl *acl = acl_of("path \"secret/*\" { capabilities = [\"read\", \"list\"] }\n"
	                         "path \"/team*\" { capabilities = [\"update\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/a"), ACL_CAP_READ | ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/a/b/c/"), ACL_CAP_READ | ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/"), ACL_CAP_READ | ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secrets/a"), 0);
	/* A leading '/' in a pattern is dropped, and the glob cuts inside a segment. */
	CHECK_EQ_OUT(acl_capabilities(acl, "teams/x"), ACL_CAP_UPDATE);
out:
	acl_release(acl);
}

static void test_acl_plus_matches_exactly_one_segment(void)
{
	struct acl *acl = acl_of("path \"secret/+/config\" { capabilities = [\"read\"] }\n"
	                         "path \"+/data/*\" { capabilities = [\"list\"] }\n"
	                         "path \"a+b/+\" { capabilities = [\"delete\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/config"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/x/config"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/config"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/config/"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/configx"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/data/app/db"), ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/data/"), ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/data"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "a/kv/data/x"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/metadata/x"), 0);
	/* '+' inside a segment is literal. */
	CHECK_EQ_OUT(acl_capabilities(acl, "a+b/x"), ACL_CAP_DELETE);
	CHECK_EQ_OUT(acl_capabilities(acl, "axb/x"), 0);
out:
	acl_release(acl);
}

static void test_acl_exact_rule_beats_wildcards(void)
{
	struct acl *acl = acl_of("path \"secret/a*\" { capabilities = [\"update\"] }\n"
	                         "path \"secret/+\" { capabilities = [\"delete\"] }\n"
	                         "path \"secret/a\" { capabilities = [\"read\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/a"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/ab"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/b"), ACL_CAP_DELETE);
out:
	acl_release(acl);
}

static void test_acl_priority_later_first_wildcard_wins(void)
{
	struct acl *acl = acl_of("path \"secret/+/config\" { capabilities = [\"read\"] }\n"
	                         "path \"secret/app/+\" { capabilities = [\"update\"] }\n"
	                         "path \"secret/*\" { capabilities = [\"list\"] }\n"
	                         "path \"secret/app/*\" { capabilities = [\"delete\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/config"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/db/config"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app/x/y"), ACL_CAP_DELETE);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/db/x"), ACL_CAP_LIST);
out:
	acl_release(acl);
}

static void test_acl_priority_no_trailing_glob_wins(void)
{
	struct acl *acl = acl_of("path \"secret/*\" { capabilities = [\"update\"] }\n"
	                         "path \"secret/+\" { capabilities = [\"read\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x/y"), ACL_CAP_UPDATE);
out:
	acl_release(acl);
}

static void test_acl_priority_fewer_plus_segments_win(void)
{
	struct acl *acl = acl_of("path \"a/+/+\" { capabilities = [\"read\"] }\n"
	                         "path \"a/+/c\" { capabilities = [\"update\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "a/b/c"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "a/b/d"), ACL_CAP_READ);
out:
	acl_release(acl);
}

static void test_acl_priority_longer_pattern_wins(void)
{
	struct acl *acl = acl_of("path \"secret/+/a*\" { capabilities = [\"read\"] }\n"
	                         "path \"secret/+/ab*\" { capabilities = [\"update\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x/abc"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x/ac"), ACL_CAP_READ);
out:
	acl_release(acl);
}

static void test_acl_priority_lexicographically_larger_wins(void)
{
	/* Same first wildcard, no glob, two '+' each, same length: "a/+/c/+" > "a/+/+/d". */
	struct acl *acl = acl_of("path \"a/+/+/d\" { capabilities = [\"read\"] }\n"
	                         "path \"a/+/c/+\" { capabilities = [\"update\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "a/x/c/d"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "a/x/y/d"), ACL_CAP_READ);
out:
	acl_release(acl);
}

static void test_acl_unions_capabilities_across_policies(void)
{
	struct acl *acl = acl_of2("path \"secret/*\" { capabilities = [\"read\"] }",
	                          "path \"secret/*\" { capabilities = [\"update\"] }\n"
	                          "path \"other\" { capabilities = [\"list\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x"), ACL_CAP_READ | ACL_CAP_UPDATE);
	CHECK_EQ_OUT(acl_capabilities(acl, "other"), ACL_CAP_LIST);
	CHECK_EQ_OUT(acl_capabilities(acl, "else"), 0);
out:
	acl_release(acl);
}

static void test_acl_deny_wins_across_policies(void)
{
	struct acl *acl = acl_of2("path \"secret/*\" { capabilities = [\"read\", \"sudo\"] }",
	                          "path \"secret/admin\" { capabilities = [\"deny\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/admin"), ACL_CAP_DENY);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app"), ACL_CAP_READ | ACL_CAP_SUDO);
out:
	acl_release(acl);
}

static void test_acl_most_specific_deny_wins_inside_a_policy(void)
{
	struct acl *acl = acl_of("path \"secret/*\" { capabilities = [\"read\"] }\n"
	                         "path \"secret/admin/*\" { capabilities = [\"deny\", \"read\"] }\n"
	                         "path \"kv/*\" { capabilities = [\"deny\"] }\n"
	                         "path \"kv/public/*\" { capabilities = [\"read\"] }");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/admin/x"), ACL_CAP_DENY);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/app"), ACL_CAP_READ);
	/* A less specific deny does not override a more specific grant. */
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/public/x"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/private/x"), ACL_CAP_DENY);
out:
	acl_release(acl);
}

static void test_acl_denies_by_default(void)
{
	struct acl *acl = acl_of("");
	char buf[64];

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x"), 0);
	CHECK_EQ_OUT(acl_capabilities(acl, ""), 0);
	CHECK_OUT(!acl_is_root(acl));
	CHECK_OUT(strcmp(caps_str(0, buf, sizeof(buf)), "deny") == 0);
	CHECK_OUT(strcmp(caps_str(ACL_CAP_DENY, buf, sizeof(buf)), "deny") == 0);
	acl_release(acl);
	acl = NULL;
	CHECK_EQ_OUT(acl_capabilities(NULL, "secret/x"), 0);
out:
	acl_release(acl);
}

static void test_acl_root_grants_everything(void)
{
	struct acl *acl = acl_build(NULL, 0, true);

	CHECK_OUT(acl_is_root(acl));
	CHECK_EQ_OUT(acl_capabilities(acl, "sys/rotate"), ACL_CAP_ALL);
	CHECK_EQ_OUT(acl_capabilities(acl, ""), ACL_CAP_ALL);
out:
	acl_release(acl);
}

static void test_acl_outlives_the_policies_it_was_built_from(void)
{
	struct policy *p = NULL;
	struct acl *acl = NULL;
	char err[128];

	CHECK_EQ_OUT(policy_parse("p", "path \"a\" { capabilities = [\"read\"] }",
	                          strlen("path \"a\" { capabilities = [\"read\"] }"), &p, err,
	                          sizeof(err)),
	             0);
	acl = acl_build(&p, 1, false);
	policy_free(p);
	p = NULL;
	acl_ref(acl);
	acl_release(acl);
	CHECK_EQ_OUT(acl_capabilities(acl, "a"), ACL_CAP_READ);
out:
	acl_release(acl);
	policy_free(p);
}

static void test_capability_names_are_sorted(void)
{
	char buf[128];

	CHECK(strcmp(caps_str(ACL_CAP_ALL, buf, sizeof(buf)),
	             "create,delete,list,patch,read,sudo,update") == 0);
	CHECK(strcmp(caps_str(ACL_CAP_UPDATE | ACL_CAP_CREATE, buf, sizeof(buf)),
	             "create,update") == 0);
	CHECK_EQ(acl_cap_from_name("patch"), ACL_CAP_PATCH);
	CHECK_EQ(acl_cap_from_name("root"), 0);
}

static void test_json_form_is_compiled(void)
{
	struct acl *acl =
	    acl_of(" {\"path\": {\"secret/*\": {\"capabilities\": [\"read\"]},\n"
	           "\"sys/*\": {\"policy\": \"write\"},\n"
	           "\"auth/*\": {\"policy\": \"sudo\", \"min_wrapping_ttl\": \"1s\"},\n"
	           "\"secret/x\": {\"policy\": \"deny\"},\n"
	           "\"kv/*\": {\"policy\": \"read\"}}}");

	CHECK_OUT(acl != NULL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/a"), ACL_CAP_READ);
	CHECK_EQ_OUT(acl_capabilities(acl, "sys/a"), ACL_CAP_ALL & ~ACL_CAP_SUDO);
	CHECK_EQ_OUT(acl_capabilities(acl, "auth/a"), ACL_CAP_ALL);
	CHECK_EQ_OUT(acl_capabilities(acl, "secret/x"), ACL_CAP_DENY);
	CHECK_EQ_OUT(acl_capabilities(acl, "kv/a"), ACL_CAP_READ | ACL_CAP_LIST);
out:
	acl_release(acl);
}

/* True when parsing doc fails with an error containing needle. */
static bool parse_fails_with(const char *doc, const char *needle)
{
	struct policy *p = NULL;
	char err[256] = "";
	int rc = policy_parse("x", doc, strlen(doc), &p, err, sizeof(err));

	if (rc != COFFER_ERR_INVALID || p != NULL || strstr(err, needle) == NULL) {
		fprintf(stderr, "rc %d, error \"%s\", wanted \"%s\"\n", rc, err, needle);
		policy_free(p);
		return false;
	}
	return true;
}

static void test_json_form_errors_are_clear(void)
{
	CHECK(parse_fails_with("{\"path\": {\"secret/*\": {\"capabilities\": [\"reed\"]}}}",
	                       "unknown capability \"reed\" in path \"secret/*\""));
	CHECK(parse_fails_with("{\"path\": {\"a\": {\"capabilities\": \"read\"}}}",
	                       "capabilities must be a list"));
	CHECK(parse_fails_with("{\"path\": {\"a\": {\"policy\": \"all\"}}}", "policy must be"));
	CHECK(parse_fails_with("{\"path\": {\"a\": {\"capabilites\": []}}}",
	                       "unknown key \"capabilites\" in path \"a\""));
	CHECK(parse_fails_with("{\"paths\": {}}", "unexpected key \"paths\""));
	CHECK(parse_fails_with("{\"path\": []}", "\"path\" must be an object"));
	CHECK(parse_fails_with("{\n\"path\": {,}}", "line 2"));
	CHECK(parse_fails_with("path \"a\" {\n capabilities = [\"reed\"] }", "line 2: "));
}

/* A store over a fresh, initialized barrier in a temporary directory. */
struct fixture {
	char dir[64];
	char db[128];
	struct storage *st;
	struct barrier *b;
	struct policy_store *ps;
};

static int fixture_init(struct fixture *f)
{
	uint8_t root_key[COFFER_KEY_LEN];
	int rc;

	memset(f, 0, sizeof(*f));
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "policy") != 0 ||
	    testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	coffer_random(root_key, sizeof(root_key));
	rc = barrier_initialize(f->b, root_key);
	secmem_wipe(root_key, sizeof(root_key));
	if (rc != 0 || policy_store_new(f->b, &f->ps) != 0)
		return -1;
	return policy_store_setup(f->ps);
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	policy_store_free(f->ps);
	f->ps = NULL;
	testutil_close_barrier(&f->st, &f->b);
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
}

static char put_err[256];

static int put(struct fixture *f, const char *name, const char *text)
{
	return policy_store_put(f->ps, name, text, strlen(text), put_err, sizeof(put_err));
}

/* The capabilities on path of the ACL of the comma-separated names. */
static unsigned caps_for(struct fixture *f, const char *names, const char *path)
{
	json_t *list = json_array();
	struct acl *acl = NULL;
	char buf[256], *save = NULL, *tok;
	unsigned caps = 0xffff;

	snprintf(buf, sizeof(buf), "%s", names);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(list, json_string(tok));
	if (policy_store_acl(f->ps, list, &acl) == 0)
		caps = acl_capabilities(acl, path);
	acl_release(acl);
	json_decref(list);
	return caps;
}

static void test_store_round_trip(void)
{
	const char *text = "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n";
	struct fixture f = {0};
	json_t *names = NULL;
	char *raw = NULL, err[128];
	bool is_ok;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put(&f, "Team-A", text), 0);
	CHECK_OUT(policy_store_exists(f.ps, "team-a"));
	CHECK_EQ_OUT(policy_store_get(f.ps, "TEAM-a", &raw), 0);
	is_ok = strcmp(raw, text) == 0;
	free(raw);
	raw = NULL;
	CHECK_OUT(is_ok);
	CHECK_EQ_OUT(policy_store_list(f.ps, &names), 0);
	raw = coffer_json_dump(names);
	is_ok = strcmp(raw, "[\"default\",\"root\",\"team-a\"]") == 0;
	coffer_json_free_text(raw);
	raw = NULL;
	json_decref(names);
	names = NULL;
	CHECK_OUT(is_ok);
	CHECK_EQ_OUT(policy_store_delete(f.ps, "team-a", err, sizeof(err)), 0);
	CHECK_EQ_OUT(policy_store_get(f.ps, "team-a", &raw), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(!policy_store_exists(f.ps, "team-a"));
	CHECK_EQ_OUT(policy_store_delete(f.ps, "team-a", err, sizeof(err)), 0);
	CHECK_EQ_OUT(policy_store_get(f.ps, "bad name!", &raw), COFFER_ERR_NOT_FOUND);
out:
	json_decref(names);
	free(raw);
	fixture_destroy(&f);
}

static void test_store_rejects_bad_names_and_documents(void)
{
	struct fixture f = {0};
	char err[256], *raw = NULL, longname[POLICY_NAME_MAX + 2];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(policy_store_put(f.ps, "a/b", "", 0, err, sizeof(err)), COFFER_ERR_INVALID);
	CHECK_OUT(strstr(err, "invalid policy name") != NULL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_OUT(policy_store_put(f.ps, longname, "", 0, err, sizeof(err)), COFFER_ERR_INVALID);
	longname[POLICY_NAME_MAX] = '\0';
	CHECK_EQ_OUT(policy_store_put(f.ps, longname, "", 0, err, sizeof(err)), 0);
	CHECK_EQ_OUT(put(&f, "p", "path \"a\" {\n\n capabilities = [\"reed\"] }"),
	             COFFER_ERR_INVALID);
	CHECK_OUT(strstr(put_err, "line 3: unknown capability \"reed\"") == put_err);
	CHECK_EQ_OUT(policy_store_get(f.ps, "p", &raw), COFFER_ERR_NOT_FOUND);
out:
	free(raw);
	fixture_destroy(&f);
}

static void test_store_root_is_built_in_and_immutable(void)
{
	struct fixture f = {0};
	char err[256], *raw = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(policy_store_put(f.ps, "Root", "", 0, err, sizeof(err)), COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(err, "cannot update root policy") == 0);
	CHECK_EQ_OUT(policy_store_delete(f.ps, "root", err, sizeof(err)), COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(err, "cannot delete root policy") == 0);
	CHECK_OUT(policy_store_exists(f.ps, "root"));
	CHECK_EQ_OUT(policy_store_get(f.ps, "root", &raw), 0);
	CHECK_OUT(raw[0] == '\0');
	free(raw);
	raw = NULL;
	CHECK_EQ_OUT(caps_for(&f, "default,root", "sys/rotate"), ACL_CAP_ALL);
out:
	free(raw);
	fixture_destroy(&f);
}

static void test_store_default_is_created_and_kept(void)
{
	struct fixture f = {0};
	char err[256], *raw = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_OUT(policy_store_exists(f.ps, "default"));
	CHECK_EQ_OUT(policy_store_get(f.ps, "default", &raw), 0);
	free(raw);
	raw = NULL;
	CHECK_EQ_OUT(caps_for(&f, "default", "auth/token/lookup-self"), ACL_CAP_READ);
	CHECK_EQ_OUT(caps_for(&f, "default", "sys/capabilities-self"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(caps_for(&f, "default", "sys/watch"), ACL_CAP_UPDATE);
	CHECK_EQ_OUT(caps_for(&f, "default", "secret/data/x"), 0);
	CHECK_EQ_OUT(policy_store_delete(f.ps, "default", err, sizeof(err)), COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(err, "cannot delete default policy") == 0);
	/* default can be edited, and setup (every unseal) keeps the edit. */
	CHECK_EQ_OUT(put(&f, "default", "path \"x\" { capabilities = [\"read\"] }"), 0);
	CHECK_EQ_OUT(policy_store_setup(f.ps), 0);
	CHECK_EQ_OUT(caps_for(&f, "default", "x"), ACL_CAP_READ);
	CHECK_EQ_OUT(caps_for(&f, "default", "sys/watch"), 0);
out:
	free(raw);
	fixture_destroy(&f);
}

static void test_store_acl_reflects_policy_changes(void)
{
	struct fixture f = {0};
	struct acl *before = NULL, *again = NULL;
	json_t *names = json_pack("[s]", "app");
	char err[128];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put(&f, "app", "path \"secret/*\" { capabilities = [\"read\"] }"), 0);
	CHECK_EQ_OUT(policy_store_acl(f.ps, names, &before), 0);
	CHECK_EQ_OUT(policy_store_acl(f.ps, names, &again), 0);
	CHECK_OUT(before == again); /* served from the cache */
	acl_release(again);
	again = NULL;
	CHECK_EQ_OUT(acl_capabilities(before, "secret/x"), ACL_CAP_READ);
	CHECK_EQ_OUT(put(&f, "app", "path \"secret/*\" { capabilities = [\"update\"] }"), 0);
	CHECK_EQ_OUT(caps_for(&f, "app", "secret/x"), ACL_CAP_UPDATE);
	/* An ACL held across the change still answers from what it was built from. */
	CHECK_EQ_OUT(acl_capabilities(before, "secret/x"), ACL_CAP_READ);
	acl_release(before);
	before = NULL;
	CHECK_EQ_OUT(policy_store_delete(f.ps, "app", err, sizeof(err)), 0);
	CHECK_EQ_OUT(caps_for(&f, "app", "secret/x"), 0);
	/* A policy created after an ACL of its name was cached is seen. */
	CHECK_EQ_OUT(put(&f, "app", "path \"secret/*\" { capabilities = [\"list\"] }"), 0);
	CHECK_EQ_OUT(caps_for(&f, "app", "secret/x"), ACL_CAP_LIST);
	/* After a flush (seal), policies are read back from the barrier. */
	policy_store_flush(f.ps);
	CHECK_EQ_OUT(caps_for(&f, "app", "secret/x"), ACL_CAP_LIST);
out:
	acl_release(again);
	acl_release(before);
	fixture_destroy(&f);
	json_decref(names);
}

static void test_store_acl_key_ignores_order_case_and_repeats(void)
{
	struct fixture f = {0};
	struct acl *a = NULL, *b = NULL;
	json_t *n1 = json_pack("[s,s]", "a", "b");
	json_t *n2 = json_pack("[s,s,s,s,i]", "B", "a", "A", "bad name", 5);
	bool is_same;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put(&f, "a", "path \"x\" { capabilities = [\"read\"] }"), 0);
	CHECK_EQ_OUT(put(&f, "b", "path \"x\" { capabilities = [\"list\"] }"), 0);
	CHECK_EQ_OUT(policy_store_acl(f.ps, n1, &a), 0);
	CHECK_EQ_OUT(policy_store_acl(f.ps, n2, &b), 0);
	is_same = a == b && acl_capabilities(a, "x") == (ACL_CAP_READ | ACL_CAP_LIST);
	acl_release(a);
	a = NULL;
	acl_release(b);
	b = NULL;
	CHECK_OUT(is_same);
	CHECK_EQ_OUT(caps_for(&f, "", "x"), 0);
out:
	acl_release(b);
	acl_release(a);
	fixture_destroy(&f);
	json_decref(n2);
	json_decref(n1);
}

struct race {
	struct fixture *f;
	int n_bad;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned caps;
	int i;

	for (i = 0; i < 2000; i++) {
		caps = caps_for(r->f, "race,default", "secret/x");
		if (caps != ACL_CAP_READ && caps != ACL_CAP_UPDATE)
			__atomic_add_fetch(&r->n_bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_store_acl_is_safe_under_concurrent_writes(void)
{
	static const char *const docs[] = {"path \"secret/*\" { capabilities = [\"read\"] }",
	                                   "path \"secret/*\" { capabilities = [\"update\"] }"};
	struct fixture f = {0};
	struct race r = {&f, 0};
	pthread_t t[4];
	int i, n_started = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put(&f, "race", docs[0]), 0);
	for (i = 0; i < 4; i++) {
		CHECK_EQ_OUT(pthread_create(&t[i], NULL, race_reader, &r), 0);
		n_started++;
	}
	for (i = 0; i < 40; i++)
		CHECK_EQ_OUT(put(&f, "race", docs[i % 2]), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	n_started = 0;
	CHECK_EQ_OUT(r.n_bad, 0);
	CHECK_EQ_OUT(caps_for(&f, "race", "secret/x"), ACL_CAP_UPDATE);
out:
	/* The readers use the store: join those still running before it goes. */
	while (n_started > 0)
		pthread_join(t[--n_started], NULL);
	fixture_destroy(&f);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_acl_exact_rule_matches_only_its_path);
	RUN(test_acl_glob_is_a_prefix_match);
	RUN(test_acl_plus_matches_exactly_one_segment);
	RUN(test_acl_exact_rule_beats_wildcards);
	RUN(test_acl_priority_later_first_wildcard_wins);
	RUN(test_acl_priority_no_trailing_glob_wins);
	RUN(test_acl_priority_fewer_plus_segments_win);
	RUN(test_acl_priority_longer_pattern_wins);
	RUN(test_acl_priority_lexicographically_larger_wins);
	RUN(test_acl_unions_capabilities_across_policies);
	RUN(test_acl_deny_wins_across_policies);
	RUN(test_acl_most_specific_deny_wins_inside_a_policy);
	RUN(test_acl_denies_by_default);
	RUN(test_acl_root_grants_everything);
	RUN(test_acl_outlives_the_policies_it_was_built_from);
	RUN(test_capability_names_are_sorted);
	RUN(test_json_form_is_compiled);
	RUN(test_json_form_errors_are_clear);
	RUN(test_store_round_trip);
	RUN(test_store_rejects_bad_names_and_documents);
	RUN(test_store_root_is_built_in_and_immutable);
	RUN(test_store_default_is_created_and_kept);
	RUN(test_store_acl_reflects_policy_changes);
	RUN(test_store_acl_key_ignores_order_case_and_repeats);
	RUN(test_store_acl_is_safe_under_concurrent_writes);
	return test_summary();
}
