/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_revoke.c: revocation of a token and its tree of children (or of the token alone, its
 * children made orphans) in one barrier batch, then the cache and the lease manager; and the
 * lease side of tokens: lookups through the lease index and lease nonces for entries from older
 * versions. Called by token.c (last use, setup), token_routes.c, lease.c and the lease manager.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "identity/lease.h"
#include "log.h"
#include "identity/token_int.h"
#include "xmalloc.h"

/* A growable list of malloc'd strings. */
struct token_strs {
	char **v;
	size_t n, cap;
};

static char *token_strs_addf(struct token_strs *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *token_strs_addf(struct token_strs *s, const char *fmt, ...)
{
	va_list ap;

	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? 2 * s->cap : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	va_start(ap, fmt);
	xvasprintf(&s->v[s->n], fmt, ap);
	va_end(ap);
	return s->v[s->n++];
}

static void token_strs_free(struct token_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* One batch that revokes a tree of tokens (or orphans the children of one). The op paths point
 * into paths; rewritten orphans' values into texts (freed with coffer_json_free_text). */
struct token_revocation {
	struct barrier_op *ops;
	size_t n_ops, cap_ops;
	struct token_strs paths;
	char **texts;
	size_t n_texts;
	struct token_strs revoked;   /* hashes (hex), in tree order: also the walk's queue */
	struct token_strs leases;    /* lease ids of the revoked tokens with an expiry */
	struct token_strs rewritten; /* hashes (hex) of the orphaned children */
};

static void token_rev_op(struct token_revocation *r, enum barrier_op_type type, char *value,
                         const char *path)
{
	char *p = token_strs_addf(&r->paths, "%s", path);

	if (r->n_ops == r->cap_ops) {
		r->cap_ops = r->cap_ops != 0 ? 2 * r->cap_ops : 16;
		r->ops = xreallocarray(r->ops, r->cap_ops, sizeof(*r->ops));
		r->texts = xreallocarray(r->texts, r->cap_ops, sizeof(*r->texts));
	}
	r->ops[r->n_ops++] =
	    (struct barrier_op){type, p, (const uint8_t *)value, value != NULL ? strlen(value) : 0};
	if (value != NULL)
		r->texts[r->n_texts++] = value;
}

static void token_rev_free(struct token_revocation *r)
{
	for (size_t i = 0; i < r->n_texts; i++)
		coffer_json_free_text(r->texts[i]);
	free(r->texts);
	free(r->ops);
	token_strs_free(&r->paths);
	token_strs_free(&r->revoked);
	token_strs_free(&r->leases);
	token_strs_free(&r->rewritten);
}

/* Delete e's entry, accessor and lease rows (and its row in its parent's index when
 * with_parent_row). */
static void token_rev_entry(struct token_revocation *r, const struct token_entry *e,
                            bool with_parent_row)
{
	char path[TOKEN_PATH_CAP];

	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", e->hash_hex);
	token_rev_op(r, BARRIER_DELETE, NULL, path);
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ACCESSOR "%s", e->accessor);
	token_rev_op(r, BARRIER_DELETE, NULL, path);
	if (e->lease_nonce[0] != '\0') {
		snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_LEASE "%s",
		         e->lease_nonce);
		token_rev_op(r, BARRIER_DELETE, NULL, path);
	}
	if (with_parent_row && e->parent_hex[0] != '\0') {
		snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_PARENT "%s/%s",
		         e->parent_hex, e->hash_hex);
		token_rev_op(r, BARRIER_DELETE, NULL, path);
	}
	token_strs_addf(&r->revoked, "%s", e->hash_hex);
	if (e->expire_time != 0 && e->lease_nonce[0] != '\0') {
		token_lease_id(e, path, sizeof(path));
		token_strs_addf(&r->leases, "%s", path);
	}
}

/* Rewrite child as an orphan. */
static void token_rev_orphan(struct token_revocation *r, const struct token_entry *child)
{
	char path[TOKEN_PATH_CAP];
	struct token_entry *d = token_entry_dup(child);
	json_t *o;

	d->parent_hex[0] = '\0';
	d->is_orphan = true;
	o = token_entry_to_json(d);
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", d->hash_hex);
	token_rev_op(r, BARRIER_PUT, coffer_json_dump(o), path);
	token_strs_addf(&r->rewritten, "%s", d->hash_hex);
	json_decref(o);
	token_entry_release(d);
}

/* Add the children of hex to r: revoked (and queued), or made orphans. */
static int token_rev_children(struct token_store *ts, struct token_revocation *r, const char *hex,
                              bool orphan)
{
	char folder[TOKEN_PATH_CAP], row[TOKEN_PATH_CAP];
	char **keys = NULL;
	size_t n = 0;
	int err;

	snprintf(folder, sizeof(folder), TOKEN_STORE_PREFIX TOKEN_DIR_PARENT "%s/", hex);
	err = barrier_list(ts->b, folder, &keys, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		struct token_entry *child = NULL;
		int lerr;

		snprintf(row, sizeof(row), "%s%s", folder, keys[i]);
		token_rev_op(r, BARRIER_DELETE, NULL, row);
		lerr = token_load_hex(ts, keys[i], &child);
		if (lerr == COFFER_ERR_NOT_FOUND || lerr == COFFER_ERR_INTEGRITY)
			continue; /* a stale index row: dropping it is enough */
		if (lerr != 0)
			err = lerr;
		else if (orphan)
			token_rev_orphan(r, child);
		else
			token_rev_entry(r, child, false);
		token_entry_release(child);
	}
	barrier_list_free(keys, n);
	return err;
}

/* Revoke the token stored under hex (ts->mu held): its tree, or the token alone with its
 * children made orphans; in one batch, then the cache and the lease manager. */
int token_revoke_locked(struct token_store *ts, const char *hex, bool orphan_children)
{
	struct token_revocation r = {0};
	struct token_entry *e = NULL;
	int err;

	if ((err = token_load_hex(ts, hex, &e)) != 0)
		goto out;
	token_rev_entry(&r, e, true);
	if (orphan_children)
		err = token_rev_children(ts, &r, hex, true);
	/* r.revoked grows while it is walked: breadth first over the whole tree. */
	for (size_t i = 0; !orphan_children && err == 0 && i < r.revoked.n; i++)
		err = token_rev_children(ts, &r, r.revoked.v[i], false);
	if (err != 0 || (err = barrier_batch(ts->b, r.ops, r.n_ops)) != 0)
		goto out;
	for (size_t i = 0; i < r.revoked.n; i++)
		token_cache_invalidate_hex(ts, r.revoked.v[i]);
	for (size_t i = 0; i < r.rewritten.n; i++)
		token_cache_invalidate_hex(ts, r.rewritten.v[i]);
	for (size_t i = 0; ts->lm != NULL && i < r.leases.n; i++)
		lease_mgr_untrack(ts->lm, r.leases.v[i]);
	log_info("revoked token %s and %zu descendant(s)", e->accessor, r.revoked.n - 1);
out:
	token_entry_release(e);
	token_rev_free(&r);
	return err;
}

int token_revoke(struct token_store *ts, const struct token_entry *e, bool orphan_children)
{
	int err;

	pthread_mutex_lock(&ts->mu);
	err = token_revoke_locked(ts, e->hash_hex, orphan_children);
	pthread_mutex_unlock(&ts->mu);
	return err;
}

/* ---- leases ---- */

int token_get_lease(struct token_store *ts, const char *lease_id, struct token_entry **out)
{
	char path[TOKEN_PATH_CAP];
	const char *slash = strrchr(lease_id, '/');
	int err;

	*out = NULL;
	if (slash == NULL || !token_lease_nonce_is_valid(slash + 1))
		return COFFER_ERR_NOT_FOUND;
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_LEASE "%s", slash + 1);
	if ((err = token_get_indexed(ts, path, out)) != 0)
		return err;
	/* The index row names the nonce; the path part must match too. */
	if (!token_owns_lease(*out, lease_id)) {
		token_entry_release(*out);
		*out = NULL;
		return COFFER_ERR_NOT_FOUND;
	}
	return 0;
}

int token_lookup_lease(struct token_store *ts, const char *lease_id, struct token_entry **out)
{
	int err = token_get_lease(ts, lease_id, out);

	if (err == 0 && token_is_expired(*out, coffer_clock_now_s())) {
		token_entry_release(*out);
		*out = NULL;
		err = COFFER_ERR_NOT_FOUND;
	}
	return err;
}

int token_revoke_lease(struct token_store *ts, const char *lease_id)
{
	struct token_entry *e = NULL;
	int err;

	if ((err = token_get_lease(ts, lease_id, &e)) != 0)
		return err;
	err = token_revoke(ts, e, false);
	token_entry_release(e);
	return err;
}

int token_lease_revoker(void *ts, const char *lease_id)
{
	return token_revoke_lease(ts, lease_id);
}

int token_lease_migrate(struct token_store *ts, struct token_entry **e)
{
	char id_path[TOKEN_PATH_CAP], lease_path[TOKEN_PATH_CAP];
	char row[2 * COFFER_MAC_LEN + 16];
	struct token_entry *d;
	struct barrier_op ops[2];
	json_t *o = NULL;
	char *text = NULL;
	int err = COFFER_ERR_INTERNAL;

	if ((*e)->lease_nonce[0] != '\0')
		return 0;
	d = token_entry_dup(*e);
	if (token_random_alnum(d->lease_nonce, sizeof(d->lease_nonce), TOKEN_LEASE_NONCE_CHARS) !=
	    0)
		goto out;
	o = token_entry_to_json(d);
	text = coffer_json_dump(o);
	snprintf(id_path, sizeof(id_path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", d->hash_hex);
	snprintf(lease_path, sizeof(lease_path), TOKEN_STORE_PREFIX TOKEN_DIR_LEASE "%s",
	         d->lease_nonce);
	snprintf(row, sizeof(row), "{\"hash\":\"%s\"}", d->hash_hex);
	ops[0] = (struct barrier_op){BARRIER_PUT, id_path, (const uint8_t *)text, strlen(text)};
	ops[1] = (struct barrier_op){BARRIER_PUT, lease_path, (const uint8_t *)row, strlen(row)};
	if ((err = barrier_batch(ts->b, ops, 2)) != 0)
		goto out;
	token_cache_invalidate(ts, d->hash);
	log_info("token %s: gave its lease a new id (stored by an older version)", d->accessor);
	token_entry_release(*e);
	*e = d;
	d = NULL;
out:
	coffer_json_free_text(text);
	json_decref(o);
	token_entry_release(d);
	return err;
}
