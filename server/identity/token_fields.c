/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_fields.c: the token_* settings of auth method roles (Vault's tokenutil) and the field
 * table that parses them and an engine's own role settings. The auth methods call it from their
 * role routes (write, read), their logins (the token's parameters) and their renew hooks (the
 * limits).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/token_fields.h"
#include "api/engine.h"
#include "cidr.h"
#include "json.h"
#include "identity/token.h"
#include "xmalloc.h"

/* The tokenutil fields, as Vault names them, with their legacy aliases. */
static const struct token_field token_fields[] = {
    {"token_ttl", "ttl", TOKEN_FIELD_DURATION, 0},
    {"token_max_ttl", "max_ttl", TOKEN_FIELD_DURATION, 0},
    {"token_explicit_max_ttl", NULL, TOKEN_FIELD_DURATION, 0},
    {"token_period", "period", TOKEN_FIELD_DURATION, 0},
    {"token_num_uses", "num_uses", TOKEN_FIELD_COUNT, 0},
    {"token_policies", "policies", TOKEN_FIELD_NAMES, 0},
    {"token_bound_cidrs", "bound_cidrs", TOKEN_FIELD_CIDRS, 0},
    {"token_no_default_policy", NULL, TOKEN_FIELD_BOOL, 0},
};
#define TOKEN_N_FIELDS (sizeof(token_fields) / sizeof(token_fields[0]))

static int64_t token_field_int(const json_t *role, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(role, key));
}

static int token_name_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	              json_string_value(*(json_t *const *)b));
}

/* Names as Vault keeps policies: lower-cased, sorted, unique (the list has no empty items). */
static json_t *token_field_names(const json_t *list)
{
	size_t i, n = json_array_size(list);
	json_t **items = xcalloc(n + 1, sizeof(*items)), *out = json_array();
	char *s;

	for (i = 0; i < n; i++) {
		s = xstrdup(json_string_value(json_array_get(list, i)));
		for (char *c = s; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		items[i] = json_string(s);
		free(s);
	}
	qsort(items, n, sizeof(*items), token_name_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && json_equal(items[i - 1], items[i]))
			json_decref(items[i]);
		else
			json_array_append_new(out, items[i]);
	}
	free(items);
	return out;
}

/* The key of a field in the body: its legacy alias when only that is given. */
static const char *token_field_key(const struct token_field *f, const json_t *body)
{
	const json_t *v = json_object_get(body, f->name);

	if (f->legacy != NULL && (v == NULL || json_is_null(v)))
		return f->legacy;
	return f->name;
}

/* One field from the body into role: NULL (set, or absent) or the message of a 400. */
static const char *token_field_apply(const struct token_field *f, const json_t *body, json_t *role,
                                     char *msg, size_t cap)
{
	const char *key = token_field_key(f, body);
	json_t *list = NULL;
	int64_t v = 0;
	bool b = false;
	int rc;

	switch (f->kind) {
	case TOKEN_FIELD_BOOL:
		if ((rc = coffer_json_get_bool(body, key, &b)) == 0)
			json_object_set_new(role, f->name, json_boolean(b));
		break;
	case TOKEN_FIELD_COUNT:
	case TOKEN_FIELD_DURATION:
		/* Before the getters, which refuse a negative duration without saying why. */
		if (json_number_value(json_object_get(body, key)) < 0) {
			snprintf(msg, cap, "'%s' cannot be negative", f->name);
			return msg;
		}
		rc = f->kind == TOKEN_FIELD_COUNT ? coffer_json_get_int(body, key, &v)
		                                  : coffer_json_get_duration(body, key, &v);
		if (rc == 0 && v < 0)
			rc = COFFER_ERR_INVALID;
		if (rc == 0)
			json_object_set_new(role, f->name, json_integer(v));
		break;
	default:
		rc = coffer_json_get_string_list(body, key, &list);
		if (rc == 0 && f->kind == TOKEN_FIELD_CIDRS && cidr_list_validate(list) != 0)
			rc = COFFER_ERR_INVALID;
		if (rc == 0)
			json_object_set_new(role, f->name,
			                    f->kind == TOKEN_FIELD_NAMES ? token_field_names(list)
			                                                 : json_incref(list));
		json_decref(list);
		break;
	}
	if (rc == 0 || rc == COFFER_ERR_NOT_FOUND)
		return NULL;
	snprintf(msg, cap, "invalid value for %s", f->name);
	return msg;
}

void token_field_table_defaults(const struct token_field *t, size_t n, json_t *role)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].kind == TOKEN_FIELD_BOOL)
			json_object_set_new(role, t[i].name, json_boolean(t[i].dflt));
		else if (t[i].kind == TOKEN_FIELD_COUNT || t[i].kind == TOKEN_FIELD_DURATION)
			json_object_set_new(role, t[i].name, json_integer(t[i].dflt));
		else
			json_object_set_new(role, t[i].name, json_array());
	}
}

const char *token_field_table_apply(const struct token_field *t, size_t n, const json_t *body,
                                    json_t *role, char *msg, size_t cap)
{
	const char *err;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((err = token_field_apply(&t[i], body, role, msg, cap)) != NULL)
			return err;
	}
	return NULL;
}

void token_fields_defaults(json_t *role)
{
	token_field_table_defaults(token_fields, TOKEN_N_FIELDS, role);
	json_object_set_new(role, "token_type", json_string("default"));
}

/* token_type: "" is "default"; batch tokens do not exist here (auth/token/create refuses them
 * with the same words). */
static const char *token_fields_type(const json_t *body, json_t *role, char *msg, size_t cap)
{
	const char *type = NULL;
	int rc = coffer_json_get_string(body, "token_type", &type);

	if (rc == COFFER_ERR_NOT_FOUND)
		return NULL;
	if (rc != 0)
		return "invalid value for token_type";
	if (type[0] == '\0')
		type = "default";
	if (strcmp(type, "batch") == 0)
		return "batch tokens are not supported";
	if (strcmp(type, "default") != 0 && strcmp(type, "service") != 0) {
		snprintf(msg, cap, "invalid 'token_type' value \"%.64s\"", type);
		return msg;
	}
	json_object_set_new(role, "token_type", json_string(type));
	return NULL;
}

const char *token_fields_apply(const json_t *body, json_t *role, char *msg, size_t cap)
{
	const char *err;
	int64_t ttl, max;

	if ((err = token_field_table_apply(token_fields, TOKEN_N_FIELDS, body, role, msg, cap)))
		return err;
	if ((err = token_fields_type(body, role, msg, cap)) != NULL)
		return err;
	ttl = token_field_int(role, "token_ttl");
	max = token_field_int(role, "token_max_ttl");
	if (max > 0 && ttl > max)
		return TOKEN_FIELDS_MSG_TTL_OVER_MAX;
	return NULL;
}

void token_fields_read(const json_t *role, json_t *data)
{
	const struct token_field *f;
	json_t *v;
	size_t i;

	for (i = 0; i < TOKEN_N_FIELDS; i++) {
		f = &token_fields[i];
		v = json_object_get(role, f->name);
		json_object_set(data, f->name, v);
		if (f->legacy == NULL)
			continue;
		if ((json_is_array(v) && json_array_size(v) > 0) || json_integer_value(v) > 0)
			json_object_set(data, f->legacy, v);
	}
	json_object_set(data, "token_type", json_object_get(role, "token_type"));
}

void token_fields_params(const json_t *role, const struct mount_entry *m, struct token_params *p)
{
	const json_t *cidrs = json_object_get(role, "token_bound_cidrs");

	p->policies = json_object_get(role, "token_policies");
	p->bound_cidrs = json_array_size(cidrs) > 0 ? cidrs : NULL;
	p->ttl_s = token_field_int(role, "token_ttl");
	if (p->ttl_s == 0)
		p->ttl_s = m->default_lease_ttl_s;
	p->max_ttl_s = token_field_int(role, "token_max_ttl");
	if (p->max_ttl_s == 0)
		p->max_ttl_s = m->max_lease_ttl_s;
	p->explicit_max_ttl_s = token_field_int(role, "token_explicit_max_ttl");
	p->period_s = token_field_int(role, "token_period");
	p->num_uses = token_field_int(role, "token_num_uses");
	p->no_default_policy = json_is_true(json_object_get(role, "token_no_default_policy"));
	p->is_renewable = true;
}

void token_fields_limits(const json_t *role, struct token_renew_limits *lim)
{
	lim->ttl_s = token_field_int(role, "token_ttl");
	lim->max_ttl_s = token_field_int(role, "token_max_ttl");
	lim->period_s = token_field_int(role, "token_period");
}
