/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_store.c: the policy store: policies kept in the barrier under "core/policy/<name>", the
 * built-in "root" and "default", a cache of parsed policies and one of compiled ACLs per set of
 * policy names. core.c calls policy_store_acl() on every request; policy_routes.c the rest.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "json.h"
#include "log.h"
#include "identity/policy.h"
#include "identity/policy_int.h"
#include "secmem.h"
#include "xmalloc.h"

#define PS_PREFIX "core/policy/"
#define PS_POLICY_BUCKETS 64
#define PS_ACL_BUCKETS 256
#define PS_ACL_MAX 4096 /* cached ACLs; past it the cache starts over */

/* Token self-service (a subset of Vault's default policy) and the watch extension. */
static const char ps_default_policy[] =
    "# Allow tokens to look up, renew and revoke themselves.\n"
    "path \"auth/token/lookup-self\" {\n\tcapabilities = [\"read\"]\n}\n"
    "path \"auth/token/renew-self\" {\n\tcapabilities = [\"update\"]\n}\n"
    "path \"auth/token/revoke-self\" {\n\tcapabilities = [\"update\"]\n}\n"
    "# Allow a token to see what it may do.\n"
    "path \"sys/capabilities-self\" {\n\tcapabilities = [\"update\"]\n}\n"
    "# Allow a token to look up and renew its leases.\n"
    "path \"sys/leases/lookup\" {\n\tcapabilities = [\"update\"]\n}\n"
    "path \"sys/leases/renew\" {\n\tcapabilities = [\"update\"]\n}\n"
    "path \"sys/renew\" {\n\tcapabilities = [\"update\"]\n}\n"
    "# Allow watching for changes (reading what is watched needs read on each path).\n"
    "path \"sys/watch\" {\n\tcapabilities = [\"update\"]\n}\n"
    "# Allow clients (the Vault CLI) to find the mount of a path.\n"
    "path \"sys/internal/ui/mounts/*\" {\n\tcapabilities = [\"read\"]\n}\n";

struct ps_policy {
	struct ps_policy *next;
	char name[POLICY_NAME_MAX + 1];
	struct policy *policy; /* referenced */
};

struct ps_acl {
	struct ps_acl *next;
	uint64_t hash;
	struct acl *acl; /* referenced */
	size_t key_len;
	char key[];
};

struct policy_store {
	struct barrier *b;
	pthread_rwlock_t lock;      /* the caches and generation */
	pthread_mutex_t write_lock; /* one writer of stored policies at a time */
	uint64_t generation;        /* bumped by every change; a build that saw an older one is
	                               not cached */
	struct ps_policy *policies[PS_POLICY_BUCKETS];
	struct ps_acl *acls[PS_ACL_BUCKETS];
	size_t n_acls;
};

/* An ACL cache key: valid names lowercased, sorted, deduplicated, each followed by '\n'. */
struct ps_key {
	char *s; /* stack or heap */
	size_t len, cap, last;
	char stack[512];
};

int policy_name_normalize(const char *in, char out[POLICY_NAME_MAX + 1])
{
	size_t i;
	char ch;

	out[0] = '\0';
	if (in == NULL)
		return COFFER_ERR_INVALID;
	for (i = 0; (ch = in[i]) != '\0'; i++) {
		if (i == POLICY_NAME_MAX ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-')) {
			out[0] = '\0';
			return COFFER_ERR_INVALID;
		}
		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[i] = '\0';
	return i == 0 ? COFFER_ERR_INVALID : 0;
}

static struct ps_policy **ps_policy_slot(struct policy_store *ps, const char *name)
{
	struct ps_policy **e =
	    &ps->policies[coffer_fnv1a_add_str(COFFER_FNV1A_INIT, name) % PS_POLICY_BUCKETS];

	while (*e != NULL && strcmp((*e)->name, name) != 0)
		e = &(*e)->next;
	return e;
}

/* With the lock held for writing. */
static void ps_acls_drop(struct policy_store *ps)
{
	struct ps_acl *e, *next;
	size_t i;

	for (i = 0; i < PS_ACL_BUCKETS; i++) {
		for (e = ps->acls[i]; e != NULL; e = next) {
			next = e->next;
			acl_release(e->acl);
			free(e);
		}
		ps->acls[i] = NULL;
	}
	ps->n_acls = 0;
}

/* With the lock held for writing. */
static void ps_policies_drop(struct policy_store *ps)
{
	struct ps_policy *e, *next;
	size_t i;

	for (i = 0; i < PS_POLICY_BUCKETS; i++) {
		for (e = ps->policies[i]; e != NULL; e = next) {
			next = e->next;
			policy_free(e->policy);
			free(e);
		}
		ps->policies[i] = NULL;
	}
}

/* The policy name changed (p is its new form, NULL when deleted): recache it, drop every ACL. */
static void ps_changed(struct policy_store *ps, const char *name, struct policy *p)
{
	struct ps_policy **slot, *e;

	pthread_rwlock_wrlock(&ps->lock);
	slot = ps_policy_slot(ps, name);
	if ((e = *slot) != NULL) {
		*slot = e->next;
		policy_free(e->policy);
		free(e);
	}
	if (p != NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->name, name, strlen(name) + 1);
		policy_ref(p);
		e->policy = p;
		*slot = e;
	}
	ps->generation++;
	ps_acls_drop(ps);
	pthread_rwlock_unlock(&ps->lock);
}

/* The text of stored policy name (normalized) in *raw, malloc'd. */
static int ps_read_raw(struct policy_store *ps, const char *name, char **raw)
{
	char path[sizeof(PS_PREFIX) + POLICY_NAME_MAX];
	const char *text = NULL;
	uint8_t *val = NULL;
	json_t *doc = NULL;
	size_t len = 0;
	int rc;

	*raw = NULL;
	snprintf(path, sizeof(path), PS_PREFIX "%s", name);
	rc = barrier_get(ps->b, path, &val, &len);
	if (rc != 0)
		goto out;
	if (coffer_json_parse_object((const char *)val, len, &doc, NULL, 0) != 0 ||
	    coffer_json_get_string(doc, "raw", &text) != 0) {
		rc = COFFER_ERR_INTEGRITY;
		goto out;
	}
	*raw = xstrdup(text);
out:
	json_decref(doc);
	if (val != NULL)
		secmem_freezero(val, len);
	return rc;
}

/* The parsed policy name (normalized, not root), referenced: from the cache or the barrier. */
static int ps_policy_get(struct policy_store *ps, const char *name, struct policy **out)
{
	struct ps_policy **slot, *e;
	struct policy *p = NULL;
	char *raw = NULL, err[256];
	uint64_t gen;
	int rc;

	*out = NULL;
	pthread_rwlock_rdlock(&ps->lock);
	if ((e = *ps_policy_slot(ps, name)) != NULL) {
		policy_ref(e->policy);
		p = e->policy;
	}
	gen = ps->generation;
	pthread_rwlock_unlock(&ps->lock);
	if (p != NULL)
		goto done;
	rc = ps_read_raw(ps, name, &raw);
	if (rc != 0)
		return rc;
	rc = policy_parse(name, raw, strlen(raw), &p, err, sizeof(err));
	free(raw);
	if (rc != 0) {
		/* Stored policies were parsed when written; one that no longer parses grants
		 * nothing. */
		log_warn("stored policy %s does not parse: %s", name, err);
		return COFFER_ERR_NOT_FOUND;
	}
	pthread_rwlock_wrlock(&ps->lock);
	slot = ps_policy_slot(ps, name);
	if (gen == ps->generation && *slot == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->name, name, strlen(name) + 1);
		policy_ref(p);
		e->policy = p;
		*slot = e;
	}
	pthread_rwlock_unlock(&ps->lock);
done:
	*out = p;
	return 0;
}

static void ps_key_add(struct ps_key *k, const char *name)
{
	size_t n = strlen(name), cap;
	char *s;

	if (k->len > 0 && k->len - k->last - 1 == n && memcmp(k->s + k->last, name, n) == 0)
		return; /* a duplicate of the previous name */
	if (k->len + n + 1 > k->cap) {
		cap = 2 * (k->len + n + 1);
		s = k->s == k->stack ? xmalloc(cap) : xreallocarray(k->s, cap, 1);
		if (k->s == k->stack)
			memcpy(s, k->stack, k->len);
		k->s = s;
		k->cap = cap;
	}
	k->last = k->len;
	memcpy(k->s + k->len, name, n);
	k->len += n;
	k->s[k->len++] = '\n';
}

static int ps_name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The slow path of ps_key_build(), for names that do not arrive sorted. */
static void ps_key_build_sorted(struct ps_key *k, const json_t *names)
{
	char(*all)[POLICY_NAME_MAX + 1];
	size_t n = 0, i;
	json_t *v;

	k->len = 0;
	all = xcalloc(json_array_size(names) + 1, sizeof(*all));
	json_array_foreach(names, i, v)
	{
		if (json_is_string(v) && policy_name_normalize(json_string_value(v), all[n]) == 0)
			n++;
	}
	qsort(all, n, sizeof(*all), ps_name_cmp);
	for (i = 0; i < n; i++)
		ps_key_add(k, all[i]);
	free(all);
}

/* Names that cannot exist are skipped. Token policies arrive sorted: then this is one pass. */
static void ps_key_build(struct ps_key *k, const json_t *names)
{
	char name[POLICY_NAME_MAX + 1];
	json_t *v;
	size_t i;

	k->s = k->stack;
	k->cap = sizeof(k->stack);
	k->len = k->last = 0;
	json_array_foreach(names, i, v)
	{
		if (!json_is_string(v) || policy_name_normalize(json_string_value(v), name) != 0)
			continue;
		if (k->len > 0 && strncmp(name, k->s + k->last, k->len - k->last - 1) < 0) {
			ps_key_build_sorted(k, names);
			return;
		}
		ps_key_add(k, name);
	}
}

static void ps_key_free(struct ps_key *k)
{
	if (k->s != k->stack)
		free(k->s);
}

/* Compile the ACL of a key's names. */
static int ps_acl_compile(struct policy_store *ps, const struct ps_key *k, struct acl **out)
{
	char name[POLICY_NAME_MAX + 1];
	struct policy **pols;
	size_t n = 0, i, start, len;
	bool is_root = false;
	int rc = 0;

	pols = xcalloc(k->len / 2 + 1, sizeof(*pols));
	for (start = 0; start < k->len && rc == 0; start += len + 1) {
		len = (size_t)((char *)memchr(k->s + start, '\n', k->len - start) - (k->s + start));
		memcpy(name, k->s + start, len);
		name[len] = '\0';
		if (strcmp(name, "root") == 0) {
			is_root = true;
			continue;
		}
		rc = ps_policy_get(ps, name, &pols[n]);
		if (rc == 0)
			n++;
		else if (rc == COFFER_ERR_NOT_FOUND)
			rc = 0;
	}
	if (rc == 0)
		*out = acl_build(pols, n, is_root);
	for (i = 0; i < n; i++)
		policy_free(pols[i]);
	free(pols);
	return rc;
}

static struct ps_acl *ps_acl_find(struct policy_store *ps, uint64_t h, const struct ps_key *k)
{
	struct ps_acl *e;

	for (e = ps->acls[h % PS_ACL_BUCKETS]; e != NULL; e = e->next) {
		if (e->hash == h && e->key_len == k->len && memcmp(e->key, k->s, k->len) == 0)
			return e;
	}
	return NULL;
}

/* Cache acl under k unless the store changed since gen; *acl may become the cached twin. */
static void ps_acl_insert(struct policy_store *ps, uint64_t gen, uint64_t h, const struct ps_key *k,
                          struct acl **acl)
{
	struct ps_acl *e;

	pthread_rwlock_wrlock(&ps->lock);
	if (gen != ps->generation)
		goto out;
	if ((e = ps_acl_find(ps, h, k)) != NULL) {
		acl_release(*acl);
		acl_ref(e->acl);
		*acl = e->acl;
		goto out;
	}
	if (ps->n_acls >= PS_ACL_MAX)
		ps_acls_drop(ps);
	e = xmalloc(sizeof(*e) + k->len);
	e->hash = h;
	e->key_len = k->len;
	memcpy(e->key, k->s, k->len);
	acl_ref(*acl);
	e->acl = *acl;
	e->next = ps->acls[h % PS_ACL_BUCKETS];
	ps->acls[h % PS_ACL_BUCKETS] = e;
	ps->n_acls++;
out:
	pthread_rwlock_unlock(&ps->lock);
}

int policy_store_acl(struct policy_store *ps, const json_t *names, struct acl **out)
{
	struct acl *acl = NULL;
	struct ps_acl *e;
	struct ps_key k;
	uint64_t h, gen;
	int rc;

	*out = NULL;
	ps_key_build(&k, names);
	h = coffer_fnv1a_add(COFFER_FNV1A_INIT, k.s, k.len);
	pthread_rwlock_rdlock(&ps->lock);
	if ((e = ps_acl_find(ps, h, &k)) != NULL) {
		acl_ref(e->acl);
		acl = e->acl;
	}
	gen = ps->generation;
	pthread_rwlock_unlock(&ps->lock);
	if (acl == NULL) {
		rc = ps_acl_compile(ps, &k, &acl);
		if (rc != 0)
			goto out;
		ps_acl_insert(ps, gen, h, &k, &acl);
	}
	*out = acl;
	rc = 0;
out:
	ps_key_free(&k);
	return rc;
}

/* Store text as name and recache it; with write_lock held. */
static int ps_write(struct policy_store *ps, const char *name, const char *text, size_t len,
                    struct policy *p, char *err, size_t err_len)
{
	char path[sizeof(PS_PREFIX) + POLICY_NAME_MAX];
	json_t *rec = NULL, *raw;
	char *dump = NULL;
	int rc = COFFER_ERR_INVALID;

	raw = json_stringn(text, len);
	if (raw == NULL) {
		coffer_errf(err, err_len, "the policy must be UTF-8 text");
		goto out;
	}
	rec = json_pack("{s:s,s:o}", "name", name, "raw", raw);
	dump = coffer_json_dump(rec);
	snprintf(path, sizeof(path), PS_PREFIX "%s", name);
	rc = barrier_put(ps->b, path, (const uint8_t *)dump, strlen(dump));
	if (rc == 0)
		ps_changed(ps, name, p);
out:
	coffer_json_free_text(dump);
	json_decref(rec);
	return rc;
}

int policy_store_put(struct policy_store *ps, const char *name, const char *text, size_t len,
                     char *err, size_t err_len)
{
	char norm[POLICY_NAME_MAX + 1];
	struct policy *p = NULL;
	int rc;

	coffer_errf(err, err_len, "%s", "");
	rc = policy_name_normalize(name, norm);
	if (rc != 0) {
		coffer_errf(err, err_len,
		            "invalid policy name: use 1 to %d characters of "
		            "letters, digits, '_', '.' and '-'",
		            POLICY_NAME_MAX);
		goto out;
	}
	if (strcmp(norm, "root") == 0) {
		coffer_errf(err, err_len, "cannot update root policy");
		rc = COFFER_ERR_INVALID;
		goto out;
	}
	rc = policy_parse(norm, text, len, &p, err, err_len);
	if (rc != 0)
		goto out;
	pthread_mutex_lock(&ps->write_lock);
	rc = ps_write(ps, norm, text, len, p, err, err_len);
	pthread_mutex_unlock(&ps->write_lock);
out:
	policy_free(p);
	return rc;
}

int policy_store_get(struct policy_store *ps, const char *name, char **raw)
{
	char norm[POLICY_NAME_MAX + 1];

	*raw = NULL;
	if (policy_name_normalize(name, norm) != 0)
		return COFFER_ERR_NOT_FOUND;
	if (strcmp(norm, "root") == 0) {
		*raw = xstrdup("");
		return 0;
	}
	return ps_read_raw(ps, norm, raw);
}

int policy_store_delete(struct policy_store *ps, const char *name, char *err, size_t err_len)
{
	char norm[POLICY_NAME_MAX + 1], path[sizeof(PS_PREFIX) + POLICY_NAME_MAX];
	int rc;

	coffer_errf(err, err_len, "%s", "");
	if (policy_name_normalize(name, norm) != 0) {
		coffer_errf(err, err_len, "invalid policy name");
		return COFFER_ERR_INVALID;
	}
	if (strcmp(norm, "root") == 0 || strcmp(norm, "default") == 0) {
		coffer_errf(err, err_len, "cannot delete %s policy", norm);
		return COFFER_ERR_INVALID;
	}
	snprintf(path, sizeof(path), PS_PREFIX "%s", norm);
	pthread_mutex_lock(&ps->write_lock);
	rc = barrier_delete(ps->b, path);
	if (rc == 0)
		ps_changed(ps, norm, NULL);
	pthread_mutex_unlock(&ps->write_lock);
	return rc;
}

int policy_store_list(struct policy_store *ps, json_t **out)
{
	char **keys = NULL;
	size_t n = 0, i;
	bool has_root = false;
	json_t *a;
	int rc;

	*out = NULL;
	rc = barrier_list(ps->b, PS_PREFIX, &keys, &n);
	if (rc != 0)
		return rc;
	a = json_array();
	/* keys is sorted: "root" goes in before the first name that sorts after it. */
	for (i = 0; i <= n; i++) {
		if (!has_root && (i == n || strcmp(keys[i], "root") > 0)) {
			json_array_append_new(a, json_string("root"));
			has_root = true;
		}
		if (i < n && strchr(keys[i], '/') == NULL && strcmp(keys[i], "root") != 0)
			json_array_append_new(a, json_string(keys[i]));
	}
	*out = a;
	barrier_list_free(keys, n);
	return 0;
}

bool policy_store_exists(struct policy_store *ps, const char *name)
{
	char norm[POLICY_NAME_MAX + 1];
	struct policy *p = NULL;

	if (policy_name_normalize(name, norm) != 0)
		return false;
	if (strcmp(norm, "root") == 0 || strcmp(norm, "default") == 0)
		return true;
	if (ps_policy_get(ps, norm, &p) != 0)
		return false;
	policy_free(p);
	return true;
}

int policy_store_new(struct barrier *b, struct policy_store **out)
{
	struct policy_store *ps;

	*out = NULL;
	ps = xcalloc(1, sizeof(*ps));
	ps->b = b;
	if (pthread_rwlock_init(&ps->lock, NULL) != 0) {
		free(ps);
		return COFFER_ERR_INTERNAL;
	}
	if (pthread_mutex_init(&ps->write_lock, NULL) != 0) {
		pthread_rwlock_destroy(&ps->lock);
		free(ps);
		return COFFER_ERR_INTERNAL;
	}
	*out = ps;
	return 0;
}

void policy_store_flush(struct policy_store *ps)
{
	pthread_rwlock_wrlock(&ps->lock);
	ps_policies_drop(ps);
	ps_acls_drop(ps);
	ps->generation++;
	pthread_rwlock_unlock(&ps->lock);
}

void policy_store_free(struct policy_store *ps)
{
	if (ps == NULL)
		return;
	policy_store_flush(ps);
	pthread_mutex_destroy(&ps->write_lock);
	pthread_rwlock_destroy(&ps->lock);
	free(ps);
}

int policy_store_setup(struct policy_store *ps)
{
	struct policy *p = NULL;
	char *raw = NULL, err[256];
	int rc;

	policy_store_flush(ps);
	pthread_mutex_lock(&ps->write_lock);
	rc = ps_read_raw(ps, "default", &raw);
	if (rc == COFFER_ERR_NOT_FOUND) {
		rc = policy_parse("default", ps_default_policy, strlen(ps_default_policy), &p, err,
		                  sizeof(err));
		if (rc == 0)
			rc = ps_write(ps, "default", ps_default_policy, strlen(ps_default_policy),
			              p, err, sizeof(err));
	}
	pthread_mutex_unlock(&ps->write_lock);
	free(raw);
	policy_free(p);
	return rc;
}
