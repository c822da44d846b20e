/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier.h: encryption at rest (DESIGN.md §3). The only code that turns logical paths and
 * plaintext into physical keys and ciphertext. Values are XChaCha20-Poly1305 records
 * (version | term | nonce | ciphertext+tag) with the physical key as additional data; a logical
 * path p is stored under "d" | MAC(path key, p), and one-level listing works through directory
 * index rows "i" | MAC(dir) | MAC(path) holding the encrypted last component. While sealed, every
 * call fails with COFFER_ERR_SEALED. All functions are thread-safe.
 */
#ifndef COFFER_BARRIER_H
#define COFFER_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "err.h"
#include "store/storage.h"

struct barrier;

/*
 * PUT and DELETE keep the directory index (a put adds its folders' rows, a delete prunes those left
 * empty). The _UNLISTED kinds touch the data row alone: for records that are never listed but
 * always found through another record (KV versions, through their metadata), so that writing one
 * costs one row. Whoever writes unlisted records must delete them the same way.
 */
enum barrier_op_type {
	BARRIER_PUT,
	BARRIER_DELETE,
	BARRIER_PUT_UNLISTED,
	BARRIER_DELETE_UNLISTED,
};

struct barrier_op {
	enum barrier_op_type type;
	const char *path; /* normalized logical path, no trailing '/' */
	const uint8_t *value;
	size_t len;
};

struct barrier_key_status {
	uint32_t term;
	int64_t install_time; /* Unix seconds */
	uint64_t encryptions; /* with the active term since this process unsealed */
};

/* A sealed barrier over st (not owned). */
int barrier_new(struct storage *st, struct barrier **out);
/* Seal (wiping keys) and free; NULL allowed. */
void barrier_free(struct barrier *b);

/* Create the keyring, store it encrypted under root_key, and unseal. COFFER_ERR_EXISTS if a
 * keyring is already stored. */
int barrier_initialize(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN]);
/* Load and decrypt the keyring with root_key and unseal. COFFER_ERR_INTEGRITY for a wrong key,
 * COFFER_ERR_UNINIT when no keyring is stored. */
int barrier_unseal(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN]) COFFER_WUR;
/* Wipe the keys; later calls fail with COFFER_ERR_SEALED until unsealed again. */
void barrier_seal(struct barrier *b);
/* Read the keyring again with the root key held (an HA node becoming active: the active node
 * before it may have rotated). COFFER_ERR_SEALED when sealed. */
int barrier_reload(struct barrier *b) COFFER_WUR;
bool barrier_is_sealed(struct barrier *b);

/*
 * Read path. *value is malloc'd and holds plaintext: release it with secmem_freezero(*value, *len).
 * COFFER_ERR_NOT_FOUND when absent, COFFER_ERR_INTEGRITY when the record fails authentication
 * (moved, edited, or written under another key): never wrong data.
 */
int barrier_get(struct barrier *b, const char *path, uint8_t **value, size_t *len) COFFER_WUR;
/* Write path (and the directory index rows of its ancestors), durably. */
int barrier_put(struct barrier *b, const char *path, const uint8_t *value, size_t len);
/* Delete path and prune index rows of folders that became empty. Absent is not an error. */
int barrier_delete(struct barrier *b, const char *path);
/* Apply puts and deletes atomically (one storage batch). */
int barrier_batch(struct barrier *b, const struct barrier_op *ops, size_t n_ops);
/*
 * One-level listing of folder (normalized; "" for the root or ending in '/'): *keys is a malloc'd
 * array of n malloc'd names, sorted, folders '/'-suffixed. Free with barrier_list_free().
 * An empty folder gives n = 0, not an error.
 */
int barrier_list(struct barrier *b, const char *folder, char ***keys, size_t *n);
/* The full paths of every listed record below folder, at any depth (folders themselves are not
 * records). Not atomic: a concurrent write may or may not be seen. Free with barrier_list_free(). */
int barrier_list_tree(struct barrier *b, const char *folder, char ***paths, size_t *n);
void barrier_list_free(char **keys, size_t n);

/* Add a keyring term (sys/rotate) and persist the keyring. */
int barrier_rotate(struct barrier *b);
int barrier_key_status(struct barrier *b, struct barrier_key_status *out);
/* Keyed hash for stored secrets such as token hashes: MAC(hash key, label | msg). */
int barrier_hash(struct barrier *b, const char *label, const void *msg, size_t len,
                 uint8_t out[COFFER_MAC_LEN]);

#endif
