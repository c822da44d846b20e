/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier_int.h: internals shared by barrier.c (reads, lists, locking), barrier_layout.c (physical
 * keys and records) and barrier_batch.c (building and committing the physical rows of a batch).
 * Not for use outside those files.
 */
#ifndef COFFER_BARRIER_INT_H
#define COFFER_BARRIER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/barrier.h"
#include "crypto.h"
#include "store/keyring.h"
#include "store/storage.h"

/* Physical keys: 'd' | MAC(path) for data rows; 'i' | MAC(parent) | MAC(child) for index rows,
 * so that the children of a folder share the prefix 'i' | MAC(folder). */
#define BARRIER_DATA_KEY_LEN (1 + COFFER_MAC_LEN)
#define BARRIER_INDEX_PREFIX_LEN (1 + COFFER_MAC_LEN)
#define BARRIER_INDEX_KEY_LEN (1 + 2 * COFFER_MAC_LEN)

/*
 * Index rows known to be stored: a put whose index row is here stops its walk up the folders
 * there (the row's ancestors exist by the index invariant), so a write to a known folder costs no
 * index work. Filled after a put batch commits; emptied by any batch that deletes (those hold
 * tree_lock exclusively, so no put batch runs meanwhile) and at seal. Bounded: emptied when full.
 * Holds only physical keys (MACs), which are in the database file anyway.
 */
#define BARRIER_KNOWN_SLOTS 16384
struct barrier_known {
	pthread_mutex_t lock;
	size_t n;
	uint8_t (*keys)[BARRIER_INDEX_KEY_LEN]; /* BARRIER_KNOWN_SLOTS; all-zero = empty */
};

/*
 * Lock order: key_lock before tree_lock. key_lock guards kr and root_key (read for every call,
 * write for unseal, seal and rotate). tree_lock keeps the index invariant (a row's ancestors have
 * rows too): puts only add rows idempotently and share it; anything that prunes holds it
 * exclusively across its check and its commit.
 */
struct barrier {
	struct storage *st;
	pthread_rwlock_t key_lock;
	pthread_rwlock_t tree_lock;
	struct keyring *kr; /* NULL while sealed */
	uint8_t *root_key;  /* secmem; NULL while sealed */
	atomic_uint_fast64_t encryptions;
	struct barrier_known known;
};

/* barrier_layout.c */

/* Seal pt under the active term of kr into a malloc'd record in *out, with ad (the physical key)
 * authenticated, and count the encryption. 0 or a negative coffer_err; *out NULL on failure. */
int barrier_record_seal_active(struct barrier *b, const struct keyring *kr, const void *ad,
                               size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t **out,
                               size_t *out_len);
/* Open a record written under one of kr's terms (*out as record_open() gives it); an unknown term
 * fails authentication. */
int barrier_record_open_term(const struct keyring *kr, const uint8_t *rec, size_t rec_len,
                             const void *ad, size_t ad_len, uint8_t **out,
                             size_t *out_len) COFFER_WUR;
/* Length of the folder that contains p[0..len) (a leaf, or a folder ending in '/'); 0 = root. */
size_t barrier_parent_len(const char *p, size_t len);
void barrier_data_key(const struct keyring *kr, const char *path,
                      uint8_t key[BARRIER_DATA_KEY_LEN]);
/* The prefix shared by the index rows of the children of dir[0..dir_len). */
void barrier_index_prefix(const struct keyring *kr, const char *dir, size_t dir_len,
                          uint8_t key[BARRIER_INDEX_PREFIX_LEN]);
/* The index row of child p[0..child_len) inside its parent folder. */
void barrier_index_key(const struct keyring *kr, const char *p, size_t child_len,
                       uint8_t key[BARRIER_INDEX_KEY_LEN]);

/* barrier_batch.c */

/* Turn valid ops into data and index rows (adding index rows for new folders and pruning those of
 * folders left empty) and commit them in one storage batch. The caller holds key_lock shared with
 * kr == b->kr, and tree_lock: exclusively when any op is a delete. 0 or a negative coffer_err. */
int barrier_batch_apply(struct barrier *b, const struct keyring *kr, const struct barrier_op *ops,
                        size_t n_ops);

/* Set up and tear down b->known; forget every key (at seal). */
int barrier_known_init(struct barrier_known *k);
void barrier_known_destroy(struct barrier_known *k);
void barrier_known_clear(struct barrier_known *k);

#endif
