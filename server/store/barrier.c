/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier.c: encryption at rest (DESIGN.md §3). Turns logical paths into keyed-MAC physical keys
 * and plaintext into XChaCha20-Poly1305 records bound to their key, reads and lists the encrypted
 * directory index, and holds the keyring while unsealed. Called by every engine; batch writes are
 * built in barrier_batch.c, physical keys and records in barrier_layout.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/barrier.h"
#include "store/barrier_int.h"
#include "store/keyring.h"
#include "store/record.h"
#include "log.h"
#include "path.h"
#include "secmem.h"
#include "xmalloc.h"

static const char KEYRING_KEY[] = "s/keyring";

struct list_ctx {
	const struct keyring *kr;
	char **names;
	size_t n, cap;
};

/* A logical path (no leading, trailing or doubled '/'), or a folder ("" or '/'-terminated). */
static bool path_is_valid(const char *p, bool is_folder)
{
	size_t len;

	if (p == NULL)
		return false;
	len = strlen(p);
	if (len > PATH_MAX_LEN || (len == 0 && !is_folder))
		return false;
	if (len == 0)
		return true;
	if (p[0] == '/' || strstr(p, "//") != NULL)
		return false;
	return (p[len - 1] == '/') == is_folder;
}

/* Take the key lock shared; COFFER_ERR_SEALED (lock released) when there is no keyring. */
static int barrier_enter(struct barrier *b)
{
	if (pthread_rwlock_rdlock(&b->key_lock) != 0)
		return COFFER_ERR_INTERNAL;
	if (b->kr == NULL) {
		pthread_rwlock_unlock(&b->key_lock);
		return COFFER_ERR_SEALED;
	}
	return 0;
}

static void barrier_leave(struct barrier *b)
{
	pthread_rwlock_unlock(&b->key_lock);
}

int barrier_new(struct storage *st, struct barrier **out)
{
	pthread_rwlockattr_t attr;
	struct barrier *b = NULL;
	int ret;

	*out = NULL;
	if (pthread_rwlockattr_init(&attr) != 0)
		return COFFER_ERR_INTERNAL;
	/* Writers first, so that a seal or a prune is not starved by a stream of requests; safe
	 * because no thread takes either lock twice. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	b = xcalloc(1, sizeof(*b));
	b->st = st;
	atomic_init(&b->encryptions, 0);
	ret = COFFER_ERR_INTERNAL;
	if (pthread_rwlock_init(&b->key_lock, &attr) != 0)
		goto out;
	if (pthread_rwlock_init(&b->tree_lock, &attr) != 0) {
		pthread_rwlock_destroy(&b->key_lock);
		goto out;
	}
	if ((ret = barrier_known_init(&b->known)) != 0) {
		pthread_rwlock_destroy(&b->tree_lock);
		pthread_rwlock_destroy(&b->key_lock);
		goto out;
	}
	*out = b;
	b = NULL;
	ret = 0;
out:
	free(b);
	pthread_rwlockattr_destroy(&attr);
	return ret;
}

void barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	barrier_seal(b);
	barrier_known_destroy(&b->known);
	pthread_rwlock_destroy(&b->tree_lock);
	pthread_rwlock_destroy(&b->key_lock);
	free(b);
}

/* Replace the keys; the caller holds key_lock exclusively. Takes ownership of kr and root_key. */
static void barrier_install(struct barrier *b, struct keyring *kr, uint8_t *root_key)
{
	keyring_free(b->kr);
	secmem_free(b->root_key);
	barrier_known_clear(&b->known);
	b->kr = kr;
	b->root_key = root_key;
	atomic_store(&b->encryptions, 0);
}

static int keyring_store(struct storage *st, const struct keyring *kr,
                         const uint8_t root_key[COFFER_KEY_LEN])
{
	uint8_t *ser = NULL, *rec = NULL;
	size_t ser_len = 0, rec_len = 0;
	int ret;

	keyring_serialize(kr, &ser, &ser_len);
	ret = record_seal(0, root_key, KEYRING_KEY, strlen(KEYRING_KEY), ser, ser_len, &rec,
	                  &rec_len);
	if (ret != 0)
		goto out;
	ret = storage_put(st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), rec, rec_len);
out:
	free(rec);
	secmem_free(ser);
	return ret;
}

static int keyring_load(struct storage *st, const uint8_t root_key[COFFER_KEY_LEN],
                        struct keyring **out)
{
	uint8_t *rec = NULL, *ser = NULL;
	size_t rec_len = 0, ser_len = 0;
	uint32_t term;
	int ret;

	*out = NULL;
	ret = storage_get(st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), &rec, &rec_len);
	if (ret == COFFER_ERR_NOT_FOUND)
		ret = COFFER_ERR_UNINIT;
	if (ret != 0)
		goto out;
	ret = COFFER_ERR_INTEGRITY;
	if (record_term(rec, rec_len, &term) != 0 || term != 0)
		goto out;
	ret = record_open(rec, rec_len, KEYRING_KEY, strlen(KEYRING_KEY), root_key, &ser, &ser_len);
	if (ret != 0)
		goto out;
	ret = keyring_deserialize(ser, ser_len, out);
out:
	if (ser != NULL)
		secmem_freezero(ser, ser_len + 1);
	free(rec);
	return ret;
}

int barrier_initialize(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN])
{
	struct keyring *kr = NULL;
	uint8_t *rk = NULL, *old = NULL;
	size_t old_len = 0;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	ret = storage_get(b->st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), &old, &old_len);
	if (ret == 0)
		ret = COFFER_ERR_EXISTS;
	if (ret != COFFER_ERR_NOT_FOUND)
		goto out;
	kr = keyring_new();
	rk = xsecmem_dup(root_key, COFFER_KEY_LEN);
	if ((ret = keyring_store(b->st, kr, rk)) != 0)
		goto out;
	barrier_install(b, kr, rk);
	kr = NULL;
	rk = NULL;
	log_info("barrier: keyring created, term 1");
out:
	pthread_rwlock_unlock(&b->key_lock);
	free(old);
	secmem_free(rk);
	keyring_free(kr);
	return ret;
}

int barrier_unseal(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN])
{
	struct keyring *kr = NULL;
	uint8_t *rk = NULL;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	if ((ret = keyring_load(b->st, root_key, &kr)) != 0)
		goto out;
	rk = xsecmem_dup(root_key, COFFER_KEY_LEN);
	barrier_install(b, kr, rk);
	log_info("barrier: unsealed, active term %u", keyring_active(kr)->term);
	kr = NULL;
	rk = NULL;
	ret = 0;
out:
	pthread_rwlock_unlock(&b->key_lock);
	secmem_free(rk);
	keyring_free(kr);
	return ret;
}

int barrier_reload(struct barrier *b)
{
	struct keyring *kr = NULL;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	ret = COFFER_ERR_SEALED;
	if (b->kr == NULL)
		goto out;
	if ((ret = keyring_load(b->st, b->root_key, &kr)) != 0)
		goto out;
	keyring_free(b->kr);
	/* What this node remembers of the index rows may be stale too. */
	barrier_known_clear(&b->known);
	b->kr = kr;
	kr = NULL;
out:
	pthread_rwlock_unlock(&b->key_lock);
	keyring_free(kr);
	return ret;
}

void barrier_seal(struct barrier *b)
{
	pthread_rwlock_wrlock(&b->key_lock);
	barrier_install(b, NULL, NULL);
	pthread_rwlock_unlock(&b->key_lock);
}

bool barrier_is_sealed(struct barrier *b)
{
	bool is_sealed;

	pthread_rwlock_rdlock(&b->key_lock);
	is_sealed = b->kr == NULL;
	pthread_rwlock_unlock(&b->key_lock);
	return is_sealed;
}

int barrier_get(struct barrier *b, const char *path, uint8_t **value, size_t *len)
{
	uint8_t key[BARRIER_DATA_KEY_LEN];
	uint8_t *rec = NULL, *pt = NULL;
	size_t rec_len = 0, pt_len = 0;
	int ret;

	*value = NULL;
	*len = 0;
	if (!path_is_valid(path, false))
		return COFFER_ERR_INVALID;
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	barrier_data_key(b->kr, path, key);
	if ((ret = storage_get(b->st, key, sizeof(key), &rec, &rec_len)) != 0)
		goto out;
	ret = barrier_record_open_term(b->kr, rec, rec_len, key, sizeof(key), &pt, &pt_len);
	if (ret == COFFER_ERR_INTEGRITY)
		log_warn("barrier: a record failed authentication");
	if (ret != 0)
		goto out;
	*value = pt;
	*len = pt_len;
out:
	barrier_leave(b);
	free(rec);
	return ret;
}

int barrier_batch(struct barrier *b, const struct barrier_op *ops, size_t n_ops)
{
	bool has_delete = false;
	int ret;

	for (size_t i = 0; i < n_ops; i++) {
		bool is_put = ops[i].type == BARRIER_PUT || ops[i].type == BARRIER_PUT_UNLISTED;

		if (!path_is_valid(ops[i].path, false) ||
		    (!is_put && ops[i].type != BARRIER_DELETE &&
		     ops[i].type != BARRIER_DELETE_UNLISTED) ||
		    (is_put && ops[i].value == NULL && ops[i].len > 0))
			return COFFER_ERR_INVALID;
		/* Only a delete that prunes the index needs the tree to itself. */
		has_delete |= ops[i].type == BARRIER_DELETE;
	}
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	if (has_delete)
		pthread_rwlock_wrlock(&b->tree_lock);
	else
		pthread_rwlock_rdlock(&b->tree_lock);
	ret = barrier_batch_apply(b, b->kr, ops, n_ops);
	pthread_rwlock_unlock(&b->tree_lock);
	barrier_leave(b);
	return ret;
}

int barrier_put(struct barrier *b, const char *path, const uint8_t *value, size_t len)
{
	struct barrier_op op = {BARRIER_PUT, path, value, len};

	return barrier_batch(b, &op, 1);
}

int barrier_delete(struct barrier *b, const char *path)
{
	struct barrier_op op = {BARRIER_DELETE, path, NULL, 0};

	return barrier_batch(b, &op, 1);
}

/* Scan callback: decrypt one index row into a name (a component, '/'-suffixed for folders). */
static int list_scan_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                        size_t value_len)
{
	struct list_ctx *c = arg;
	uint8_t *name = NULL;
	size_t name_len = 0;
	char *slash;
	int ret;

	if (key_len != BARRIER_INDEX_KEY_LEN)
		return COFFER_ERR_INTEGRITY;
	ret = barrier_record_open_term(c->kr, value, value_len, key, key_len, &name, &name_len);
	if (ret != 0)
		return ret;
	slash = memchr(name, '/', name_len);
	if (name_len == 0 || strlen((char *)name) != name_len ||
	    (slash != NULL && slash != (char *)name + name_len - 1)) {
		ret = COFFER_ERR_INTEGRITY;
		goto out;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->names = xreallocarray(c->names, c->cap, sizeof(*c->names));
	}
	c->names[c->n++] = (char *)name;
	name = NULL;
	ret = 0;
out:
	if (name != NULL)
		secmem_freezero(name, name_len + 1);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int barrier_list(struct barrier *b, const char *folder, char ***keys, size_t *n)
{
	struct list_ctx c = {0};
	uint8_t prefix[BARRIER_INDEX_PREFIX_LEN];
	int ret;

	*keys = NULL;
	*n = 0;
	if (!path_is_valid(folder, true))
		return COFFER_ERR_INVALID;
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	c.kr = b->kr;
	pthread_rwlock_rdlock(&b->tree_lock);
	barrier_index_prefix(b->kr, folder, strlen(folder), prefix);
	ret = storage_scan(b->st, prefix, sizeof(prefix), list_scan_cb, &c);
	pthread_rwlock_unlock(&b->tree_lock);
	barrier_leave(b);
	if (ret == COFFER_ERR_INTEGRITY)
		log_warn("barrier: an index row failed authentication");
	if (ret != 0) {
		barrier_list_free(c.names, c.n);
		return ret;
	}
	if (c.n > 1)
		qsort(c.names, c.n, sizeof(*c.names), name_cmp);
	*keys = c.names;
	*n = c.n;
	return 0;
}

/* A growable list of malloc'd paths. */
struct path_list {
	char **v;
	size_t n, cap;
};

/* Append path (taking it). */
static void path_list_push(struct path_list *p, char *path)
{
	if (p->n == p->cap) {
		p->cap = p->cap * 2 + 16;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n++] = path;
}

static int list_tree(struct barrier *b, const char *folder, struct path_list *p)
{
	char **keys = NULL, *full;
	size_t i, n_keys = 0;
	int ret;

	ret = barrier_list(b, folder, &keys, &n_keys);
	for (i = 0; ret == 0 && i < n_keys; i++) {
		xasprintf(&full, "%s%s", folder, keys[i]);
		if (full[strlen(full) - 1] == '/') {
			ret = list_tree(b, full, p);
			free(full);
		} else {
			path_list_push(p, full);
		}
	}
	barrier_list_free(keys, n_keys);
	return ret;
}

int barrier_list_tree(struct barrier *b, const char *folder, char ***paths, size_t *n)
{
	struct path_list p = {0};
	int ret = list_tree(b, folder, &p);

	if (ret != 0) {
		barrier_list_free(p.v, p.n);
		p.v = NULL;
		p.n = 0;
	}
	*paths = p.v;
	*n = p.n;
	return ret;
}

void barrier_list_free(char **keys, size_t n)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		secmem_freezero(keys[i], strlen(keys[i]) + 1);
	free(keys);
}

int barrier_rotate(struct barrier *b)
{
	struct keyring *kr = NULL;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	ret = COFFER_ERR_SEALED;
	if (b->kr == NULL)
		goto out;
	if ((ret = keyring_rotate(b->kr, &kr)) != 0)
		goto out;
	if ((ret = keyring_store(b->st, kr, b->root_key)) != 0)
		goto out;
	keyring_free(b->kr);
	b->kr = kr;
	kr = NULL;
	atomic_store(&b->encryptions, 0);
	log_info("barrier: rotated, active term %u", keyring_active(b->kr)->term);
out:
	pthread_rwlock_unlock(&b->key_lock);
	keyring_free(kr);
	return ret;
}

int barrier_key_status(struct barrier *b, struct barrier_key_status *out)
{
	const struct keyring_term *t;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	t = keyring_active(b->kr);
	out->term = t->term;
	out->install_time = t->install_time;
	out->encryptions = atomic_load(&b->encryptions);
	barrier_leave(b);
	return 0;
}

int barrier_hash(struct barrier *b, const char *label, const void *msg, size_t len,
                 uint8_t out[COFFER_MAC_LEN])
{
	int ret;

	if ((ret = barrier_enter(b)) != 0)
		return ret;
	coffer_mac2(out, label, msg, len, keyring_hash_key(b->kr));
	barrier_leave(b);
	return 0;
}
