/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.c: the auth and secrets mount tables (load, find, add, remove, tune), persisted through
 * the barrier at "core/mounts/auth" and "core/mounts/secrets". The router finds the engine of a
 * path here; core.c loads the tables at unseal and clears them at seal; mount_routes.c serves them.
 */
#include <pthread.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "crypto.h"
#include "engines/mount.h"
#include "engines/watch.h"
#include "identity/lease.h"
#include "json.h"
#include "log.h"
#include "path.h"
#include "secmem.h"
#include "xmalloc.h"

#define MOUNT_PATH_AUTH "core/mounts/auth"
#define MOUNT_PATH_SECRETS "core/mounts/secrets"
/* Leaf deletions per barrier batch when purging a mount's data. */
#define MOUNT_PURGE_BATCH 512

/*
 * The current entries are an immutable array: writers (serialized by write_lock) build a new one,
 * persist it, and swap it in under the rwlock, which readers hold only to find and reference an
 * entry. Entries are immutable once published; a tune publishes a changed copy.
 */
struct mount_table {
	const struct engine_services *svc;
	const struct engine *const *engines; /* NULL-terminated */
	bool is_auth;
	pthread_rwlock_t lock;
	pthread_mutex_t write_lock;
	struct mount_entry **entries;
	size_t n;
};

/* Secrets paths that other subsystems own. */
static const char *const mount_reserved_secrets[] = {"sys/", "auth/", "cubbyhole/", "identity/"};

const char *mount_entry_store_prefix(const struct mount_entry *m)
{
	if (m->engine != NULL && m->engine->fixed_prefix != NULL)
		return m->engine->fixed_prefix;
	return m->storage_prefix;
}

const struct engine *mount_table_engine(const struct mount_table *t, const char *type)
{
	const struct engine *const *e;

	if (type == NULL)
		return NULL;
	for (e = t->engines; *e != NULL; e++) {
		if ((*e)->is_auth == t->is_auth &&
		    (strcmp((*e)->type, type) == 0 ||
		     ((*e)->alias != NULL && strcmp((*e)->alias, type) == 0)))
			return *e;
	}
	return NULL;
}

bool mount_table_is_mountable(const struct mount_table *t, const char *type)
{
	if (mount_table_engine(t, type) == NULL)
		return false;
	return !(t->is_auth && strcmp(type, "token") == 0);
}

static void mount_entry_free(struct mount_entry *m)
{
	if (m == NULL)
		return;
	free(m->path);
	free(m->type);
	free(m->description);
	free(m->accessor);
	free(m->uuid);
	json_decref(m->options);
	free(m);
}

void mount_entry_release(struct mount_entry *m)
{
	if (m != NULL && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mount_entry_free(m);
}

static void mount_entry_ref(struct mount_entry *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

/* A new entry with one reference; options is copied (NULL = {}). */

static struct mount_entry *mount_entry_new(const struct mount_table *t, const char *path,
                                           const char *type, const char *description,
                                           const char *accessor, const char *uuid,
                                           const json_t *options)
{
	struct mount_entry *m = xcalloc(1, sizeof(*m));
	const struct engine *variant = NULL;

	m->refs = 1;
	m->is_auth = t->is_auth;
	m->path = xstrdup(path);
	m->type = xstrdup(type);
	m->description = xstrdup(description != NULL ? description : "");
	m->accessor = xstrdup(accessor);
	m->uuid = xstrdup(uuid);
	m->options = options != NULL ? json_deep_copy(options) : json_object();
	m->engine = mount_table_engine(t, type);
	if (m->engine != NULL && m->engine->variant != NULL)
		variant = m->engine->variant(type, m->options);
	if (variant != NULL)
		m->engine = variant;
	snprintf(m->storage_prefix, sizeof(m->storage_prefix), "%s/%s/",
	         t->is_auth ? "auth" : "logical", uuid);
	return m;
}

static struct mount_entry *mount_entry_copy(const struct mount_table *t,
                                            const struct mount_entry *m)
{
	struct mount_entry *n =
	    mount_entry_new(t, m->path, m->type, m->description, m->accessor, m->uuid, m->options);

	n->default_lease_ttl_s = m->default_lease_ttl_s;
	n->max_lease_ttl_s = m->max_lease_ttl_s;
	return n;
}

int mount_table_new(const struct engine_services *svc, const struct engine *const *engines,
                    bool is_auth, struct mount_table **out)
{
	struct mount_table *t;

	*out = NULL;
	t = xcalloc(1, sizeof(*t));
	t->svc = svc;
	t->engines = engines;
	t->is_auth = is_auth;
	if (pthread_rwlock_init(&t->lock, NULL) != 0) {
		free(t);
		return COFFER_ERR_INTERNAL;
	}
	if (pthread_mutex_init(&t->write_lock, NULL) != 0) {
		pthread_rwlock_destroy(&t->lock);
		free(t);
		return COFFER_ERR_INTERNAL;
	}
	*out = t;
	return 0;
}

static void mount_entries_free(struct mount_entry **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mount_entry_release(v[i]);
	free(v);
}

/* Publish v (n entries, whose references move to the table) and release the old array. Called
 * with write_lock held. */
static void mount_table_swap(struct mount_table *t, struct mount_entry **v, size_t n)
{
	struct mount_entry **old;
	size_t old_n;

	pthread_rwlock_wrlock(&t->lock);
	old = t->entries;
	old_n = t->n;
	t->entries = v;
	t->n = n;
	pthread_rwlock_unlock(&t->lock);
	mount_entries_free(old, old_n);
}

void mount_table_clear(struct mount_table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->write_lock);
	mount_table_swap(t, NULL, 0);
	pthread_mutex_unlock(&t->write_lock);
}

void mount_table_free(struct mount_table *t)
{
	if (t == NULL)
		return;
	mount_table_clear(t);
	pthread_mutex_destroy(&t->write_lock);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

/* The stored form of an entry (no engine, no storage prefix: both follow from type and uuid). */
static json_t *mount_entry_storage_json(const struct mount_entry *m)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:O}", "path", m->path, "type", m->type,
	                 "description", m->description, "accessor", m->accessor, "uuid", m->uuid,
	                 "default_lease_ttl", (json_int_t)m->default_lease_ttl_s, "max_lease_ttl",
	                 (json_int_t)m->max_lease_ttl_s, "options", m->options);
}

/* COFFER_ERR_INVALID when jansson refuses an entry: path_normalize() lets any byte above 0x7f
 * through, and a mount path that is not UTF-8 is the client's mistake. */
static int mount_table_persist(struct mount_table *t, struct mount_entry *const *v, size_t n)
{
	json_t *arr = json_array(), *item;
	char *text = NULL;
	size_t i;
	int rc = COFFER_ERR_INVALID;

	for (i = 0; i < n; i++) {
		item = mount_entry_storage_json(v[i]);
		if (item == NULL)
			goto out;
		json_array_append_new(arr, item);
	}
	text = coffer_json_dump(arr);
	rc = barrier_put(t->svc->barrier, t->is_auth ? MOUNT_PATH_AUTH : MOUNT_PATH_SECRETS,
	                 (const uint8_t *)text, strlen(text));
out:
	coffer_json_free_text(text);
	json_decref(arr);
	return rc;
}

/* A copy of the current array with a reference on every entry, leaving room for one more.
 * Called with write_lock held (so the array cannot change). */
static struct mount_entry **mount_table_dup(struct mount_table *t)
{
	struct mount_entry **v = xcalloc(t->n + 1, sizeof(*v));
	size_t i;

	for (i = 0; i < t->n; i++) {
		v[i] = t->entries[i];
		mount_entry_ref(v[i]);
	}
	return v;
}

/* Persist v and publish it; on failure v is released. Called with write_lock held. */
static int mount_table_commit(struct mount_table *t, struct mount_entry **v, size_t n)
{
	int rc = mount_table_persist(t, v, n);

	if (rc != 0) {
		log_error("persisting the %s mount table failed: %s",
		          t->is_auth ? "auth" : "secrets", coffer_strerror(rc));
		mount_entries_free(v, n);
		return rc;
	}
	mount_table_swap(t, v, n);
	return 0;
}

/* "auth_approle_1a2b3c4d" or "kv_1a2b3c4d", unique in the table. Called with write_lock held. */
static void mount_new_accessor(struct mount_table *t, const char *type, char *out, size_t cap)
{
	uint32_t r;
	size_t i;
	bool is_unique;

	do {
		coffer_random(&r, sizeof(r));
		snprintf(out, cap, "%s%s_%08x", t->is_auth ? "auth_" : "", type, (unsigned)r);
		is_unique = true;
		for (i = 0; i < t->n; i++)
			is_unique = is_unique && strcmp(t->entries[i]->accessor, out) != 0;
	} while (!is_unique);
}

/* A new entry for a new mount, with a fresh accessor and uuid. Called with write_lock held. */
static struct mount_entry *mount_entry_create(struct mount_table *t, const char *path,
                                              const char *type, const char *description,
                                              const json_t *options)
{
	char accessor[96], uuid[37];

	mount_new_accessor(t, type, accessor, sizeof(accessor));
	coffer_uuid(uuid);
	return mount_entry_new(t, path, type, description, accessor, uuid, options);
}

/* The built-in mounts of a new table: auth token/, and secrets secret/ once kv exists. */
static void mount_table_builtins(struct mount_table *t, struct mount_entry ***out, size_t *n)
{
	struct mount_entry **v = xcalloc(1, sizeof(*v));
	json_t *opts = NULL;

	*out = v;
	*n = 0;
	if (t->is_auth) {
		v[0] = mount_entry_create(t, "token/", "token", "token based credentials", NULL);
	} else if (mount_table_engine(t, "kv") != NULL) {
		opts = json_pack("{s:s}", "version", "2");
		v[0] = mount_entry_create(t, "secret/", "kv", "key/value secret storage", opts);
		json_decref(opts);
	} else {
		log_info("no kv engine: the secrets table starts without secret/");
		return;
	}
	*n = 1;
}

/* Checks of a stored entry; only integrity failures or corruption can make them fail. */
static struct mount_entry *mount_entry_from_json(const struct mount_table *t, json_t *o)
{
	const char *path = NULL, *type = NULL, *desc = NULL, *acc = NULL, *uuid = NULL;
	json_int_t dttl = 0, mttl = 0;
	json_t *opts = NULL;
	struct mount_entry *m;

	if (json_unpack(o, "{s:s,s:s,s?s,s:s,s:s,s?I,s?I,s?o}", "path", &path, "type", &type,
	                "description", &desc, "accessor", &acc, "uuid", &uuid, "default_lease_ttl",
	                &dttl, "max_lease_ttl", &mttl, "options", &opts) != 0)
		return NULL;
	if (path[0] == '\0' || path[strlen(path) - 1] != '/' || strlen(uuid) != 36 ||
	    (opts != NULL && !json_is_object(opts)))
		return NULL;
	m = mount_entry_new(t, path, type, desc, acc, uuid, opts);
	m->default_lease_ttl_s = dttl;
	m->max_lease_ttl_s = mttl;
	if (m->engine == NULL)
		log_warn("mount %s (%s) has no engine in this build: not served", path, type);
	return m;
}

static int mount_table_parse(struct mount_table *t, const uint8_t *text, size_t len,
                             struct mount_entry ***out, size_t *n)
{
	struct mount_entry **v = NULL;
	json_t *arr, *item;
	size_t i;
	int rc = COFFER_ERR_INTERNAL;

	*out = NULL;
	*n = 0;
	arr = json_loadb((const char *)text, len, 0, NULL);
	if (!json_is_array(arr))
		goto out;
	v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	json_array_foreach(arr, i, item)
	{
		v[i] = mount_entry_from_json(t, item);
		if (v[i] == NULL)
			goto out;
	}
	*out = v;
	*n = json_array_size(arr);
	v = NULL;
	rc = 0;
out:
	if (v != NULL)
		mount_entries_free(v, json_array_size(arr));
	json_decref(arr);
	return rc;
}

int mount_table_load(struct mount_table *t)
{
	const char *where = t->is_auth ? MOUNT_PATH_AUTH : MOUNT_PATH_SECRETS;
	struct mount_entry **v = NULL;
	uint8_t *text = NULL;
	size_t len = 0, n = 0;
	int rc;

	pthread_mutex_lock(&t->write_lock);
	rc = barrier_get(t->svc->barrier, where, &text, &len);
	if (rc == COFFER_ERR_NOT_FOUND) {
		mount_table_builtins(t, &v, &n);
		/* An empty table is not stored, so that a later build with kv creates secret/. */
		rc = 0;
		if (n > 0)
			rc = mount_table_commit(t, v, n);
		else
			mount_table_swap(t, v, n);
		goto out;
	}
	if (rc != 0)
		goto out;
	rc = mount_table_parse(t, text, len, &v, &n);
	if (rc != 0) {
		log_error("the stored %s mount table is malformed",
		          t->is_auth ? "auth" : "secrets");
		goto out;
	}
	mount_table_swap(t, v, n);
out:
	secmem_freezero(text, len);
	pthread_mutex_unlock(&t->write_lock);
	return rc;
}

/* Length of the match of mount path mp against path, or 0: "approle/" matches "approle",
 * "approle/" and "approle/role/x". */
static size_t mount_match(const char *mp, const char *path)
{
	size_t n = strlen(mp);

	if (strncmp(path, mp, n) == 0)
		return n;
	if (strncmp(path, mp, n - 1) == 0 && path[n - 1] == '\0')
		return n - 1;
	return 0;
}

int mount_table_find(struct mount_table *t, const char *path, struct mount_entry **out,
                     const char **rest)
{
	struct mount_entry *best = NULL;
	size_t i, len, best_len = 0;

	*out = NULL;
	if (rest != NULL)
		*rest = NULL;
	if (path == NULL)
		return COFFER_ERR_NOT_FOUND;
	pthread_rwlock_rdlock(&t->lock);
	for (i = 0; i < t->n; i++) {
		if (t->entries[i]->engine == NULL)
			continue;
		len = mount_match(t->entries[i]->path, path);
		if (len > best_len) {
			best = t->entries[i];
			best_len = len;
		}
	}
	if (best != NULL)
		mount_entry_ref(best);
	pthread_rwlock_unlock(&t->lock);
	if (best == NULL)
		return COFFER_ERR_NOT_FOUND;
	*out = best;
	if (rest != NULL)
		*rest = path + best_len;
	return 0;
}

int mount_path_normalize(const char *path, char *out, size_t cap)
{
	size_t len;

	if (path == NULL || cap < 2 || path_normalize(path, strlen(path), out, cap - 1) != 0)
		return COFFER_ERR_INVALID;
	len = strlen(out);
	if (len == 0)
		return COFFER_ERR_INVALID;
	if (out[len - 1] != '/') {
		out[len] = '/';
		out[len + 1] = '\0';
	}
	return 0;
}

static bool mount_is_reserved(const struct mount_table *t, const char *path)
{
	size_t i;

	if (t->is_auth)
		return strncmp(path, "token/", 6) == 0;
	for (i = 0; i < sizeof(mount_reserved_secrets) / sizeof(mount_reserved_secrets[0]); i++) {
		if (strncmp(path, mount_reserved_secrets[i], strlen(mount_reserved_secrets[i])) ==
		    0)
			return true;
	}
	return false;
}

/* True when one of the '/'-terminated paths a and b is a prefix of the other. */
static bool mount_overlaps(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return strncmp(a, b, la < lb ? la : lb) == 0;
}

static bool mount_ttls_valid(int64_t default_s, int64_t max_s)
{
	if (default_s < 0 || max_s < 0)
		return false;
	return default_s == 0 || max_s == 0 || default_s <= max_s;
}

/* Index of the entry at exactly path, or -1. Called with write_lock held. */
static ssize_t mount_table_index(const struct mount_table *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->entries[i]->path, path) == 0)
			return (ssize_t)i;
	}
	return -1;
}

int mount_table_add(struct mount_table *t, const char *path, const char *type,
                    const char *description, int64_t default_lease_ttl_s, int64_t max_lease_ttl_s,
                    json_t *options)
{
	char norm[PATH_MAX_LEN + 2];
	struct mount_entry **v = NULL;
	size_t i;
	int rc;

	if (mount_path_normalize(path, norm, sizeof(norm)) != 0 || mount_is_reserved(t, norm) ||
	    !mount_table_is_mountable(t, type) ||
	    !mount_ttls_valid(default_lease_ttl_s, max_lease_ttl_s) ||
	    (options != NULL && !json_is_object(options)))
		return COFFER_ERR_INVALID;
	pthread_mutex_lock(&t->write_lock);
	rc = COFFER_ERR_EXISTS;
	for (i = 0; i < t->n; i++) {
		if (mount_overlaps(t->entries[i]->path, norm))
			goto out;
	}
	v = mount_table_dup(t);
	v[t->n] = mount_entry_create(t, norm, type, description, options);
	v[t->n]->default_lease_ttl_s = default_lease_ttl_s;
	v[t->n]->max_lease_ttl_s = max_lease_ttl_s;
	rc = mount_table_commit(t, v, t->n + 1);
	if (rc == 0)
		log_info("mounted %s%s (%s)", t->is_auth ? "auth/" : "", norm, type);
out:
	pthread_mutex_unlock(&t->write_lock);
	return rc;
}

/* Delete everything below prefix, in batches. */
static int mount_purge_prefix(struct barrier *b, const char *prefix)
{
	struct barrier_op ops[MOUNT_PURGE_BATCH];
	char **paths = NULL;
	size_t i, j, n = 0;
	int rc;

	rc = barrier_list_tree(b, prefix, &paths, &n);
	for (i = 0; rc == 0 && i < n; i += j) {
		for (j = 0; j < MOUNT_PURGE_BATCH && i + j < n; j++)
			ops[j] = (struct barrier_op){BARRIER_DELETE, paths[i + j], NULL, 0};
		rc = barrier_batch(b, ops, j);
	}
	barrier_list_free(paths, n);
	return rc;
}

/* Remove a mount's data: what its engine keeps outside the directory index (its purge), then
 * every listed record below its storage prefix. */
static int mount_purge(const struct mount_table *t, const struct mount_entry *gone)
{
	struct engine_ctx ctx;
	int rc = 0;

	if (gone->engine != NULL && gone->engine->purge != NULL) {
		engine_ctx_init(&ctx, t->svc, gone->engine->uses, mount_entry_store_prefix(gone));
		rc = gone->engine->purge(&ctx);
	}
	if (rc == 0)
		rc = mount_purge_prefix(t->svc->barrier, gone->storage_prefix);
	return rc;
}

/* Tell watchers that every path below the mount at path changed. */
static void mount_announce_gone(struct watch *w, const char *path)
{
	uint64_t index = watch_next_index(w);

	watch_notify_prefix(w, path, index);
}

/* Revoke every token issued through the auth mount at path ("approle/"). */
static void mount_revoke_auth_tokens(struct lease_mgr *leases, const char *path)
{
	char prefix[PATH_MAX_LEN + 8];
	int err;

	snprintf(prefix, sizeof(prefix), "auth/%s", path);
	err = lease_mgr_revoke_prefix(leases, prefix, true);
	if (err != 0)
		log_error("revoking the tokens of %s failed: %s", prefix, coffer_strerror(err));
}

/* Normalize path into norm (PATH_MAX_LEN + 2 bytes), take write_lock and find the entry at norm:
 * its index with write_lock held, or -1 (malformed path or no such mount) without it. */
static ssize_t mount_table_lock_find(struct mount_table *t, const char *path, char *norm,
                                     size_t norm_cap)
{
	ssize_t at;

	if (mount_path_normalize(path, norm, norm_cap) != 0)
		return -1;
	pthread_mutex_lock(&t->write_lock);
	at = mount_table_index(t, norm);
	if (at < 0)
		pthread_mutex_unlock(&t->write_lock);
	return at;
}

int mount_table_remove(struct mount_table *t, const char *path)
{
	char norm[PATH_MAX_LEN + 2];
	struct mount_entry **v = NULL, *gone = NULL;
	ssize_t at;
	size_t i, n = 0;
	int rc;

	at = mount_table_lock_find(t, path, norm, sizeof(norm));
	if (at < 0)
		return COFFER_ERR_NOT_FOUND;
	rc = COFFER_ERR_INVALID;
	if (t->is_auth && strcmp(t->entries[at]->type, "token") == 0)
		goto out;
	v = xcalloc(t->n, sizeof(*v));
	for (i = 0; i < t->n; i++) {
		if ((ssize_t)i == at)
			continue;
		v[n] = t->entries[i];
		mount_entry_ref(v[n++]);
	}
	gone = t->entries[at];
	mount_entry_ref(gone);
	/* Unpublish first, so that no new request reaches the mount while its data goes. */
	rc = mount_table_commit(t, v, n);
out:
	pthread_mutex_unlock(&t->write_lock);
	if (rc == 0) {
		/* Tokens issued through an auth mount go with it (their lease ids start with its
		 * login path), as in Vault. */
		if (t->is_auth && t->svc->leases != NULL)
			mount_revoke_auth_tokens(t->svc->leases, norm);
		rc = mount_purge(t, gone);
		if (rc != 0)
			log_error("purging the data of %s failed: %s", gone->accessor,
			          coffer_strerror(rc));
		else
			log_info("unmounted %s%s (%s)", t->is_auth ? "auth/" : "", norm,
			         gone->accessor);
		/* Every secret under the mount is gone: a change to watchers of any of them. */
		if (!t->is_auth && t->svc->watch != NULL)
			mount_announce_gone(t->svc->watch, norm);
	}
	mount_entry_release(gone);
	return rc;
}

int mount_table_tune(struct mount_table *t, const char *path, const char *description,
                     const int64_t *default_lease_ttl_s, const int64_t *max_lease_ttl_s)
{
	char norm[PATH_MAX_LEN + 2];
	struct mount_entry **v = NULL, *m = NULL;
	ssize_t at;
	int rc;

	at = mount_table_lock_find(t, path, norm, sizeof(norm));
	if (at < 0)
		return COFFER_ERR_NOT_FOUND;
	m = mount_entry_copy(t, t->entries[at]);
	if (description != NULL) {
		free(m->description);
		m->description = xstrdup(description);
	}
	if (default_lease_ttl_s != NULL)
		m->default_lease_ttl_s = *default_lease_ttl_s;
	if (max_lease_ttl_s != NULL)
		m->max_lease_ttl_s = *max_lease_ttl_s;
	rc = COFFER_ERR_INVALID;
	if (!mount_ttls_valid(m->default_lease_ttl_s, m->max_lease_ttl_s))
		goto out;
	v = mount_table_dup(t);
	mount_entry_release(v[at]);
	v[at] = m;
	m = NULL;
	rc = mount_table_commit(t, v, t->n);
out:
	pthread_mutex_unlock(&t->write_lock);
	mount_entry_free(m);
	return rc;
}

json_t *mount_entry_json(const struct mount_entry *m)
{
	json_t *opts;

	/* Vault shows null options for an auth mount that has none. */
	if (m->is_auth && json_object_size(m->options) == 0)
		opts = json_null();
	else
		opts = json_deep_copy(m->options);
	return json_pack("{s:s,s:s,s:s,s:s,s:{s:I,s:I,s:b},s:o?,s:b,s:b,s:b}", "type", m->type,
	                 "description", m->description, "accessor", m->accessor, "uuid", m->uuid,
	                 "config", "default_lease_ttl", (json_int_t)m->default_lease_ttl_s,
	                 "max_lease_ttl", (json_int_t)m->max_lease_ttl_s, "force_no_cache", 0,
	                 "options", opts, "local", 0, "seal_wrap", 0, "external_entropy_access", 0);
}

json_t *mount_table_json(struct mount_table *t)
{
	json_t *o = json_object();
	size_t i;

	/* Every entry was stored as JSON (mount_table_persist()): jansson takes its strings. */
	pthread_rwlock_rdlock(&t->lock);
	for (i = 0; i < t->n; i++)
		json_object_set_new(o, t->entries[i]->path, mount_entry_json(t->entries[i]));
	pthread_rwlock_unlock(&t->lock);
	return o;
}
