/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seal.c: initialization and unseal (DESIGN.md §3): makes the root and unseal keys, splits the
 * unseal key with Shamir (or takes it from a key file), stores the clear seal configuration and the
 * wrapped root key, and collects shares until they open the root key. Called by sys.c and main.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"
#include "fileio.h"
#include "log.h"
#include "secmem.h"
#include "shamir.h"
#include "store/record.h"
#include "store/seal.h"
#include "xmalloc.h"

#define SHARE_LEN (COFFER_KEY_LEN + 1)
#define SEAL_CONFIG_VERSION 1
#define SEAL_CONFIG_KEY "s/seal-config"
#define ROOT_KEY_KEY "s/root-key"
/* barrier.c's keyring row: removed when an earlier initialization stopped half-way. */
#define KEYRING_KEY "s/keyring"
/* The root key in a record of term 0 under the unseal key (record.h). */
#define ROOT_RECORD_LEN (RECORD_OVERHEAD + COFFER_KEY_LEN)

struct seal_config {
	enum seal_type type;
	unsigned shares;
	unsigned threshold;
};

struct seal {
	struct storage *st;
	struct barrier *b;
	enum seal_type type; /* configured; the stored configuration wins once initialized */
	char *keyfile_path;
	pthread_mutex_t mu; /* guards everything below and the seal/unseal transitions */
	bool has_config;    /* initialization is permanent, so a config once read is cached */
	struct seal_config cfg;
	unsigned progress;
	uint8_t *shares; /* secmem: SHAMIR_MAX_SHARES slots of SHARE_LEN bytes */
	char nonce[37];
};

static void seal_progress_reset(struct seal *s)
{
	secmem_wipe(s->shares, (size_t)SHAMIR_MAX_SHARES * SHARE_LEN);
	s->progress = 0;
	s->nonce[0] = '\0';
}

int seal_new(struct storage *st, struct barrier *b, enum seal_type type, const char *keyfile_path,
             struct seal **out)
{
	struct seal *s = NULL;
	int ret = COFFER_ERR_CONFIG;

	*out = NULL;
	if (type == SEAL_KEYFILE && keyfile_path == NULL)
		goto out;
	s = xcalloc(1, sizeof(*s));
	s->st = st;
	s->b = b;
	s->type = type;
	s->shares = xsecmem_alloc((size_t)SHAMIR_MAX_SHARES * SHARE_LEN);
	if (keyfile_path != NULL)
		s->keyfile_path = xstrdup(keyfile_path);
	ret = COFFER_ERR_INTERNAL;
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		goto out;
	seal_progress_reset(s);
	*out = s;
	s = NULL;
	ret = 0;
out:
	if (s != NULL) {
		secmem_free(s->shares);
		free(s->keyfile_path);
		free(s);
	}
	return ret;
}

void seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	secmem_free(s->shares);
	free(s->keyfile_path);
	free(s);
}

static bool seal_nt_is_valid(unsigned n, unsigned t)
{
	return n >= 1 && n <= SHAMIR_MAX_SHARES && t >= 1 && t <= n && (n == 1 || t >= 2);
}

/* Parse the clear configuration; it is not authenticated, so everything is range-checked (a
 * tampered one can only make unseal fail). */
static int seal_config_parse(const uint8_t *buf, size_t len, struct seal_config *cfg)
{
	json_t *root = json_loadb((const char *)buf, len, 0, NULL);
	json_t *type, *n, *t, *version;
	int ret = COFFER_ERR_INTEGRITY;

	if (root == NULL || !json_is_object(root))
		goto out;
	type = json_object_get(root, "type");
	n = json_object_get(root, "secret_shares");
	t = json_object_get(root, "secret_threshold");
	version = json_object_get(root, "version");
	if (!json_is_string(type) || !json_is_integer(n) || !json_is_integer(t) ||
	    !json_is_integer(version) || json_integer_value(version) != SEAL_CONFIG_VERSION)
		goto out;
	if (strcmp(json_string_value(type), "shamir") == 0)
		cfg->type = SEAL_SHAMIR;
	else if (strcmp(json_string_value(type), "keyfile") == 0)
		cfg->type = SEAL_KEYFILE;
	else
		goto out;
	if (json_integer_value(n) < 1 || json_integer_value(n) > SHAMIR_MAX_SHARES ||
	    json_integer_value(t) < 1 || json_integer_value(t) > json_integer_value(n))
		goto out;
	cfg->shares = (unsigned)json_integer_value(n);
	cfg->threshold = (unsigned)json_integer_value(t);
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* 0 with s->cfg set, COFFER_ERR_UNINIT when not initialized, or a storage error. */
static int seal_load_config(struct seal *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (s->has_config)
		return 0;
	ret = storage_get(s->st, (const uint8_t *)SEAL_CONFIG_KEY, strlen(SEAL_CONFIG_KEY), &buf,
	                  &len);
	if (ret == COFFER_ERR_NOT_FOUND)
		ret = COFFER_ERR_UNINIT;
	if (ret != 0)
		goto out;
	if ((ret = seal_config_parse(buf, len, &s->cfg)) != 0) {
		log_error("seal: the stored seal configuration is malformed");
		goto out;
	}
	s->has_config = true;
out:
	free(buf);
	return ret;
}

static int storage_has(struct storage *st, const char *key)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int ret = storage_get(st, (const uint8_t *)key, strlen(key), &v, &len);

	free(v);
	if (ret == COFFER_ERR_NOT_FOUND)
		return 0;
	return ret == 0 ? 1 : ret;
}

/*
 * 0 when initialization may proceed. The root key and the configuration are written together,
 * last; a keyring without them is what an interrupted initialization leaves (nothing it protects
 * can be opened without the root key), so it is removed.
 */
static int seal_check_uninit(struct seal *s)
{
	int ret = seal_load_config(s);

	if (ret == 0)
		return COFFER_ERR_EXISTS;
	if (ret != COFFER_ERR_UNINIT)
		return ret;
	if ((ret = storage_has(s->st, ROOT_KEY_KEY)) != 0) {
		if (ret > 0)
			log_error("seal: a root key is stored without a seal configuration");
		return ret > 0 ? COFFER_ERR_INTEGRITY : ret;
	}
	if ((ret = storage_has(s->st, KEYRING_KEY)) <= 0)
		return ret;
	log_warn("seal: removing the keyring of an unfinished initialization");
	return storage_delete(s->st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY));
}

/* Read a key file of exactly COFFER_KEY_LEN bytes into secmem. COFFER_ERR_CONFIG otherwise. */
static int keyfile_read(const char *path, uint8_t **out)
{
	char err[512];
	size_t len;
	int ret;

	*out = NULL;
	if (path == NULL) {
		log_error("seal: no key file");
		return COFFER_ERR_CONFIG;
	}
	ret = coffer_read_secret_file(path, COFFER_KEY_LEN, COFFER_KEY_LEN, 0, out, &len, err,
	                              sizeof(err));
	if (ret != 0) {
		log_error("seal: the key file: %s", err);
		return COFFER_ERR_CONFIG;
	}
	if (err[0] != '\0')
		log_warn("seal: %s", err);
	return 0;
}

/* Open the stored root key with unseal_key and unseal the barrier with it. COFFER_ERR_INTEGRITY
 * when unseal_key is wrong. */
static int seal_unseal_with_key(struct seal *s, const uint8_t unseal_key[COFFER_KEY_LEN])
{
	uint8_t *rec = NULL, *root_key = NULL;
	size_t rec_len = 0;
	uint32_t term;
	int ret;

	ret =
	    storage_get(s->st, (const uint8_t *)ROOT_KEY_KEY, strlen(ROOT_KEY_KEY), &rec, &rec_len);
	if (ret == COFFER_ERR_NOT_FOUND)
		ret = COFFER_ERR_INTEGRITY;
	if (ret != 0)
		goto out;
	ret = COFFER_ERR_INTEGRITY;
	if (rec_len != ROOT_RECORD_LEN || record_term(rec, rec_len, &term) != 0 || term != 0)
		goto out;
	root_key = xsecmem_alloc(COFFER_KEY_LEN);
	ret =
	    record_open_to(rec, rec_len, ROOT_KEY_KEY, strlen(ROOT_KEY_KEY), unseal_key, root_key);
	if (ret != 0)
		goto out;
	ret = barrier_unseal(s->b, root_key);
out:
	secmem_free(root_key);
	free(rec);
	return ret;
}

/* Write everything init makes; the seal configuration goes last, in the batch with the root key,
 * because its presence means "initialized". stage writes its records while the new barrier is
 * open. Leaves the barrier sealed. */
static int seal_store_new(struct seal *s, const struct seal_config *cfg, const uint8_t *unseal_key,
                          const uint8_t *root_key, seal_stage_fn stage, void *stage_arg)
{
	uint8_t *rec = NULL;
	size_t rec_len = 0;
	char json[160];
	struct storage_op ops[2];
	int ret;

	if ((ret = barrier_initialize(s->b, root_key)) != 0)
		goto out;
	if (stage != NULL && (ret = stage(stage_arg)) != 0)
		goto out;
	ret = record_seal(0, unseal_key, ROOT_KEY_KEY, strlen(ROOT_KEY_KEY), root_key,
	                  COFFER_KEY_LEN, &rec, &rec_len);
	if (ret != 0)
		goto out;
	snprintf(json, sizeof(json),
	         "{\"type\":\"%s\",\"secret_shares\":%u,\"secret_threshold\":%u,\"version\":%d}",
	         cfg->type == SEAL_KEYFILE ? "keyfile" : "shamir", cfg->shares, cfg->threshold,
	         SEAL_CONFIG_VERSION);
	ops[0] = (struct storage_op){STORAGE_PUT, (const uint8_t *)ROOT_KEY_KEY,
	                             strlen(ROOT_KEY_KEY), rec, rec_len};
	ops[1] = (struct storage_op){STORAGE_PUT, (const uint8_t *)SEAL_CONFIG_KEY,
	                             strlen(SEAL_CONFIG_KEY), (const uint8_t *)json, strlen(json)};
	ret = storage_batch(s->st, ops, 2);
out:
	barrier_seal(s->b);
	free(rec);
	return ret;
}

/* Split unseal_key into out->shares (secmem) before anything is stored, so that a stored vault
 * always has its shares handed out. */
static int seal_split(const uint8_t *unseal_key, unsigned n, unsigned t,
                      struct seal_init_result *out)
{
	out->shares = xcalloc(n, sizeof(*out->shares));
	out->n_shares = n;
	out->share_len = SHARE_LEN;
	for (unsigned i = 0; i < n; i++)
		out->shares[i] = xsecmem_alloc(SHARE_LEN);
	return shamir_split(out->shares, n, t, unseal_key, COFFER_KEY_LEN);
}

int seal_initialize(struct seal *s, unsigned n, unsigned t, seal_stage_fn stage, void *stage_arg,
                    struct seal_init_result *out)
{
	struct seal_config cfg = {s->type, 1, 1};
	uint8_t *unseal_key = NULL, *root_key = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	if (s->type == SEAL_SHAMIR) {
		ret = COFFER_ERR_INVALID;
		if (!seal_nt_is_valid(n, t))
			goto out;
		cfg.shares = n;
		cfg.threshold = t;
	}
	if ((ret = seal_check_uninit(s)) != 0)
		goto out;
	if (s->type == SEAL_KEYFILE) {
		if ((ret = keyfile_read(s->keyfile_path, &unseal_key)) != 0)
			goto out;
	} else {
		unseal_key = xsecmem_alloc(COFFER_KEY_LEN);
		coffer_random(unseal_key, COFFER_KEY_LEN);
		if ((ret = seal_split(unseal_key, n, t, out)) != 0)
			goto out;
	}
	root_key = xsecmem_alloc(COFFER_KEY_LEN);
	coffer_random(root_key, COFFER_KEY_LEN);
	if ((ret = seal_store_new(s, &cfg, unseal_key, root_key, stage, stage_arg)) != 0)
		goto out;
	s->cfg = cfg;
	s->has_config = true;
	seal_progress_reset(s);
	log_info("seal: initialized (%s, %u shares, threshold %u)",
	         cfg.type == SEAL_KEYFILE ? "keyfile" : "shamir", cfg.shares, cfg.threshold);
out:
	pthread_mutex_unlock(&s->mu);
	if (ret != 0)
		seal_init_result_clear(out);
	secmem_free(root_key);
	secmem_free(unseal_key);
	return ret;
}

void seal_init_result_clear(struct seal_init_result *r)
{
	if (r->shares != NULL) {
		for (unsigned i = 0; i < r->n_shares; i++)
			secmem_free(r->shares[i]);
		free(r->shares);
	}
	secmem_free(r->root_token);
	memset(r, 0, sizeof(*r));
}

/* Combine the collected shares and unseal; a set that does not open the root key is a bad share. */
static int seal_unseal_shares(struct seal *s)
{
	const uint8_t *parts[SHAMIR_MAX_SHARES];
	uint8_t *key;
	int ret;

	key = xsecmem_alloc(COFFER_KEY_LEN);
	for (unsigned i = 0; i < s->progress; i++)
		parts[i] = s->shares + (size_t)i * SHARE_LEN;
	ret = shamir_combine(key, parts, s->progress, SHARE_LEN);
	if (ret == 0)
		ret = seal_unseal_with_key(s, key);
	if (ret == COFFER_ERR_INVALID || ret == COFFER_ERR_INTEGRITY) {
		log_warn("seal: unseal failed: the shares do not open the root key");
		ret = COFFER_ERR_BAD_SHARE;
	}
	secmem_free(key);
	return ret;
}

int seal_submit_share(struct seal *s, const uint8_t *share, size_t len)
{
	int ret;

	pthread_mutex_lock(&s->mu);
	if ((ret = seal_load_config(s)) != 0)
		goto out;
	ret = COFFER_ERR_INVALID;
	if (s->cfg.type != SEAL_SHAMIR)
		goto out;
	ret = 0;
	if (!barrier_is_sealed(s->b))
		goto out;
	if (share == NULL || len != SHARE_LEN) {
		seal_progress_reset(s);
		ret = COFFER_ERR_BAD_SHARE;
		goto out;
	}
	/* The same share twice is an operator's slip (or a replay): it would not bring the vault
	 * closer to unsealing, so say so instead of counting nothing in silence. Progress stays. */
	for (unsigned i = 0; i < s->progress; i++) {
		if (secmem_equal(s->shares + (size_t)i * SHARE_LEN, share, SHARE_LEN) == 0) {
			ret = COFFER_ERR_EXISTS;
			goto out;
		}
	}
	memcpy(s->shares + (size_t)s->progress * SHARE_LEN, share, SHARE_LEN);
	if (s->progress++ == 0)
		coffer_uuid(s->nonce);
	if (s->progress < s->cfg.threshold)
		goto out;
	ret = seal_unseal_shares(s);
	seal_progress_reset(s);
out:
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void seal_reset_progress(struct seal *s)
{
	pthread_mutex_lock(&s->mu);
	seal_progress_reset(s);
	pthread_mutex_unlock(&s->mu);
}

int seal_unseal_keyfile(struct seal *s)
{
	uint8_t *key = NULL;
	int ret;

	pthread_mutex_lock(&s->mu);
	if ((ret = seal_load_config(s)) != 0)
		goto out;
	ret = COFFER_ERR_CONFIG;
	if (s->type != SEAL_KEYFILE || s->cfg.type != SEAL_KEYFILE) {
		log_error("seal: the vault was not initialized with the keyfile seal");
		goto out;
	}
	if ((ret = keyfile_read(s->keyfile_path, &key)) != 0)
		goto out;
	ret = seal_unseal_with_key(s, key);
	if (ret == COFFER_ERR_INTEGRITY) {
		log_error("seal: the key file does not open the root key");
		ret = COFFER_ERR_CONFIG;
	}
out:
	pthread_mutex_unlock(&s->mu);
	secmem_free(key);
	return ret;
}

void seal_seal(struct seal *s)
{
	pthread_mutex_lock(&s->mu);
	barrier_seal(s->b);
	seal_progress_reset(s);
	pthread_mutex_unlock(&s->mu);
}

void seal_get_status(struct seal *s, struct seal_status *out)
{
	enum seal_type type;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	out->initialized = seal_load_config(s) == 0;
	type = out->initialized ? s->cfg.type : s->type;
	out->type = type == SEAL_KEYFILE ? "keyfile" : "shamir";
	out->sealed = barrier_is_sealed(s->b);
	if (out->initialized) {
		out->threshold = s->cfg.threshold;
		out->shares = s->cfg.shares;
	}
	out->progress = s->progress;
	memcpy(out->nonce, s->nonce, sizeof(out->nonce));
	pthread_mutex_unlock(&s->mu);
}
