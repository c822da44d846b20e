/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_fields.h: the token settings of an auth method's roles (Vault's tokenutil fields:
 * token_ttl, token_max_ttl, token_explicit_max_ttl, token_period, token_num_uses,
 * token_policies, token_bound_cidrs, token_no_default_policy, token_type) kept in a role's JSON
 * object under those names: defaults, a write's body applied with the legacy aliases, the read
 * echo, and the token parameters of a login and the limits of a renewal. Also the field table
 * that applies them, for an auth method's own settings (AppRole's secret_id_*). Used by the auth
 * methods in server/identity/<name>/.
 */
#ifndef COFFER_TOKEN_FIELDS_H
#define COFFER_TOKEN_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct mount_entry;
struct token_params;
struct token_renew_limits;

/* The answer of token_fields_apply() when token_ttl is over token_max_ttl (Vault's wording in
 * its kubernetes and jwt methods; an engine may answer with its own, as AppRole does). */
#define TOKEN_FIELDS_MSG_TTL_OVER_MAX "token ttl should not be greater than token max ttl"

/* ---- the token_* fields ---- */

/* Put every token_* field at its default into role (token_ttl 0, token_max_ttl 0,
 * token_explicit_max_ttl 0, token_period 0, token_num_uses 0, token_policies [],
 * token_bound_cidrs [], token_no_default_policy false, token_type "default"). */
void token_fields_defaults(json_t *role);
/*
 * Apply the token_* fields of body to role; a field absent (or null) in body keeps its value. A
 * legacy alias is read when the token_ name is absent: policies, ttl, max_ttl, period, num_uses,
 * bound_cidrs. Durations are integer seconds or duration strings ("1h"); lists are arrays or
 * comma-separated strings; policies are trimmed, lower-cased, sorted and unique; CIDRs are
 * validated. token_type is "default" (or ""), "service", or "batch", which is refused: the token
 * store has no batch tokens. Returns NULL, or the message of a 400 (a constant, or msg (cap
 * bytes) when it names the field): "invalid value for token_ttl", "'token_ttl' cannot be
 * negative", "invalid 'token_type' value \"x\"", "batch tokens are not supported",
 * TOKEN_FIELDS_MSG_TTL_OVER_MAX. After a refusal role may be partly changed: discard it.
 */
const char *token_fields_apply(const json_t *body, json_t *role, char *msg, size_t cap);
/* Copy the token_* fields of role into data for a role read; the legacy keys (policies, ttl,
 * max_ttl, period, num_uses, bound_cidrs) only when set (non-zero or non-empty), as Vault echoes
 * them. */
void token_fields_read(const json_t *role, json_t *data);
/* Fill the TTL and policy part of p from role and the mount m (req->mount): ttl_s (0: the
 * mount's default), max_ttl_s (0: the mount's max), explicit_max_ttl_s, period_s, num_uses,
 * policies and bound_cidrs (borrowed from role: keep role until the token is created; NULL when
 * empty), no_default_policy, and is_renewable = true. Does not set path, meta or display_name. */
void token_fields_params(const json_t *role, const struct mount_entry *m, struct token_params *p);
/* A renewal's limits from role (an engine's renew hook): its token_ttl, token_max_ttl and
 * token_period as they are now (0 = the mount's default, the mount's max, no period). */
void token_fields_limits(const json_t *role, struct token_renew_limits *lim);

/* ---- a table of role fields ---- */

enum token_field_kind {
	TOKEN_FIELD_BOOL,
	TOKEN_FIELD_COUNT,    /* an integer >= 0 */
	TOKEN_FIELD_DURATION, /* seconds >= 0: an integer or a duration string */
	TOKEN_FIELD_CIDRS,    /* a list of valid CIDR blocks */
	TOKEN_FIELD_NAMES     /* a list of names: lower-cased, sorted, unique */
};

/* A role setting: its name in the API and in storage, a legacy alias read when the name is
 * absent (or NULL), its kind, and its default (bools and numbers; lists start empty). */
struct token_field {
	const char *name;
	const char *legacy;
	enum token_field_kind kind;
	int64_t dflt;
};

/* Put each field of the table (n entries) at its default into role. */
void token_field_table_defaults(const struct token_field *t, size_t n, json_t *role);
/* Apply the fields of the table present in body to role, as token_fields_apply() does; NULL, or
 * the message of a 400 naming the first bad field ("invalid value for NAME", "'NAME' cannot be
 * negative"), written into msg (cap bytes). */
const char *token_field_table_apply(const struct token_field *t, size_t n, const json_t *body,
                                    json_t *role, char *msg, size_t cap);

#endif
