/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_token_fields.c: the token_* role fields of auth methods (identity/token_fields.c):
 * defaults, legacy aliases, comma strings and durations, Vault's validation messages, the read
 * echo of the legacy names, a login's token parameters from the mount's defaults, and the field
 * table an engine uses for its own settings.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api/engine.h"
#include "identity/token.h"
#include "identity/token_fields.h"
#include "json.h"
#include "test.h"

static int64_t num(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static bool names_are(const json_t *arr, const char *a, const char *b, const char *c)
{
	const char *want[3] = {a, b, c};
	size_t i, n = c != NULL ? 3 : b != NULL ? 2 : a != NULL ? 1 : 0;

	if (!json_is_array(arr) || json_array_size(arr) != n)
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp(json_string_value(json_array_get(arr, i)), want[i]) != 0)
			return false;
	}
	return true;
}

/* The message of applying body (JSON text) to a role with defaults, into msg; "" when none. */
static const char *apply_msg(const char *body_text, char *msg, size_t cap)
{
	json_t *body = json_loads(body_text, 0, NULL), *role = json_object();
	char buf[128];
	const char *err;

	token_fields_defaults(role);
	err = body != NULL ? token_fields_apply(body, role, buf, sizeof(buf)) : "bad test JSON";
	snprintf(msg, cap, "%s", err != NULL ? err : "");
	json_decref(role);
	json_decref(body);
	return msg;
}

static void test_defaults_put_every_field(void)
{
	json_t *role = json_object();

	token_fields_defaults(role);
	CHECK_OUT(json_object_size(role) == 9);
	CHECK_OUT(num(role, "token_ttl") == 0 && num(role, "token_max_ttl") == 0);
	CHECK_OUT(num(role, "token_explicit_max_ttl") == 0 && num(role, "token_period") == 0);
	CHECK_OUT(json_is_integer(json_object_get(role, "token_num_uses")));
	CHECK_OUT(names_are(json_object_get(role, "token_policies"), NULL, NULL, NULL));
	CHECK_OUT(names_are(json_object_get(role, "token_bound_cidrs"), NULL, NULL, NULL));
	CHECK_OUT(json_is_false(json_object_get(role, "token_no_default_policy")));
	CHECK_OUT(strcmp(json_string_value(json_object_get(role, "token_type")), "default") == 0);
out:
	json_decref(role);
}

static void test_apply_durations_lists_and_policies_as_vault(void)
{
	json_t *role = json_object(),
	       *body = json_pack("{s:s,s:i,s:s,s:s,s:s,s:b,s:s,s:i}", "token_ttl", "1h",
	                         "token_max_ttl", 7200, "token_policies", " Web, app,web,,",
	                         "token_bound_cidrs", "10.0.0.0/8, 127.0.0.1",
	                         "token_explicit_max_ttl", "90m", "token_no_default_policy", 1,
	                         "token_type", "service", "token_num_uses", 4);
	char msg[128];

	token_fields_defaults(role);
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	CHECK_EQ_OUT(num(role, "token_ttl"), 3600);
	CHECK_EQ_OUT(num(role, "token_max_ttl"), 7200);
	CHECK_EQ_OUT(num(role, "token_explicit_max_ttl"), 5400);
	CHECK_EQ_OUT(num(role, "token_num_uses"), 4);
	CHECK_OUT(names_are(json_object_get(role, "token_policies"), "app", "web", NULL));
	CHECK_OUT(
	    names_are(json_object_get(role, "token_bound_cidrs"), "10.0.0.0/8", "127.0.0.1", NULL));
	CHECK_OUT(json_is_true(json_object_get(role, "token_no_default_policy")));
	CHECK_OUT(strcmp(json_string_value(json_object_get(role, "token_type")), "service") == 0);
	/* A second write changes only what it names. */
	json_decref(body);
	body = json_pack("{s:[s,s]}", "token_policies", "b", "a");
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	CHECK_OUT(names_are(json_object_get(role, "token_policies"), "a", "b", NULL));
	CHECK_EQ_OUT(num(role, "token_ttl"), 3600);
	CHECK_EQ_OUT(num(role, "token_num_uses"), 4);
out:
	json_decref(body);
	json_decref(role);
}

static void test_legacy_aliases_apply_when_the_token_name_is_absent(void)
{
	json_t *role = json_object(),
	       *body = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "policies", "Admin,ops", "ttl", "10m",
	                         "max_ttl", "1h", "period", "5m", "num_uses", 2, "bound_cidrs",
	                         "192.168.0.0/16");
	char msg[128];

	token_fields_defaults(role);
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	CHECK_OUT(names_are(json_object_get(role, "token_policies"), "admin", "ops", NULL));
	CHECK_EQ_OUT(num(role, "token_ttl"), 600);
	CHECK_EQ_OUT(num(role, "token_max_ttl"), 3600);
	CHECK_EQ_OUT(num(role, "token_period"), 300);
	CHECK_EQ_OUT(num(role, "token_num_uses"), 2);
	CHECK_OUT(
	    names_are(json_object_get(role, "token_bound_cidrs"), "192.168.0.0/16", NULL, NULL));
	CHECK_OUT(json_object_get(role, "ttl") == NULL &&
	          json_object_get(role, "policies") == NULL);
	/* The token_ name wins over its alias. */
	json_decref(body);
	body = json_pack("{s:i,s:i,s:[s],s:n}", "token_ttl", 60, "ttl", 120, "policies", "x",
	                 "token_policies");
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	CHECK_EQ_OUT(num(role, "token_ttl"), 60);
	CHECK_OUT(names_are(json_object_get(role, "token_policies"), "x", NULL, NULL));
out:
	json_decref(body);
	json_decref(role);
}

static void test_apply_refuses_bad_values_with_vaults_messages(void)
{
	static const char *const cases[][2] = {
	    {"{\"token_ttl\":\"2h\",\"token_max_ttl\":\"1h\"}", TOKEN_FIELDS_MSG_TTL_OVER_MAX},
	    {"{\"ttl\":7200,\"max_ttl\":3600}", TOKEN_FIELDS_MSG_TTL_OVER_MAX},
	    {"{\"token_ttl\":-1}", "'token_ttl' cannot be negative"},
	    {"{\"token_num_uses\":-2}", "'token_num_uses' cannot be negative"},
	    {"{\"period\":-5}", "'token_period' cannot be negative"},
	    {"{\"token_ttl\":\"soon\"}", "invalid value for token_ttl"},
	    {"{\"token_policies\":{}}", "invalid value for token_policies"},
	    {"{\"token_bound_cidrs\":\"10.0.0.0/99\"}", "invalid value for token_bound_cidrs"},
	    {"{\"bound_cidrs\":[\"nope\"]}", "invalid value for token_bound_cidrs"},
	    {"{\"token_no_default_policy\":\"maybe\"}",
	     "invalid value for token_no_default_policy"},
	    {"{\"token_type\":\"batch\"}", "batch tokens are not supported"},
	    {"{\"token_type\":\"odd\"}", "invalid 'token_type' value \"odd\""},
	    {"{\"token_type\":5}", "invalid value for token_type"},
	    /* A max of 0 is the mount's: any ttl goes. */
	    {"{\"token_ttl\":\"2h\",\"token_max_ttl\":0}", ""},
	    {"{\"token_type\":\"\"}", ""},
	};
	char msg[160];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		apply_msg(cases[i][0], msg, sizeof(msg));
		if (strcmp(msg, cases[i][1]) != 0)
			fprintf(stderr, "%s: got \"%s\"\n", cases[i][0], msg);
		CHECK(strcmp(msg, cases[i][1]) == 0);
	}
}

static void test_read_echoes_legacy_names_only_when_set(void)
{
	json_t *role = json_object(), *data = json_object(),
	       *body = json_pack("{s:s,s:i}", "token_policies", "a", "token_ttl", 60);
	char msg[128];

	token_fields_defaults(role);
	token_fields_read(role, data);
	CHECK_OUT(json_object_size(data) == 9);
	CHECK_OUT(json_object_get(data, "policies") == NULL &&
	          json_object_get(data, "ttl") == NULL);
	CHECK_OUT(json_object_get(data, "period") == NULL);
	CHECK_OUT(json_object_get(data, "bound_cidrs") == NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(data, "token_type")), "default") == 0);
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	json_object_clear(data);
	token_fields_read(role, data);
	CHECK_OUT(names_are(json_object_get(data, "policies"), "a", NULL, NULL));
	CHECK_OUT(names_are(json_object_get(data, "token_policies"), "a", NULL, NULL));
	CHECK_EQ_OUT(num(data, "ttl"), 60);
	CHECK_EQ_OUT(num(data, "token_ttl"), 60);
	CHECK_OUT(json_object_get(data, "max_ttl") == NULL &&
	          json_object_get(data, "num_uses") == NULL);
	CHECK_EQ_OUT(num(data, "token_max_ttl"), 0);
out:
	json_decref(body);
	json_decref(data);
	json_decref(role);
}

static void test_params_take_the_mounts_defaults_for_zero(void)
{
	struct mount_entry m = {.default_lease_ttl_s = 300, .max_lease_ttl_s = 900};
	struct token_params p = {0};
	struct token_renew_limits lim = {0};
	json_t *role = json_object(),
	       *body = json_pack("{s:s,s:s,s:i,s:s}", "token_policies", "a,b", "token_period", "1m",
	                         "token_num_uses", 3, "token_explicit_max_ttl", "2h");
	char msg[128];

	token_fields_defaults(role);
	token_fields_params(role, &m, &p);
	CHECK_EQ_OUT(p.ttl_s, 300);
	CHECK_EQ_OUT(p.max_ttl_s, 900);
	CHECK_OUT(p.bound_cidrs == NULL);
	CHECK_OUT(p.is_renewable && !p.no_default_policy);
	CHECK_OUT(p.path == NULL && p.meta == NULL && p.display_name == NULL);
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	json_decref(body);
	body = json_pack("{s:i,s:i,s:[s]}", "token_ttl", 60, "token_max_ttl", 120,
	                 "token_bound_cidrs", "10.0.0.0/8");
	CHECK_OUT(token_fields_apply(body, role, msg, sizeof(msg)) == NULL);
	token_fields_params(role, &m, &p);
	CHECK_EQ_OUT(p.ttl_s, 60);
	CHECK_EQ_OUT(p.max_ttl_s, 120);
	CHECK_EQ_OUT(p.period_s, 60);
	CHECK_EQ_OUT(p.num_uses, 3);
	CHECK_EQ_OUT(p.explicit_max_ttl_s, 7200);
	CHECK_OUT(names_are(p.policies, "a", "b", NULL));
	CHECK_OUT(names_are(p.bound_cidrs, "10.0.0.0/8", NULL, NULL));
	token_fields_limits(role, &lim);
	CHECK_EQ_OUT(lim.ttl_s, 60);
	CHECK_EQ_OUT(lim.max_ttl_s, 120);
	CHECK_EQ_OUT(lim.period_s, 60);
out:
	json_decref(body);
	json_decref(role);
}

static void test_field_table_serves_an_engines_own_settings(void)
{
	static const struct token_field own[] = {
	    {"bind_secret_id", NULL, TOKEN_FIELD_BOOL, 1},
	    {"secret_id_bound_cidrs", "bound_cidr_list", TOKEN_FIELD_CIDRS, 0},
	    {"secret_id_ttl", NULL, TOKEN_FIELD_DURATION, 0},
	};
	json_t *role = json_object(), *body = json_pack("{s:s,s:s}", "bound_cidr_list",
	                                                "10.1.0.0/16", "secret_id_ttl", "10m");
	char msg[128];

	token_field_table_defaults(own, 3, role);
	CHECK_OUT(json_is_true(json_object_get(role, "bind_secret_id")));
	CHECK_OUT(json_object_size(role) == 3);
	CHECK_OUT(token_field_table_apply(own, 3, body, role, msg, sizeof(msg)) == NULL);
	CHECK_OUT(
	    names_are(json_object_get(role, "secret_id_bound_cidrs"), "10.1.0.0/16", NULL, NULL));
	CHECK_EQ_OUT(num(role, "secret_id_ttl"), 600);
	json_decref(body);
	body = json_pack("{s:i}", "secret_id_ttl", -1);
	CHECK_OUT(token_field_table_apply(own, 3, body, role, msg, sizeof(msg)) == msg);
	CHECK_OUT(strcmp(msg, "'secret_id_ttl' cannot be negative") == 0);
out:
	json_decref(body);
	json_decref(role);
}

int main(void)
{
	coffer_json_init();
	RUN(test_defaults_put_every_field);
	RUN(test_apply_durations_lists_and_policies_as_vault);
	RUN(test_legacy_aliases_apply_when_the_token_name_is_absent);
	RUN(test_apply_refuses_bad_values_with_vaults_messages);
	RUN(test_read_echoes_legacy_names_only_when_set);
	RUN(test_params_take_the_mounts_defaults_for_zero);
	RUN(test_field_table_serves_an_engines_own_settings);
	return test_summary();
}
