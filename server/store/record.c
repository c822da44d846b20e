/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c: sealing and opening records at rest (record.h), for the barrier, the keyring row and
 * the seal's root key record.
 */
#include <stdlib.h>

#include "secmem.h"
#include "store/record.h"
#include "xmalloc.h"

static void record_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int record_seal(uint32_t term, const uint8_t key[COFFER_KEY_LEN], const void *ad, size_t ad_len,
                const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
	uint8_t *rec;
	int ret;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SIZE_MAX - RECORD_OVERHEAD)
		return COFFER_ERR_TOO_LARGE;
	rec = xmalloc(pt_len + RECORD_OVERHEAD);
	rec[0] = RECORD_VERSION;
	record_put_u32(rec + 1, term);
	ret = coffer_aead_seal(rec + RECORD_HEADER_LEN, pt, pt_len, ad, ad_len, key);
	if (ret != 0) {
		free(rec);
		return ret;
	}
	*out = rec;
	*out_len = pt_len + RECORD_OVERHEAD;
	return 0;
}

int record_term(const uint8_t *rec, size_t rec_len, uint32_t *term)
{
	if (rec_len < RECORD_OVERHEAD || rec[0] != RECORD_VERSION)
		return COFFER_ERR_INTEGRITY;
	*term = (uint32_t)rec[1] << 24 | (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 8 | rec[4];
	return 0;
}

int record_open_to(const uint8_t *rec, size_t rec_len, const void *ad, size_t ad_len,
                   const uint8_t key[COFFER_KEY_LEN], uint8_t *pt)
{
	if (rec_len < RECORD_OVERHEAD || rec[0] != RECORD_VERSION)
		return COFFER_ERR_INTEGRITY;
	if (coffer_aead_open(pt, rec + RECORD_HEADER_LEN, rec_len - RECORD_HEADER_LEN, ad, ad_len,
	                     key) != 0) {
		secmem_wipe(pt, rec_len - RECORD_OVERHEAD);
		return COFFER_ERR_INTEGRITY;
	}
	return 0;
}

int record_open(const uint8_t *rec, size_t rec_len, const void *ad, size_t ad_len,
                const uint8_t key[COFFER_KEY_LEN], uint8_t **out, size_t *out_len)
{
	size_t pt_len;
	uint8_t *pt;

	*out = NULL;
	*out_len = 0;
	if (rec_len < RECORD_OVERHEAD)
		return COFFER_ERR_INTEGRITY;
	pt_len = rec_len - RECORD_OVERHEAD;
	pt = xmalloc(pt_len + 1);
	if (record_open_to(rec, rec_len, ad, ad_len, key, pt) != 0) {
		secmem_freezero(pt, pt_len + 1);
		return COFFER_ERR_INTEGRITY;
	}
	pt[pt_len] = '\0';
	*out = pt;
	*out_len = pt_len;
	return 0;
}
