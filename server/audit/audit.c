/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c: the audit broker (DESIGN.md §6): the list of enabled devices, their keys in the
 * barrier, and the devices created through the API (persisted in the barrier). The request and
 * response hooks are in audit_hooks.c. core.c owns the broker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

/* The devices created through the API: {"<path>": {type, description, options{file_path}}}. */
#define AUDIT_TABLE_PATH "core/audit-table"
#define AUDIT_KEY_LEN 32

int audit_path_normalize(const char *in, char *out, size_t cap)
{
	size_t len = strlen(in), i;

	if (len > 0 && in[len - 1] == '/')
		len--;
	if (len == 0 || len > AUDIT_NAME_MAX || len + 2 > cap || (len == 1 && in[0] == '.') ||
	    (len == 2 && in[0] == '.' && in[1] == '.'))
		return COFFER_ERR_INVALID;
	for (i = 0; i < len; i++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
		           in[i]) == NULL)
			return COFFER_ERR_INVALID;
	}
	memcpy(out, in, len);
	out[len] = '/';
	out[len + 1] = '\0';
	return 0;
}

/* The device at path (normalized); caller holds ab->lock. */
static struct audit_device *audit_find(struct audit_broker *ab, const char *path, size_t *idx)
{
	size_t i;

	for (i = 0; i < ab->n_devs; i++) {
		if (strcmp(ab->devs[i]->path, path) == 0) {
			if (idx != NULL)
				*idx = i;
			return ab->devs[i];
		}
	}
	return NULL;
}

/* Add d to the list (the list takes the reference). */
static int audit_publish(struct audit_broker *ab, struct audit_device *d)
{
	int rc = 0;

	pthread_rwlock_wrlock(&ab->lock);
	if (audit_find(ab, d->path, NULL) != NULL)
		rc = COFFER_ERR_EXISTS;
	else if (ab->n_devs == AUDIT_MAX_DEVICES)
		rc = COFFER_ERR_LIMIT;
	else
		ab->devs[__atomic_add_fetch(&ab->n_devs, 1, __ATOMIC_RELEASE) - 1] = d;
	pthread_rwlock_unlock(&ab->lock);
	return rc;
}

/* COFFER_AUDIT_HASH ("sha256" or "blake2b") chooses the hash function of new chains over the
 * machine's preference (README, Audit log); anything else stops the server. */
static int audit_hash_from_env(void)
{
	const char *v = getenv("COFFER_AUDIT_HASH");

	if (v == NULL || v[0] == '\0') {
		audit_set_new_chain_alg(0);
	} else if (strcmp(v, "sha256") == 0) {
		audit_set_new_chain_alg(AUDIT_HASH_SHA256);
	} else if (strcmp(v, "blake2b") == 0) {
		audit_set_new_chain_alg(AUDIT_HASH_BLAKE2B);
	} else {
		log_error(
		    "COFFER_AUDIT_HASH=%s: the audit chain's hash is \"sha256\" or \"blake2b\"", v);
		return COFFER_ERR_CONFIG;
	}
	log_debug("audit: new chains hash with %s", audit_hash_name(audit_new_chain_alg()));
	return 0;
}

int audit_broker_new(const struct audit_device_conf *devices, size_t n, struct barrier *b,
                     struct audit_broker **out)
{
	struct audit_broker *ab;
	struct audit_device *d;
	char err[400];
	size_t i;
	int rc;

	*out = NULL;
	rc = audit_hash_from_env();
	if (rc != 0)
		return rc;
	ab = xcalloc(1, sizeof(*ab));
	ab->barrier = b;
	pthread_rwlock_init(&ab->lock, NULL);
	pthread_mutex_init(&ab->admin, NULL);
	for (i = 0; i < n; i++) {
		rc = audit_device_open(devices[i].path, devices[i].file_path,
		                       devices[i].description, true, false, &d, err, sizeof(err));
		if (rc == 0 && (rc = audit_publish(ab, d)) != 0)
			audit_device_release(d);
		if (rc != 0) {
			log_error("audit device %s: %s", devices[i].path,
			          rc == COFFER_ERR_IO || rc == COFFER_ERR_INTEGRITY
			              ? err
			              : coffer_strerror(rc));
			audit_broker_free(ab);
			return rc;
		}
		log_info("audit device %s writes to %s (chain at seq %llu)", d->path, d->file_path,
		         (unsigned long long)d->seq);
	}
	*out = ab;
	return 0;
}

void audit_broker_free(struct audit_broker *ab)
{
	size_t i;

	if (ab == NULL)
		return;
	/* Each device signs its file's last line ("shutdown") as it is released. */
	for (i = 0; i < ab->n_devs; i++)
		audit_device_release(ab->devs[i]);
	secmem_free(ab->sign_sk);
	pthread_mutex_destroy(&ab->admin);
	pthread_rwlock_destroy(&ab->lock);
	free(ab);
}

/* "core/audit/<name>/hmac-key" for the device path "<name>/". */
static void audit_key_path(const struct audit_device *d, char *out, size_t cap)
{
	snprintf(out, cap, "core/audit/%.*s/hmac-key", (int)(strlen(d->path) - 1), d->path);
}

/* Key d with its stored key, creating a random one the first time. */
static int audit_load_key(struct audit_broker *ab, struct audit_device *d)
{
	struct hmac_sha256_ctx *st = NULL;
	uint8_t fresh[AUDIT_KEY_LEN], *stored = NULL;
	const uint8_t *key = fresh;
	char kpath[AUDIT_NAME_MAX + 32];
	size_t len = 0;
	int rc;

	audit_key_path(d, kpath, sizeof(kpath));
	rc = barrier_get(ab->barrier, kpath, &stored, &len);
	if (rc == COFFER_ERR_NOT_FOUND) {
		coffer_random(fresh, sizeof(fresh));
		len = sizeof(fresh);
		rc = barrier_put(ab->barrier, kpath, fresh, len);
	} else if (rc == 0) {
		key = stored;
	}
	if (rc == 0 && len != AUDIT_KEY_LEN)
		rc = COFFER_ERR_INTEGRITY;
	if (rc == 0) {
		st = xsecmem_alloc(sizeof(*st));
		hmac_sha256_set_key(st, len, key);
	}
	secmem_wipe(fresh, sizeof(fresh));
	if (stored != NULL)
		secmem_freezero(stored, len);
	if (rc != 0)
		return rc;
	pthread_rwlock_wrlock(&d->key_lock);
	secmem_free(d->hmac);
	d->hmac = st;
	audit_auth_cache_clear(d);
	pthread_rwlock_unlock(&d->key_lock);
	return 0;
}

static void audit_wipe_key(struct audit_device *d)
{
	pthread_rwlock_wrlock(&d->key_lock);
	secmem_free(d->hmac);
	d->hmac = NULL;
	audit_auth_cache_clear(d);
	pthread_rwlock_unlock(&d->key_lock);
}

/* The persisted table of API-created devices ({} when none). */
static int audit_table_load(struct audit_broker *ab, json_t **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = barrier_get(ab->barrier, AUDIT_TABLE_PATH, &buf, &len);
	if (rc == COFFER_ERR_NOT_FOUND) {
		*out = json_object();
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = coffer_json_parse_object((const char *)buf, len, out, NULL, 0);
	secmem_freezero(buf, len);
	return rc != 0 ? COFFER_ERR_INTEGRITY : 0;
}

static int audit_table_save(struct audit_broker *ab, const json_t *table)
{
	char *text = coffer_json_dump(table);
	int rc;

	rc = barrier_put(ab->barrier, AUDIT_TABLE_PATH, (const uint8_t *)text, strlen(text));
	coffer_json_free_text(text);
	return rc;
}

/*
 * Open an API-created device found in the table at unseal. A file that cannot be opened still
 * gives a device (that cannot write) rather than none, so that requests fail closed instead of
 * going unaudited; SIGHUP retries the open.
 */
static void audit_open_api_device(struct audit_broker *ab, const char *path, const json_t *entry)
{
	const char *file_path =
	    json_string_value(json_object_get(json_object_get(entry, "options"), "file_path"));
	const char *desc = json_string_value(json_object_get(entry, "description"));
	struct audit_device *d = NULL;
	char err[400];

	if (file_path == NULL) {
		log_error("audit device %s: stored entry has no file_path; skipped", path);
		return;
	}
	if (audit_device_open(path, file_path, desc, false, true, &d, err, sizeof(err)) != 0) {
		log_error("audit device %s: %s; requests fail until it can write", path, err);
		d = audit_device_broken(path, file_path, desc);
	}
	if (audit_publish(ab, d) != 0)
		audit_device_release(d);
}

/* Open the devices of the table that are not open yet (the first unseal of this process). */
static int audit_load_api_devices(struct audit_broker *ab)
{
	const char *path;
	json_t *table = NULL, *entry;
	bool is_open;
	int rc;

	rc = audit_table_load(ab, &table);
	if (rc != 0)
		return rc;
	json_object_foreach(table, path, entry)
	{
		pthread_rwlock_rdlock(&ab->lock);
		is_open = audit_find(ab, path, NULL) != NULL;
		pthread_rwlock_unlock(&ab->lock);
		if (!is_open)
			audit_open_api_device(ab, path, entry);
	}
	json_decref(table);
	return 0;
}

/* --- signed checkpoints (audit_sign.c) ---------------------------------------------------- */

/* Give d the signing key, loading it from the barrier first (made on the first unseal). Caller
 * holds admin. */
static int audit_sign_device(struct audit_broker *ab, struct audit_device *d)
{
	int rc;

	if (ab->sign_sk == NULL) {
		rc = audit_sign_key_load(ab->barrier, &ab->sign_sk);
		if (rc != 0)
			return rc;
	}
	return audit_device_set_signing(d, ab->sign_sk, ab->barrier);
}

/* At seal: the file's last line is signed ("seal"), then d's copy of the key is wiped. */
static void audit_sign_sealed(struct audit_device *d)
{
	(void)audit_device_checkpoint(d, AUDIT_CKPT_SEAL);
	(void)audit_device_set_signing(d, NULL, NULL);
}

int audit_broker_public_key(struct audit_broker *ab, char *out)
{
	uint8_t pk[AUDIT_PK_LEN];
	int rc = 0;

	pthread_mutex_lock(&ab->admin);
	if (ab->sign_sk == NULL)
		rc = COFFER_ERR_SEALED;
	else
		crypto_sign_ed25519_sk_to_pk(pk, ab->sign_sk);
	pthread_mutex_unlock(&ab->admin);
	if (rc == 0)
		audit_pk_encode(pk, out);
	return rc;
}

int audit_broker_unsealed(struct audit_broker *ab)
{
	struct audit_device *devs[AUDIT_MAX_DEVICES];
	size_t i, n;
	int rc, first = 0;

	pthread_mutex_lock(&ab->admin);
	rc = audit_load_api_devices(ab);
	pthread_rwlock_rdlock(&ab->lock);
	n = ab->n_devs;
	memcpy(devs, ab->devs, n * sizeof(devs[0]));
	pthread_rwlock_unlock(&ab->lock);
	for (i = 0; i < n; i++) {
		/* The signing key first: a line written with the HMAC key needs it. */
		rc = audit_sign_device(ab, devs[i]);
		if (rc == 0)
			rc = audit_load_key(ab, devs[i]);
		if (rc != 0) {
			log_error("audit device %s: cannot load its key: %s", devs[i]->path,
			          coffer_strerror(rc));
			if (first == 0)
				first = rc;
		}
	}
	pthread_mutex_unlock(&ab->admin);
	return first != 0 ? first : rc;
}

void audit_broker_sealed(struct audit_broker *ab)
{
	size_t i;

	pthread_rwlock_rdlock(&ab->lock);
	for (i = 0; i < ab->n_devs; i++) {
		audit_sign_sealed(ab->devs[i]);
		audit_wipe_key(ab->devs[i]);
	}
	pthread_rwlock_unlock(&ab->lock);
	pthread_mutex_lock(&ab->admin);
	secmem_free(ab->sign_sk);
	ab->sign_sk = NULL;
	pthread_mutex_unlock(&ab->admin);
}

void audit_broker_reopen(struct audit_broker *ab)
{
	size_t i;

	pthread_rwlock_rdlock(&ab->lock);
	for (i = 0; i < ab->n_devs; i++) {
		if (audit_device_reopen(ab->devs[i]) == 0)
			log_info("audit device %s: reopened %s", ab->devs[i]->path,
			         ab->devs[i]->file_path);
	}
	pthread_rwlock_unlock(&ab->lock);
}

/* --- management (sys/audit) ------------------------------------------------------------------ */

static json_t *audit_entry_json(const struct audit_device *d)
{
	return json_pack("{s:s,s:s,s:{s:s}}", "type", "file", "description", d->description,
	                 "options", "file_path", d->file_path);
}

json_t *audit_broker_list_json(struct audit_broker *ab)
{
	json_t *out = json_object(), *e;
	size_t i;

	pthread_rwlock_rdlock(&ab->lock);
	for (i = 0; i < ab->n_devs; i++) {
		e = audit_entry_json(ab->devs[i]);
		if (e == NULL)
			continue;
		json_object_set_new(e, "local", json_false());
		json_object_set_new(e, "path", json_string(ab->devs[i]->path));
		/* The last checkpoint the server recorded: a log must reach it (audit verify). */
		json_object_set_new(e, "head", audit_device_head_json(ab->devs[i]));
		json_object_set_new(out, ab->devs[i]->path, e);
	}
	pthread_rwlock_unlock(&ab->lock);
	return out;
}

/* Persist the table with d added; caller holds admin. */
static int audit_table_add(struct audit_broker *ab, const struct audit_device *d)
{
	json_t *table = NULL;
	int rc;

	rc = audit_table_load(ab, &table);
	/* A file path jansson refuses (not UTF-8) cannot be stored. */
	if (rc == 0 && json_object_set_new(table, d->path, audit_entry_json(d)) != 0)
		rc = COFFER_ERR_INTERNAL;
	if (rc == 0)
		rc = audit_table_save(ab, table);
	json_decref(table);
	return rc;
}

int audit_broker_enable(struct audit_broker *ab, const char *path, const char *description,
                        const char *file_path, char *err, size_t err_len)
{
	struct audit_device *d = NULL;
	bool is_used;
	int rc;

	pthread_mutex_lock(&ab->admin);
	pthread_rwlock_rdlock(&ab->lock);
	is_used = audit_find(ab, path, NULL) != NULL;
	pthread_rwlock_unlock(&ab->lock);
	if (is_used) {
		snprintf(err, err_len, "path already in use: %s", path);
		rc = COFFER_ERR_EXISTS;
		goto out;
	}
	rc = audit_device_open(path, file_path, description, false, true, &d, err, err_len);
	if (rc != 0) {
		rc = COFFER_ERR_INVALID;
		goto out;
	}
	rc = audit_sign_device(ab, d);
	if (rc == 0)
		rc = audit_load_key(ab, d);
	if (rc == 0)
		rc = audit_table_add(ab, d);
	if (rc == 0)
		rc = audit_publish(ab, d);
	if (rc != 0) {
		snprintf(err, err_len, "cannot enable %s: %s", path, coffer_strerror(rc));
		audit_device_release(d);
		goto out;
	}
	log_info("audit device %s enabled through the API, writing to %s", path, file_path);
out:
	pthread_mutex_unlock(&ab->admin);
	return rc;
}

/* Forget an API-created device: its table entry and its key. Caller holds admin. */
static int audit_table_remove(struct audit_broker *ab, const struct audit_device *d)
{
	char kpath[AUDIT_NAME_MAX + 32];
	json_t *table = NULL;
	int rc;

	rc = audit_table_load(ab, &table);
	if (rc == 0 && json_object_del(table, d->path) == 0)
		rc = audit_table_save(ab, table);
	json_decref(table);
	audit_key_path(d, kpath, sizeof(kpath));
	if (rc == 0)
		rc = barrier_delete(ab->barrier, kpath);
	return rc;
}

int audit_broker_disable(struct audit_broker *ab, const char *path, char *err, size_t err_len)
{
	struct audit_device *d;
	size_t idx = 0;
	int rc = 0;

	pthread_mutex_lock(&ab->admin);
	pthread_rwlock_rdlock(&ab->lock);
	d = audit_find(ab, path, &idx);
	pthread_rwlock_unlock(&ab->lock);
	if (d == NULL)
		goto out; /* as Vault: disabling what is not there succeeds */
	if (d->is_config) {
		snprintf(err, err_len,
		         "audit device %s is declared in the config file; remove it there", path);
		rc = COFFER_ERR_INVALID;
		goto out;
	}
	rc = audit_table_remove(ab, d);
	if (rc != 0) {
		snprintf(err, err_len, "cannot disable %s: %s", path, coffer_strerror(rc));
		goto out;
	}
	pthread_rwlock_wrlock(&ab->lock);
	ab->devs[idx] = ab->devs[ab->n_devs - 1];
	__atomic_sub_fetch(&ab->n_devs, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&ab->lock);
	/* Requests in flight hold their own references; the file closes after the last. */
	audit_device_release(d);
	log_info("audit device %s disabled", path);
out:
	pthread_mutex_unlock(&ab->admin);
	return rc;
}

bool audit_broker_can_write(struct audit_broker *ab)
{
	struct audit_device *devs[AUDIT_MAX_DEVICES];
	size_t i, n;
	bool ok;

	pthread_rwlock_rdlock(&ab->lock);
	n = ab->n_devs;
	for (i = 0; i < n; i++) {
		devs[i] = ab->devs[i];
		audit_device_ref(devs[i]);
	}
	pthread_rwlock_unlock(&ab->lock);
	ok = n == 0;
	/* Every device is asked (not only until one can): each retries its own file. */
	for (i = 0; i < n; i++) {
		if (audit_device_can_write(devs[i]))
			ok = true;
		audit_device_release(devs[i]);
	}
	return ok;
}

int audit_broker_hash(struct audit_broker *ab, const char *path, const char *input, size_t len,
                      char *out)
{
	struct audit_device *d;
	int rc;

	pthread_rwlock_rdlock(&ab->lock);
	d = audit_find(ab, path, NULL);
	if (d != NULL)
		audit_device_ref(d);
	pthread_rwlock_unlock(&ab->lock);
	if (d == NULL)
		return COFFER_ERR_NOT_FOUND;
	pthread_rwlock_rdlock(&d->key_lock);
	rc = audit_hmac_text(d, input, len, out);
	pthread_rwlock_unlock(&d->key_lock);
	audit_device_release(d);
	return rc;
}
