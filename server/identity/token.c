/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c: tokens as the rest of the server uses them (DESIGN.md §4): setup at unseal (root token
 * adoption, lease scheduling), authentication with use counts, creation and renewal, over the
 * store of token_store.c. Called by core.c, token_routes.c, approle.c and lease_routes.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "codec.h"
#include "json.h"
#include "log.h"
#include "identity/lease.h"
#include "secmem.h"
#include "identity/token_int.h"
#include "xmalloc.h"

static int token_adopt_root(struct token_store *ts)
{
	struct token_entry *e = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	err = barrier_get(ts->b, TOKEN_PENDING_ROOT_PATH, &buf, &len);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0)
		return err;
	err = COFFER_ERR_INTEGRITY;
	if (len != COFFER_MAC_LEN)
		goto out;
	err = COFFER_ERR_INTERNAL;
	e = token_entry_new(buf, coffer_clock_now_s());
	if (e == NULL)
		goto out;
	e->policies = json_pack("[s]", "root");
	e->display_name = xstrdup("root");
	e->path = xstrdup("auth/token/root");
	e->is_root = true;
	e->is_orphan = true;
	err = token_persist_new(ts, e, TOKEN_PENDING_ROOT_PATH);
	if (err == 0)
		log_info("adopted the initial root token (accessor %s)", e->accessor);
out:
	token_entry_release(e);
	secmem_freezero(buf, len);
	return err;
}

/* Give every stored token with an expiry to the lease manager (and a lease nonce to those stored
 * before lease ids had one). */
static int token_schedule_all(struct token_store *ts)
{
	char **keys = NULL;
	size_t n = 0;
	int err;

	err = barrier_list(ts->b, TOKEN_STORE_PREFIX TOKEN_DIR_ID, &keys, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		struct token_entry *e = NULL;
		int lerr = token_load_hex(ts, keys[i], &e);

		if (lerr != 0) {
			log_warn("token store: cannot load entry %.12s: %s", keys[i],
			         coffer_strerror(lerr));
			continue;
		}
		err = token_lease_migrate(ts, &e);
		if (err == 0)
			err = token_track(ts, e);
		token_entry_release(e);
	}
	barrier_list_free(keys, n);
	return err;
}

int token_store_setup(struct token_store *ts)
{
	int err;

	token_store_flush(ts);
	pthread_mutex_lock(&ts->mu);
	err = token_adopt_root(ts);
	if (err == 0)
		err = token_schedule_all(ts);
	pthread_mutex_unlock(&ts->mu);
	return err;
}

/* ---- the request path ---- */

/* Count one use of e (ts->mu held): *out is the entry with the use counted, and the token is
 * revoked when that was its last use. */
static int token_count_use(struct token_store *ts, const struct token_entry *e,
                           struct token_entry **out)
{
	struct token_entry *cur = NULL, *next = NULL;
	int err;

	*out = NULL;
	/* The cache may lag behind another thread's count: storage is the authority. */
	err = token_load(ts, e->hash, &cur);
	if (err != 0)
		return err == COFFER_ERR_NOT_FOUND ? COFFER_ERR_PERMISSION : err;
	err = COFFER_ERR_PERMISSION;
	if (token_is_expired(cur, coffer_clock_now_s()) || cur->num_uses <= 0)
		goto out;
	next = token_entry_dup(cur);
	next->num_uses--;
	if (next->num_uses == 0)
		err = token_revoke_locked(ts, cur->hash_hex, false);
	else if ((err = token_persist_update(ts, next)) == 0)
		token_cache_invalidate(ts, next->hash);
	if (err == 0) {
		*out = next;
		next = NULL;
	}
out:
	token_entry_release(next);
	token_entry_release(cur);
	return err;
}

int token_authenticate(struct token_store *ts, const char *token, const char *remote_addr,
                       struct token_entry **out)
{
	struct token_entry *e = NULL;
	int err;

	*out = NULL;
	err = token_get_text(ts, token, &e);
	if (err == COFFER_ERR_NOT_FOUND || err == COFFER_ERR_INVALID)
		err = COFFER_ERR_PERMISSION;
	if (err != 0)
		goto out;
	if (token_is_expired(e, coffer_clock_now_s()) || !token_addr_allowed(e, remote_addr)) {
		err = COFFER_ERR_PERMISSION;
		goto out;
	}
	if (e->num_uses > 0) {
		struct token_entry *counted = NULL;

		pthread_mutex_lock(&ts->mu);
		err = token_count_use(ts, e, &counted);
		pthread_mutex_unlock(&ts->mu);
		token_entry_release(e);
		e = counted;
		if (err != 0)
			goto out;
	}
	*out = e;
	e = NULL;
out:
	token_entry_release(e);
	return err;
}

/* ---- create ---- */

/* Insert name into the sorted array arr unless present. */
static void token_policies_add(json_t *arr, const char *name)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		int c = strcmp(json_string_value(json_array_get(arr, i)), name);

		if (c == 0)
			return;
		if (c > 0)
			break;
	}
	json_array_insert_new(arr, i, json_string(name));
}

static bool token_policies_has(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

/* The sorted, unique policies of a new token: p->policies, plus "default" unless asked not to
 * or the token has "root". */
static int token_policies_build(const struct token_params *p, json_t **out)
{
	json_t *arr = json_array(), *v;
	int err = 0;
	size_t i;

	if (p->policies != NULL && !json_is_array(p->policies))
		err = COFFER_ERR_INVALID;
	json_array_foreach(p->policies, i, v)
	{
		if (err != 0)
			break;
		if (!json_is_string(v) || json_string_length(v) == 0)
			err = COFFER_ERR_INVALID;
		else
			token_policies_add(arr, json_string_value(v));
	}
	if (err == 0 && !p->no_default_policy && !token_policies_has(arr, "root"))
		token_policies_add(arr, "default");
	if (err != 0) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return 0;
}

/* Everything of a new entry that comes from p (the parent is set under the store's lock). */
static int token_fill(struct token_entry *e, const struct token_params *p)
{
	int64_t ttl;
	int err;

	if (p->ttl_s < 0 || p->max_ttl_s < 0 || p->explicit_max_ttl_s < 0 || p->period_s < 0 ||
	    p->num_uses < 0)
		return COFFER_ERR_INVALID;
	if ((err = token_policies_build(p, &e->policies)) != 0)
		return err;
	e->is_root = token_policies_has(e->policies, "root");
	if (p->meta != NULL) {
		if (!coffer_json_is_string_map(p->meta))
			return COFFER_ERR_INVALID;
		json_decref(e->meta);
		e->meta = json_deep_copy(p->meta);
	}
	if (p->bound_cidrs != NULL) {
		if (!token_cidrs_are_valid(p->bound_cidrs))
			return COFFER_ERR_INVALID;
		e->bound_cidrs = json_deep_copy(p->bound_cidrs);
	}
	e->display_name = xstrdup(p->display_name != NULL ? p->display_name : "token");
	e->path = xstrdup(p->path != NULL ? p->path : "auth/token/create");
	e->role = p->role != NULL ? xstrdup(p->role) : NULL;
	ttl = token_compute_ttl(p->ttl_s, p->max_ttl_s, p->explicit_max_ttl_s, p->period_s,
	                        e->is_root);
	e->creation_ttl_s = ttl;
	e->ttl_s = ttl;
	token_set_expiry(e, coffer_clock_now_ms(), ttl);
	e->explicit_max_ttl_s = p->explicit_max_ttl_s;
	e->period_s = p->period_s;
	e->num_uses = p->num_uses;
	e->max_ttl_s = p->max_ttl_s;
	e->is_renewable = p->is_renewable;
	return 0;
}

/* The text of a new token: p->id (1..256 printable characters) or a random one, in secmem. */
static int token_new_text(const struct token_params *p, char **out)
{
	size_t len;

	*out = NULL;
	if (p->id == NULL) {
		*out = token_text_generate();
		return *out != NULL ? 0 : COFFER_ERR_INTERNAL;
	}
	len = strnlen(p->id, TOKEN_TEXT_MAX + 1);
	if (len == 0 || len > TOKEN_TEXT_MAX)
		return COFFER_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p->id[i] <= ' ' || p->id[i] == 0x7f)
			return COFFER_ERR_INVALID;
	}
	*out = xsecmem_strdup(p->id);
	return 0;
}

/* Link e to p->parent and persist it (ts->mu held). A parent revoked since the caller
 * authenticated is refused; a text already in use is COFFER_ERR_EXISTS. */
static int token_create_locked(struct token_store *ts, const struct token_params *p,
                               struct token_entry *e)
{
	struct token_entry *other = NULL;
	int err;

	err = token_load(ts, e->hash, &other);
	token_entry_release(other);
	if (err == 0)
		return COFFER_ERR_EXISTS;
	if (err != COFFER_ERR_NOT_FOUND)
		return err;
	e->is_orphan = true;
	if (p->parent != NULL) {
		err = token_load(ts, p->parent->hash, &other);
		if (err == 0 && token_is_expired(other, coffer_clock_now_s()))
			err = COFFER_ERR_NOT_FOUND;
		token_entry_release(other);
		if (err != 0)
			return err == COFFER_ERR_NOT_FOUND ? COFFER_ERR_PERMISSION : err;
		snprintf(e->parent_hex, sizeof(e->parent_hex), "%s", p->parent->hash_hex);
		e->is_orphan = false;
	}
	err = token_persist_new(ts, e, NULL);
	if (err == 0)
		err = token_track(ts, e);
	return err;
}

int token_create(struct token_store *ts, const struct token_params *p, char **token_text,
                 struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	struct token_entry *e = NULL;
	char *text = NULL;
	int err;

	*token_text = NULL;
	*out = NULL;
	if ((err = token_new_text(p, &text)) != 0)
		goto out;
	if ((err = token_hash_text(ts, text, hash)) != 0)
		goto out;
	err = COFFER_ERR_INTERNAL;
	if ((e = token_entry_new(hash, coffer_clock_now_s())) == NULL)
		goto out;
	if ((err = token_fill(e, p)) != 0)
		goto out;
	pthread_mutex_lock(&ts->mu);
	err = token_create_locked(ts, p, e);
	pthread_mutex_unlock(&ts->mu);
	if (err != 0)
		goto out;
	*token_text = text;
	text = NULL;
	*out = e;
	e = NULL;
out:
	secmem_wipe(hash, sizeof(hash));
	secmem_free(text);
	token_entry_release(e);
	return err;
}

/* ---- renew ---- */

/* Ask the renew hook about e: 0 with *lim, COFFER_ERR_NOT_FOUND for the token's own settings,
 * COFFER_ERR_INVALID with msg for a refusal, or a failure. Called without ts->mu: the hook reads
 * the auth method's storage and the mount table. */
static int token_renew_limits_get(struct token_store *ts, const struct token_entry *e,
                                  struct token_renew_limits *lim, char *msg, size_t cap)
{
	int err;

	*lim = (struct token_renew_limits){0};
	if (ts->renew_hook == NULL)
		return COFFER_ERR_NOT_FOUND;
	err = ts->renew_hook(ts->renew_arg, e, lim, msg, cap);
	if (err == COFFER_ERR_INVALID && msg[0] == '\0')
		snprintf(msg, cap, "renewal refused by the auth method");
	return err;
}

/* The auth method's limits in place of next's own: its period, its max TTL, and its TTL as the
 * renewal's default increment (0: the max, as at creation). */
static void token_renew_apply_limits(struct token_entry *next, const struct token_renew_limits *lim)
{
	next->period_s = lim->period_s;
	next->max_ttl_s = lim->max_ttl_s;
	next->ttl_s = lim->ttl_s > 0
	                  ? lim->ttl_s
	                  : (lim->max_ttl_s > 0 ? lim->max_ttl_s : TOKEN_SYSTEM_MAX_TTL_S);
}

int token_renew(struct token_store *ts, const struct token_entry *e, int64_t increment_s,
                struct token_entry **out, char *msg, size_t cap)
{
	struct token_entry *cur = NULL, *next = NULL;
	struct token_renew_limits lim;
	int64_t now = coffer_clock_now_s(), base, exp;
	bool has_limits = false;
	int err;

	*out = NULL;
	if (cap > 0)
		msg[0] = '\0';
	if (increment_s < 0 || !e->is_renewable)
		return COFFER_ERR_INVALID;
	err = token_renew_limits_get(ts, e, &lim, msg, cap);
	if (err != 0 && err != COFFER_ERR_NOT_FOUND)
		return err;
	has_limits = err == 0;
	pthread_mutex_lock(&ts->mu);
	if ((err = token_load(ts, e->hash, &cur)) != 0)
		goto out;
	err = COFFER_ERR_NOT_FOUND;
	if (token_is_expired(cur, now))
		goto out;
	err = COFFER_ERR_INVALID;
	if (!cur->is_renewable)
		goto out;
	next = token_entry_dup(cur);
	if (has_limits)
		token_renew_apply_limits(next, &lim);
	base = coffer_clock_now_ms();
	/* The renewal is computed in whole seconds from now and kept exact from base. */
	exp = token_compute_renewal(next, increment_s, base / 1000);
	next->ttl_s = exp != 0 && exp > base / 1000 ? exp - base / 1000 : 0;
	token_set_expiry(next, base, next->ttl_s);
	next->last_renewal_time = now;
	if ((err = token_persist_update(ts, next)) != 0)
		goto out;
	token_cache_invalidate(ts, next->hash);
	err = token_track(ts, next);
	*out = next;
	next = NULL;
out:
	pthread_mutex_unlock(&ts->mu);
	token_entry_release(next);
	token_entry_release(cur);
	return err;
}
