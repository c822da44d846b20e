/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier_layout.c: the barrier's physical layout (barrier_int.h): the keyed-MAC keys of data and
 * directory-index rows, and records sealed under the keyring's active term or opened under the
 * term they name. Shared by barrier.c (reads, lists) and barrier_batch.c (writes).
 */
#include <stdatomic.h>
#include <string.h>

#include "store/barrier_int.h"
#include "store/keyring.h"
#include "store/record.h"

/* Domain labels for the path-key MACs: data rows, and both halves of index rows. */
#define LABEL_DATA "coffer-path-data"
#define LABEL_INDEX "coffer-path-index"

/* Open a record written under a keyring term; an unknown term fails authentication. */
int barrier_record_open_term(const struct keyring *kr, const uint8_t *rec, size_t rec_len,
                             const void *ad, size_t ad_len, uint8_t **out, size_t *out_len)
{
	const struct keyring_term *t;
	uint32_t term;

	*out = NULL;
	*out_len = 0;
	if (record_term(rec, rec_len, &term) != 0 || (t = keyring_term(kr, term)) == NULL)
		return COFFER_ERR_INTEGRITY;
	return record_open(rec, rec_len, ad, ad_len, t->key, out, out_len);
}

int barrier_record_seal_active(struct barrier *b, const struct keyring *kr, const void *ad,
                               size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t **out,
                               size_t *out_len)
{
	const struct keyring_term *t = keyring_active(kr);

	atomic_fetch_add(&b->encryptions, 1);
	return record_seal(t->term, t->key, ad, ad_len, pt, pt_len, out, out_len);
}

size_t barrier_parent_len(const char *p, size_t len)
{
	for (size_t i = len - 1; i > 0; i--) {
		if (p[i - 1] == '/')
			return i;
	}
	return 0;
}

void barrier_data_key(const struct keyring *kr, const char *path, uint8_t key[BARRIER_DATA_KEY_LEN])
{
	key[0] = 'd';
	coffer_mac2(key + 1, LABEL_DATA, path, strlen(path), keyring_path_key(kr));
}

void barrier_index_prefix(const struct keyring *kr, const char *dir, size_t dir_len,
                          uint8_t key[BARRIER_INDEX_PREFIX_LEN])
{
	key[0] = 'i';
	coffer_mac2(key + 1, LABEL_INDEX, dir, dir_len, keyring_path_key(kr));
}

void barrier_index_key(const struct keyring *kr, const char *p, size_t child_len,
                       uint8_t key[BARRIER_INDEX_KEY_LEN])
{
	barrier_index_prefix(kr, p, barrier_parent_len(p, child_len), key);
	coffer_mac2(key + BARRIER_INDEX_PREFIX_LEN, LABEL_INDEX, p, child_len,
	            keyring_path_key(kr));
}
