/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_token.c: unit tests of the token store (server/token*.c) over a real barrier on a
 * temporary SQLite file: TTL arithmetic, create/lookup/authenticate, revocation of trees and
 * orphans, use counts, expiry with an injected clock, CIDR binding, root token adoption, restart,
 * lease ids (not derived from the accessor, found through their index, given to entries stored by
 * older versions) and the lease manager revoking an expired token. The policy store is not needed
 * (NULL).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store/barrier.h"
#include "codec.h"
#include "crypto.h"
#include "json.h"
#include "identity/lease.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"
#include "identity/token.h"

struct fixture {
	char dir[64];
	char db[128];
	uint8_t root_key[COFFER_KEY_LEN];
	struct storage *st;
	struct barrier *b;
	struct token_store *ts;
	struct lease_mgr *lm;
};

static int64_t fake_now; /* Unix seconds */

static int64_t fake_clock(void)
{
	return fake_now * 1000000000;
}

static int fixture_open(struct fixture *f)
{
	if (testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	if (barrier_unseal(f->b, f->root_key) != 0)
		return -1;
	f->ts = token_store_new(f->b);
	return 0;
}

static int fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	coffer_clock_set(NULL);
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "token") != 0)
		return -1;
	coffer_random(f->root_key, sizeof(f->root_key));
	if (testutil_open_barrier(f->db, &f->st, &f->b) != 0 ||
	    barrier_initialize(f->b, f->root_key) != 0)
		return -1;
	f->ts = token_store_new(f->b);
	return token_store_setup(f->ts) != 0 ? -1 : 0;
}

static void fixture_close(struct fixture *f)
{
	lease_mgr_free(f->lm);
	token_store_free(f->ts);
	testutil_close_barrier(&f->st, &f->b);
	f->lm = NULL;
	f->ts = NULL;
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	fixture_close(f);
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
	coffer_clock_set(NULL);
}

/* Create a token; parent may be NULL. The text goes to *text (secmem) when text is not NULL. */
static int make_token(struct fixture *f, const struct token_entry *parent, int64_t ttl_s,
                      int64_t num_uses, char **text, struct token_entry **out)
{
	json_t *pol = json_pack("[s]", "dev");
	struct token_params p = {.policies = pol,
	                         .path = "auth/token/create",
	                         .ttl_s = ttl_s,
	                         .num_uses = num_uses,
	                         .is_renewable = true,
	                         .parent = parent};
	char *t = NULL;
	int err = token_create(f->ts, &p, &t, out);

	json_decref(pol);
	if (text != NULL)
		*text = t;
	else
		secmem_free(t);
	return err;
}

static bool is_gone(struct fixture *f, const char *text)
{
	struct token_entry *e = NULL;
	int err = token_lookup(f->ts, text, &e);

	token_entry_release(e);
	return err == COFFER_ERR_NOT_FOUND;
}

/* ---- TTL arithmetic ---- */

static void test_ttl_default_and_max(void)
{
	CHECK_EQ(token_compute_ttl(0, 0, 0, 0, false), TOKEN_SYSTEM_MAX_TTL_S);
	CHECK_EQ(token_compute_ttl(0, 500, 0, 0, false), 500);
	CHECK_EQ(token_compute_ttl(100, 500, 0, 0, false), 100);
	CHECK_EQ(token_compute_ttl(1000, 500, 0, 0, false), 500);
	CHECK_EQ(token_compute_ttl(TOKEN_SYSTEM_MAX_TTL_S + 5, 0, 0, 0, false),
	         TOKEN_SYSTEM_MAX_TTL_S);
}

static void test_ttl_explicit_max_caps(void)
{
	CHECK_EQ(token_compute_ttl(1000, 0, 300, 0, false), 300);
	CHECK_EQ(token_compute_ttl(0, 0, 300, 0, false), 300);
	CHECK_EQ(token_compute_ttl(100, 0, 300, 0, false), 100);
}

static void test_ttl_period(void)
{
	CHECK_EQ(token_compute_ttl(100, 0, 0, 50, false), 50);
	/* A periodic token is not bound by the mount's max, only by its explicit max. */
	CHECK_EQ(token_compute_ttl(0, 500, 0, 10000, false), 10000);
	CHECK_EQ(token_compute_ttl(0, 0, 30, 100, false), 30);
}

static void test_ttl_root_never_expires(void)
{
	CHECK_EQ(token_compute_ttl(0, 0, 0, 0, true), 0);
	CHECK_EQ(token_compute_ttl(60, 0, 0, 0, true), 60);
	CHECK_EQ(token_compute_ttl(0, 0, 100, 0, true), 100);
	CHECK_EQ(token_compute_ttl(0, 0, 0, 40, true), 40);
}

static void test_renew_clipped_at_max(void)
{
	struct token_entry e = {.creation_time = 1000, .ttl_s = 100, .expire_time = 1100};

	CHECK_EQ(token_compute_renewal(&e, 0, 1050), 1150);
	CHECK_EQ(token_compute_renewal(&e, 30, 1050), 1080);
	e.explicit_max_ttl_s = 250;
	CHECK_EQ(token_compute_renewal(&e, 100, 1200), 1250);
	e.explicit_max_ttl_s = 0;
	e.max_ttl_s = 200;
	CHECK_EQ(token_compute_renewal(&e, 500, 1100), 1200);
	e.max_ttl_s = 0;
	CHECK_EQ(token_compute_renewal(&e, 0, 1000 + TOKEN_SYSTEM_MAX_TTL_S),
	         1000 + TOKEN_SYSTEM_MAX_TTL_S);
}

static void test_renew_periodic_and_never_expiring(void)
{
	struct token_entry e = {
	    .creation_time = 1000, .ttl_s = 100, .period_s = 100, .expire_time = 1100};

	/* The increment is ignored and the system max does not apply. */
	CHECK_EQ(token_compute_renewal(&e, 5, 1000 + TOKEN_SYSTEM_MAX_TTL_S),
	         1100 + TOKEN_SYSTEM_MAX_TTL_S);
	e.explicit_max_ttl_s = 300;
	CHECK_EQ(token_compute_renewal(&e, 0, 1250), 1300);
	e.expire_time = 0;
	CHECK_EQ(token_compute_renewal(&e, 100, 5000), 0);
}

/* ---- the store ---- */

static void test_create_lookup_authenticate(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *a = NULL, *l = NULL, *x = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 3600, 0, &text, &e), 0);
	CHECK_OUT(strncmp(text, "cof.", 4) == 0 && strlen(text) == 47);
	CHECK_EQ_OUT(strlen(e->accessor), 24);
	/* Letters and digits only: never a '-' that a command line would take for a flag. */
	CHECK_EQ_OUT(
	    strspn(e->accessor, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
	    24);
	CHECK_OUT(e->is_orphan && !e->is_root && e->is_renewable);
	CHECK_EQ_OUT(json_array_size(e->policies), 2);
	CHECK_OUT(strcmp(json_string_value(json_array_get(e->policies, 0)), "default") == 0);
	CHECK_OUT(strcmp(json_string_value(json_array_get(e->policies, 1)), "dev") == 0);
	/* The whole-second expiry is rounded up from the exact one. */
	CHECK_OUT(e->expire_time - e->creation_time >= 3600 &&
	          e->expire_time - e->creation_time <= 3601);
	CHECK_OUT(e->expire_ms > 0 && e->expire_ms <= e->expire_time * 1000 &&
	          e->expire_ms > (e->expire_time - 1) * 1000);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "127.0.0.1", &a), 0);
	CHECK_OUT(strcmp(a->accessor, e->accessor) == 0);
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, e->accessor, &l), 0);
	CHECK_OUT(strcmp(l->hash_hex, e->hash_hex) == 0);
	CHECK_EQ_OUT(token_authenticate(f.ts, "cof.nope", "127.0.0.1", &x), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, "", "127.0.0.1", &x), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_lookup(f.ts, "cof.nope", &x), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, "../x", &x), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(x == NULL);
out:
	token_entry_release(x);
	token_entry_release(l);
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

/* Invariant 3: the store holds the keyed hash, never the text. */
static void test_token_text_not_in_database(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL;
	char *text = NULL, path[256];
	uint8_t *buf = NULL;
	size_t len = 0;
	bool found = false;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 60, 0, &text, &e), 0);
	fixture_close(&f);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", f.db, i == 0 ? "" : "-wal");
		if (testutil_read_file(path, &buf, &len) == 0) {
			found |= memmem(buf, len, text + 4, strlen(text) - 4) != NULL;
			free(buf);
		}
	}
	CHECK_OUT(!found);
out:
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

static void test_children_revoked_with_parent(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *c = NULL, *g = NULL, *a = NULL;
	char *pt = NULL, *ct = NULL, *gt = NULL;
	uint8_t *v = NULL;
	size_t len = 0;
	char path[256];

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &pt, &p), 0);
	CHECK_EQ_OUT(make_token(&f, p, 600, 0, &ct, &c), 0);
	CHECK_EQ_OUT(make_token(&f, c, 600, 0, &gt, &g), 0);
	CHECK_OUT(!c->is_orphan && strcmp(c->parent_hex, p->hash_hex) == 0);
	/* Fill the cache, so that revocation must invalidate it. */
	CHECK_EQ_OUT(token_authenticate(f.ts, gt, NULL, &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_revoke(f.ts, p, false), 0);
	CHECK_OUT(is_gone(&f, pt) && is_gone(&f, ct) && is_gone(&f, gt));
	CHECK_EQ_OUT(token_authenticate(f.ts, gt, NULL, &a), COFFER_ERR_PERMISSION);
	snprintf(path, sizeof(path), "token/accessor/%s", g->accessor);
	CHECK_EQ_OUT(barrier_get(f.b, path, &v, &len), COFFER_ERR_NOT_FOUND);
	snprintf(path, sizeof(path), "token/parent/%s/%s", c->hash_hex, g->hash_hex);
	CHECK_EQ_OUT(barrier_get(f.b, path, &v, &len), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_revoke(f.ts, p, false), COFFER_ERR_NOT_FOUND);
out:
	secmem_freezero(v, len);
	token_entry_release(a);
	token_entry_release(g);
	token_entry_release(c);
	token_entry_release(p);
	secmem_free(pt);
	secmem_free(ct);
	secmem_free(gt);
	fixture_destroy(&f);
}

static void test_revoke_orphan_keeps_children(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *c = NULL, *g = NULL, *l = NULL;
	char *pt = NULL, *ct = NULL, *gt = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &pt, &p), 0);
	CHECK_EQ_OUT(make_token(&f, p, 600, 0, &ct, &c), 0);
	CHECK_EQ_OUT(make_token(&f, c, 600, 0, &gt, &g), 0);
	CHECK_EQ_OUT(token_lookup(f.ts, ct, &l), 0); /* cached as a child */
	token_entry_release(l);
	l = NULL;
	CHECK_EQ_OUT(token_revoke(f.ts, p, true), 0);
	CHECK_OUT(is_gone(&f, pt));
	CHECK_EQ_OUT(token_lookup(f.ts, ct, &l), 0);
	CHECK_OUT(l->is_orphan && l->parent_hex[0] == '\0');
	token_entry_release(l);
	l = NULL;
	/* The grandchild is still the child's child. */
	CHECK_EQ_OUT(token_revoke(f.ts, c, false), 0);
	CHECK_OUT(is_gone(&f, ct) && is_gone(&f, gt));
out:
	token_entry_release(l);
	token_entry_release(g);
	token_entry_release(c);
	token_entry_release(p);
	secmem_free(pt);
	secmem_free(ct);
	secmem_free(gt);
	fixture_destroy(&f);
}

static void test_orphan_survives_creator(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *o = NULL;
	char *pt = NULL, *ot = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &pt, &p), 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &ot, &o), 0); /* no_parent */
	CHECK_EQ_OUT(token_revoke(f.ts, p, false), 0);
	CHECK_OUT(is_gone(&f, pt) && !is_gone(&f, ot));
out:
	token_entry_release(o);
	token_entry_release(p);
	secmem_free(pt);
	secmem_free(ot);
	fixture_destroy(&f);
}

static void test_child_of_revoked_parent_refused(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *c = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, NULL, &p), 0);
	CHECK_EQ_OUT(token_revoke(f.ts, p, false), 0);
	CHECK_EQ_OUT(make_token(&f, p, 600, 0, NULL, &c), COFFER_ERR_PERMISSION);
	CHECK_OUT(c == NULL);
out:
	token_entry_release(c);
	token_entry_release(p);
	fixture_destroy(&f);
}

static void test_num_uses_two_then_refused(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *a = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 2, &text, &e), 0);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), 0);
	CHECK_EQ_OUT(a->num_uses, 1);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), 0);
	CHECK_EQ_OUT(a->num_uses, 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), COFFER_ERR_PERMISSION);
	CHECK_OUT(a == NULL && is_gone(&f, text));
out:
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

static void test_expired_token_refused_at_once(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *a = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	fake_now = 1000000;
	coffer_clock_set(fake_clock);
	CHECK_EQ_OUT(make_token(&f, NULL, 10, 0, &text, &e), 0);
	CHECK_EQ_OUT(e->expire_time, 1000010);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), 0);
	token_entry_release(a);
	a = NULL;
	fake_now = 1000009;
	CHECK_EQ_OUT(token_ttl_left(e, coffer_clock_now_s()), 1);
	fake_now = 1000010;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), COFFER_ERR_PERMISSION);
	CHECK_OUT(is_gone(&f, text));
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, e->accessor, &a), COFFER_ERR_NOT_FOUND);
out:
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

/* A renew hook as an auth method's: tokens of "auth/gone/login" are refused, those of
 * "auth/role/login" get the role's limits, others keep their own settings. */
static int renew_hook(void *arg, const struct token_entry *e, struct token_renew_limits *lim,
                      char *msg, size_t cap)
{
	const struct token_renew_limits *role = arg;

	if (strcmp(e->path, "auth/gone/login") == 0) {
		snprintf(msg, cap, "role \"gone\" does not exist during renewal");
		return COFFER_ERR_INVALID;
	}
	if (strcmp(e->path, "auth/role/login") != 0)
		return COFFER_ERR_NOT_FOUND;
	*lim = *role;
	return 0;
}

static void test_renew_hook_limits_or_refuses(void)
{
	struct fixture f = {0};
	struct token_renew_limits role = {.ttl_s = 30, .max_ttl_s = 200, .period_s = 0};
	struct token_entry *e = NULL, *g = NULL, *c = NULL, *r = NULL;
	struct token_params p = {.path = "auth/role/login", .ttl_s = 100, .is_renewable = true};
	char *text = NULL, msg[128];

	CHECK_OUT(fixture_init(&f) == 0);
	fake_now = 3000000;
	coffer_clock_set(fake_clock);
	token_store_set_renew_hook(f.ts, renew_hook, &role);
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	secmem_free(text);
	text = NULL;
	fake_now += 10;
	CHECK_EQ_OUT(token_renew(f.ts, e, 0, &r, msg, sizeof(msg)), 0); /* the role's ttl now */
	CHECK_EQ_OUT(r->expire_time, fake_now + 30);
	CHECK_EQ_OUT(r->ttl_s, 30);
	token_entry_release(r);
	r = NULL;
	CHECK_EQ_OUT(token_renew(f.ts, e, 1000, &r, msg, sizeof(msg)), 0); /* the role's max */
	CHECK_EQ_OUT(r->expire_time, 3000200);
	token_entry_release(r);
	r = NULL;
	role.period_s = 500; /* periodic now: the period, not the max */
	CHECK_EQ_OUT(token_renew(f.ts, e, 0, &r, msg, sizeof(msg)), 0);
	CHECK_EQ_OUT(r->expire_time, fake_now + 500);
	CHECK_EQ_OUT(r->period_s, 500);
	token_entry_release(r);
	r = NULL;
	p.path = "auth/gone/login";
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &g), 0);
	secmem_free(text);
	text = NULL;
	CHECK_EQ_OUT(token_renew(f.ts, g, 0, &r, msg, sizeof(msg)), COFFER_ERR_INVALID);
	CHECK_OUT(strcmp(msg, "role \"gone\" does not exist during renewal") == 0);
	CHECK_OUT(r == NULL);
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, g->accessor, &r), 0); /* unchanged */
	CHECK_EQ_OUT(r->expire_time, g->expire_time);
	CHECK_EQ_OUT(r->last_renewal_time, 0);
	token_entry_release(r);
	r = NULL;
	p.path = "auth/token/create"; /* its own settings */
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &c), 0);
	CHECK_EQ_OUT(token_renew(f.ts, c, 0, &r, msg, sizeof(msg)), 0);
	CHECK_EQ_OUT(r->expire_time, fake_now + 100);
	CHECK_OUT(msg[0] == '\0');
out:
	coffer_clock_set(NULL);
	token_entry_release(r);
	token_entry_release(c);
	token_entry_release(g);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

static void test_renew_extends_and_respects_renewable(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *r = NULL, *n = NULL;
	struct token_params p = {.path = "auth/token/create",
	                         .ttl_s = 100,
	                         .explicit_max_ttl_s = 150,
	                         .is_renewable = true};
	char *text = NULL, msg[128];

	CHECK_OUT(fixture_init(&f) == 0);
	fake_now = 2000000;
	coffer_clock_set(fake_clock);
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	fake_now += 50;
	CHECK_EQ_OUT(token_renew(f.ts, e, 0, &r, msg, sizeof(msg)), 0);
	CHECK_EQ_OUT(r->expire_time, fake_now + 100);
	CHECK_EQ_OUT(r->last_renewal_time, fake_now);
	token_entry_release(r);
	r = NULL;
	fake_now += 50;
	/* Clipped at the explicit max. */
	CHECK_EQ_OUT(token_renew(f.ts, e, 0, &r, msg, sizeof(msg)), 0);
	CHECK_EQ_OUT(r->expire_time, 2000150);
	token_entry_release(r);
	r = NULL;
	CHECK_EQ_OUT(token_lookup(f.ts, text, &r), 0); /* the cache saw the renewal */
	CHECK_EQ_OUT(r->expire_time, 2000150);
	token_entry_release(r);
	r = NULL;
	secmem_free(text);
	text = NULL;
	p.is_renewable = false;
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &n), 0);
	CHECK_EQ_OUT(token_renew(f.ts, n, 10, &r, msg, sizeof(msg)), COFFER_ERR_INVALID);
out:
	token_entry_release(r);
	token_entry_release(n);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

static void test_bound_cidrs(void)
{
	struct fixture f = {0};
	json_t *cidrs = json_pack("[s,s,s]", "10.0.0.0/8", "2001:db8::/32", "192.168.1.7");
	struct token_params p = {.bound_cidrs = cidrs, .ttl_s = 60};
	struct token_entry *e = NULL, *a = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "10.1.2.3", &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "::ffff:10.9.9.9", &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "2001:db8:1::5", &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "192.168.1.7", &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "192.168.1.8", &a), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "11.0.0.1", &a), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, "2001:db9::1", &a), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), COFFER_ERR_PERMISSION);
	token_entry_release(e);
	e = NULL;
	secmem_free(text);
	text = NULL;
	json_decref(cidrs);
	cidrs = json_pack("[s]", "10.0.0.0/33");
	p.bound_cidrs = cidrs;
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), COFFER_ERR_INVALID);
out:
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
	json_decref(cidrs);
}

static void test_revoke_by_accessor(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *l = NULL, *a = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &text, &e), 0);
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, e->accessor, &l), 0);
	CHECK_EQ_OUT(token_revoke(f.ts, l, false), 0);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), COFFER_ERR_PERMISSION);
	token_entry_release(l);
	l = NULL;
	CHECK_EQ_OUT(token_lookup_accessor(f.ts, e->accessor, &l), COFFER_ERR_NOT_FOUND);
out:
	token_entry_release(a);
	token_entry_release(l);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

/* A lease id is the path and a random nonce, not the accessor (which is public). */
static void test_lease_id_not_from_accessor(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *o = NULL, *l = NULL;
	char *text = NULL, lease_id[128], other_id[128], wrong[160];

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &text, &e), 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, NULL, &o), 0);
	token_lease_id(e, lease_id, sizeof(lease_id));
	token_lease_id(o, other_id, sizeof(other_id));
	CHECK_OUT(strncmp(lease_id, "auth/token/create/", 18) == 0);
	CHECK_EQ_OUT(strlen(lease_id + 18), 32);
	CHECK_OUT(strspn(lease_id + 18, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                "0123456789") == 32);
	CHECK_OUT(strstr(lease_id, e->accessor) == NULL);
	CHECK_OUT(strcmp(lease_id, other_id) != 0);
	CHECK_OUT(token_owns_lease(e, lease_id));
	CHECK_OUT(!token_owns_lease(e, other_id));
	CHECK_OUT(!token_owns_lease(o, lease_id));
	/* The accessor form of older versions names no lease. */
	snprintf(wrong, sizeof(wrong), "auth/token/create/%s", e->accessor);
	CHECK_OUT(!token_owns_lease(e, wrong));
	CHECK_EQ_OUT(token_lookup_lease(f.ts, wrong, &l), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_revoke_lease(f.ts, wrong), COFFER_ERR_NOT_FOUND);
	/* The right nonce under another path, a cut nonce, a longer one. */
	snprintf(wrong, sizeof(wrong), "auth/approle/login/%s", lease_id + 18);
	CHECK_OUT(!token_owns_lease(e, wrong));
	CHECK_EQ_OUT(token_lookup_lease(f.ts, wrong, &l), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_revoke_lease(f.ts, wrong), COFFER_ERR_NOT_FOUND);
	snprintf(wrong, sizeof(wrong), "%.*s", (int)strlen(lease_id) - 1, lease_id);
	CHECK_OUT(!token_owns_lease(e, wrong));
	CHECK_EQ_OUT(token_lookup_lease(f.ts, wrong, &l), COFFER_ERR_NOT_FOUND);
	snprintf(wrong, sizeof(wrong), "%sA", lease_id);
	CHECK_OUT(!token_owns_lease(e, wrong));
	CHECK_EQ_OUT(token_lookup_lease(f.ts, wrong, &l), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(!is_gone(&f, text));
	/* Found through the index. */
	CHECK_EQ_OUT(token_lookup_lease(f.ts, lease_id, &l), 0);
	CHECK_OUT(l != NULL && strcmp(l->hash_hex, e->hash_hex) == 0);
	token_entry_release(l);
	l = NULL;
	CHECK_EQ_OUT(token_revoke_lease(f.ts, lease_id), 0);
	CHECK_OUT(is_gone(&f, text));
	CHECK_EQ_OUT(token_lookup_lease(f.ts, lease_id, &l), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_lookup_lease(f.ts, other_id, &l), 0);
out:
	token_entry_release(l);
	token_entry_release(o);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

/* Rewrite e's stored entry as a version without lease nonces wrote it, and drop its lease row.
 * 0, or -1 when one of its checks failed (recorded). */
static int store_as_old_version(struct fixture *f, const struct token_entry *e)
{
	char path[256], *dump = NULL;
	uint8_t *v = NULL;
	size_t len = 0;
	json_t *o = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "token/id/%s", e->hash_hex);
	CHECK_EQ_OUT(barrier_get(f->b, path, &v, &len), 0);
	CHECK_EQ_OUT(coffer_json_parse_object((const char *)v, len, &o, NULL, 0), 0);
	secmem_freezero(v, len);
	v = NULL;
	CHECK_OUT(json_object_get(o, "lease_nonce") != NULL);
	CHECK_EQ_OUT(json_object_del(o, "lease_nonce"), 0);
	dump = coffer_json_dump(o);
	CHECK_OUT(dump != NULL);
	CHECK_EQ_OUT(barrier_put(f->b, path, (const uint8_t *)dump, strlen(dump)), 0);
	coffer_json_free_text(dump);
	dump = NULL;
	json_decref(o);
	o = NULL;
	snprintf(path, sizeof(path), "token/lease/%s", e->lease_nonce);
	CHECK_EQ_OUT(barrier_delete(f->b, path), 0);
	ret = 0;
out:
	coffer_json_free_text(dump);
	json_decref(o);
	secmem_freezero(v, len);
	return ret;
}

/* An entry stored before lease nonces existed gets one (and its index row) at setup. */
static void test_old_entry_gets_lease_nonce(void)
{
	struct fixture f = {0};
	struct token_entry *e = NULL, *a = NULL, *l = NULL;
	char *text = NULL, old_id[128], new_id[128];
	json_t *look = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &text, &e), 0);
	token_lease_id(e, old_id, sizeof(old_id));
	if (store_as_old_version(&f, e) != 0)
		goto out;
	fixture_close(&f);
	CHECK_OUT(fixture_open(&f) == 0);
	f.lm = lease_mgr_new(token_lease_revoker, f.ts);
	token_store_set_leases(f.ts, f.lm);
	CHECK_EQ_OUT(token_store_setup(f.ts), 0);
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 1);
	CHECK_EQ_OUT(token_authenticate(f.ts, text, NULL, &a), 0);
	CHECK_OUT(a != NULL && strlen(a->lease_nonce) == 32);
	token_lease_id(a, new_id, sizeof(new_id));
	CHECK_OUT(strncmp(new_id, "auth/token/create/", 18) == 0 && strcmp(new_id, old_id) != 0);
	CHECK_OUT(strstr(new_id, a->accessor) == NULL);
	CHECK_EQ_OUT(token_lookup_lease(f.ts, new_id, &l), 0);
	token_entry_release(l);
	l = NULL;
	look = token_lookup_json(a, NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(look, "lease_id")), new_id) == 0);
	json_decref(look);
	look = NULL;
	/* Kept across the next setup: given once. */
	CHECK_EQ_OUT(token_store_setup(f.ts), 0);
	CHECK_EQ_OUT(token_lookup_lease(f.ts, new_id, &l), 0);
	token_entry_release(l);
	l = NULL;
	CHECK_EQ_OUT(token_revoke_lease(f.ts, new_id), 0);
	CHECK_OUT(is_gone(&f, text));
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 0);
out:
	json_decref(look);
	token_entry_release(l);
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
}

static void test_custom_id_and_policies(void)
{
	struct fixture f = {0};
	json_t *pol = json_pack("[s,s,s]", "root", "b", "b");
	struct token_params p = {.id = "my-custom-token", .policies = pol};
	struct token_entry *e = NULL, *a = NULL;
	char *text = NULL;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	CHECK_OUT(strcmp(text, "my-custom-token") == 0);
	CHECK_OUT(e->is_root && e->expire_time == 0);
	CHECK_EQ_OUT(json_array_size(e->policies), 2); /* "b", "root": no default for root */
	CHECK_EQ_OUT(token_authenticate(f.ts, "my-custom-token", NULL, &a), 0);
	token_entry_release(a);
	a = NULL;
	token_entry_release(e);
	e = NULL;
	secmem_free(text);
	text = NULL;
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), COFFER_ERR_EXISTS);
	p.id = "has space";
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), COFFER_ERR_INVALID);
	json_decref(pol);
	pol = json_pack("[s]", "dev");
	p.id = NULL;
	p.policies = pol;
	p.no_default_policy = true;
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	CHECK_EQ_OUT(json_array_size(e->policies), 1);
out:
	token_entry_release(a);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
	json_decref(pol);
}

static void test_adopt_pending_root(void)
{
	struct fixture f = {0};
	const char *root = "cof.pending-root-token-text";
	uint8_t hash[COFFER_MAC_LEN], *v = NULL;
	struct token_entry *a = NULL;
	size_t len = 0;

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(token_store_stage_root(f.ts, root), 0);
	CHECK_EQ_OUT(barrier_get(f.b, TOKEN_PENDING_ROOT_PATH, &v, &len), 0);
	CHECK_EQ_OUT(barrier_hash(f.b, TOKEN_HASH_LABEL, root, strlen(root), hash), 0);
	CHECK_OUT(len == sizeof(hash) &&
	          memcmp(v, hash, sizeof(hash)) == 0); /* the hash, not the text */
	secmem_freezero(v, len);
	v = NULL;
	CHECK_EQ_OUT(token_store_setup(f.ts), 0);
	CHECK_EQ_OUT(barrier_get(f.b, TOKEN_PENDING_ROOT_PATH, &v, &len), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(token_authenticate(f.ts, root, NULL, &a), 0);
	CHECK_OUT(a->is_root && a->is_orphan && !a->is_renewable && a->expire_time == 0);
	CHECK_OUT(strcmp(a->path, "auth/token/root") == 0 && strcmp(a->display_name, "root") == 0);
	CHECK_EQ_OUT(json_array_size(a->policies), 1);
	CHECK_OUT(strcmp(json_string_value(json_array_get(a->policies, 0)), "root") == 0);
	token_entry_release(a);
	a = NULL;
	/* Only that text: not a prefix, not a longer one, not empty. */
	CHECK_EQ_OUT(token_authenticate(f.ts, "cof.pending-root-token-tex", NULL, &a),
	             COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, "cof.pending-root-token-text2", NULL, &a),
	             COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_authenticate(f.ts, "", NULL, &a), COFFER_ERR_PERMISSION);
	CHECK_EQ_OUT(token_store_setup(f.ts), 0); /* nothing left to adopt */
out:
	token_entry_release(a);
	secmem_freezero(v, len);
	fixture_destroy(&f);
}

static void test_text_generate_makes_distinct_prefixed_tokens(void)
{
	char *a = token_text_generate(), *b = token_text_generate();
	uint8_t raw[64];
	size_t raw_len = 0;
	int is_ok;

	CHECK_OUT(a != NULL && b != NULL);
	is_ok = strncmp(a, "cof.", 4) == 0 && strlen(a) == 4 + 43 && strcmp(a, b) != 0 &&
	        codec_b64_decode(raw, sizeof(raw), &raw_len, a + 4, strlen(a + 4), CODEC_B64_URL) ==
	            0 &&
	        raw_len == 32;
	CHECK_OUT(is_ok);
out:
	secmem_free(a);
	secmem_free(b);
}

static void test_restart_keeps_tokens(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *c = NULL, *a = NULL;
	char *pt = NULL, *ct = NULL, *rt = NULL;
	struct token_params root = {.id = "root-like", .policies = NULL};
	json_t *pol = json_pack("[s]", "root");

	root.policies = pol;
	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(make_token(&f, NULL, 600, 0, &pt, &p), 0);
	CHECK_EQ_OUT(make_token(&f, p, 600, 0, &ct, &c), 0);
	CHECK_EQ_OUT(token_create(f.ts, &root, &rt, &a), 0); /* never expires: not a lease */
	token_entry_release(a);
	a = NULL;
	fixture_close(&f);
	CHECK_OUT(fixture_open(&f) == 0);
	f.lm = lease_mgr_new(token_lease_revoker, f.ts);
	token_store_set_leases(f.ts, f.lm);
	CHECK_EQ_OUT(token_store_setup(f.ts), 0);
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 2);
	CHECK_EQ_OUT(token_authenticate(f.ts, ct, NULL, &a), 0);
	token_entry_release(a);
	a = NULL;
	CHECK_EQ_OUT(token_revoke(f.ts, p, false), 0);
	CHECK_OUT(is_gone(&f, ct));
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 0);
out:
	token_entry_release(a);
	token_entry_release(c);
	token_entry_release(p);
	secmem_free(pt);
	secmem_free(ct);
	secmem_free(rt);
	fixture_destroy(&f);
	json_decref(pol);
}

/* A token whose TTL runs out is revoked by the lease manager, with its children. */
/* The wall clock two seconds ahead of the real one. */
static int64_t clock_two_seconds_on(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + 2) * 1000000000 + ts.tv_nsec;
}

static void test_lease_manager_revokes_expired_token(void)
{
	struct fixture f = {0};
	struct token_entry *p = NULL, *c = NULL;
	char path[256];
	uint8_t *v = NULL;
	size_t len = 0;
	int i;

	CHECK_OUT(fixture_init(&f) == 0);
	f.lm = lease_mgr_new(token_lease_revoker, f.ts);
	token_store_set_leases(f.ts, f.lm);
	CHECK_EQ_OUT(make_token(&f, NULL, 1, 0, NULL, &p), 0);
	CHECK_EQ_OUT(make_token(&f, p, 600, 0, NULL, &c), 0);
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 2);
	/* Two seconds later for the manager, which starts now: the parent is due at once. */
	coffer_clock_set(clock_two_seconds_on);
	CHECK_EQ_OUT(lease_mgr_start(f.lm), 0);
	for (i = 0; i < 60 && lease_mgr_count(f.lm) > 0; i++)
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	CHECK_EQ_OUT(lease_mgr_count(f.lm), 0);
	snprintf(path, sizeof(path), "token/accessor/%s", c->accessor);
	CHECK_EQ_OUT(barrier_get(f.b, path, &v, &len), COFFER_ERR_NOT_FOUND);
	snprintf(path, sizeof(path), "token/lease/%s", c->lease_nonce);
	CHECK_EQ_OUT(barrier_get(f.b, path, &v, &len), COFFER_ERR_NOT_FOUND);
out:
	coffer_clock_set(NULL);
	secmem_freezero(v, len);
	token_entry_release(c);
	token_entry_release(p);
	fixture_destroy(&f);
}

static void test_views(void)
{
	struct fixture f = {0};
	json_t *meta = json_pack("{s:s}", "team", "a");
	struct token_params p = {.meta = meta, .ttl_s = 60, .display_name = "token-ci"};
	struct token_entry *e = NULL;
	json_t *auth = NULL, *look = NULL, *root = json_pack("[s]", "root");
	char *text = NULL, lease_id[128];

	CHECK_OUT(fixture_init(&f) == 0);
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	auth = token_auth_json(e, text);
	look = token_lookup_json(e, NULL);
	CHECK_OUT(auth != NULL && look != NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(auth, "client_token")), text) == 0);
	CHECK_OUT(json_integer_value(json_object_get(auth, "lease_duration")) > 55);
	CHECK_OUT(json_is_object(json_object_get(auth, "metadata")));
	CHECK_OUT(strcmp(json_string_value(json_object_get(look, "id")), "") == 0);
	CHECK_OUT(json_is_string(json_object_get(look, "expire_time")));
	CHECK_OUT(strcmp(json_string_value(json_object_get(look, "type")), "service") == 0);
	CHECK_OUT(strcmp(json_string_value(json_object_get(look, "display_name")), "token-ci") ==
	          0);
	/* The lookup view names the lease; the auth block (logged with only its token and accessor
	 * HMAC'd) does not. */
	token_lease_id(e, lease_id, sizeof(lease_id));
	CHECK_OUT(strcmp(json_string_value(json_object_get(look, "lease_id")), lease_id) == 0);
	CHECK_OUT(json_object_get(auth, "lease_id") == NULL);
	json_decref(auth);
	auth = NULL;
	json_decref(look);
	look = NULL;
	token_entry_release(e);
	e = NULL;
	secmem_free(text);
	text = NULL;
	/* A token that never expires has no lease. */
	p.policies = root;
	p.ttl_s = 0;
	CHECK_EQ_OUT(token_create(f.ts, &p, &text, &e), 0);
	look = token_lookup_json(e, NULL);
	CHECK_OUT(e->expire_time == 0 && json_object_get(look, "lease_id") == NULL);
out:
	json_decref(look);
	json_decref(auth);
	token_entry_release(e);
	secmem_free(text);
	fixture_destroy(&f);
	json_decref(root);
	json_decref(meta);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_ttl_default_and_max);
	RUN(test_ttl_explicit_max_caps);
	RUN(test_ttl_period);
	RUN(test_ttl_root_never_expires);
	RUN(test_renew_clipped_at_max);
	RUN(test_renew_periodic_and_never_expiring);
	RUN(test_create_lookup_authenticate);
	RUN(test_token_text_not_in_database);
	RUN(test_children_revoked_with_parent);
	RUN(test_revoke_orphan_keeps_children);
	RUN(test_orphan_survives_creator);
	RUN(test_child_of_revoked_parent_refused);
	RUN(test_num_uses_two_then_refused);
	RUN(test_expired_token_refused_at_once);
	RUN(test_renew_extends_and_respects_renewable);
	RUN(test_renew_hook_limits_or_refuses);
	RUN(test_bound_cidrs);
	RUN(test_revoke_by_accessor);
	RUN(test_lease_id_not_from_accessor);
	RUN(test_old_entry_gets_lease_nonce);
	RUN(test_custom_id_and_policies);
	RUN(test_adopt_pending_root);
	RUN(test_text_generate_makes_distinct_prefixed_tokens);
	RUN(test_restart_keeps_tokens);
	RUN(test_lease_manager_revokes_expired_token);
	RUN(test_views);
	return test_summary();
}
