/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.c: the data-encryption keyring (DESIGN.md §3): creation, copy-on-write rotation and the
 * strict binary form that barrier.c stores encrypted under the root key. Everything lives in
 * secmem.
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crypto.h"
#include "store/keyring.h"
#include "secmem.h"
#include "xmalloc.h"

#define KEYRING_VERSION 1
/* version | active term | path key | hash key | count */
#define KEYRING_HEADER_LEN (1 + 4 + COFFER_KEY_LEN + COFFER_KEY_LEN + 4)
/* term | install time | key */
#define KEYRING_TERM_LEN (4 + 8 + COFFER_KEY_LEN)
/* Far beyond any real number of rotations; bounds the allocation a stored count can ask for. */
#define KEYRING_MAX_TERMS 1000000u

/* Immutable once built; terms are sorted by term, strictly ascending, the last one active. */
struct keyring {
	size_t n_terms;
	struct keyring_term *terms; /* secmem */
	uint8_t path_key[COFFER_KEY_LEN];
	uint8_t hash_key[COFFER_KEY_LEN];
};

static struct keyring *keyring_alloc(size_t n_terms)
{
	struct keyring *kr = xsecmem_alloc(sizeof(*kr));

	memset(kr, 0, sizeof(*kr));
	kr->terms = xsecmem_alloc(n_terms * sizeof(*kr->terms));
	memset(kr->terms, 0, n_terms * sizeof(*kr->terms));
	kr->n_terms = n_terms;
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	secmem_free(kr->terms);
	secmem_free(kr);
}

static void keyring_term_init(struct keyring_term *t, uint32_t term)
{
	t->term = term;
	t->install_time = coffer_clock_now_s();
	coffer_random(t->key, sizeof(t->key));
}

struct keyring *keyring_new(void)
{
	struct keyring *kr = keyring_alloc(1);

	keyring_term_init(&kr->terms[0], 1);
	coffer_random(kr->path_key, sizeof(kr->path_key));
	coffer_random(kr->hash_key, sizeof(kr->hash_key));
	return kr;
}

int keyring_rotate(const struct keyring *kr, struct keyring **out)
{
	const struct keyring_term *active = keyring_active(kr);
	struct keyring *nk;

	*out = NULL;
	if (active->term == UINT32_MAX || kr->n_terms >= KEYRING_MAX_TERMS)
		return COFFER_ERR_LIMIT;
	nk = keyring_alloc(kr->n_terms + 1);
	memcpy(nk->terms, kr->terms, kr->n_terms * sizeof(*kr->terms));
	keyring_term_init(&nk->terms[kr->n_terms], active->term + 1);
	memcpy(nk->path_key, kr->path_key, sizeof(nk->path_key));
	memcpy(nk->hash_key, kr->hash_key, sizeof(nk->hash_key));
	*out = nk;
	return 0;
}

const struct keyring_term *keyring_active(const struct keyring *kr)
{
	return &kr->terms[kr->n_terms - 1];
}

const struct keyring_term *keyring_term(const struct keyring *kr, uint32_t term)
{
	size_t lo = 0, hi = kr->n_terms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kr->terms[mid].term == term)
			return &kr->terms[mid];
		if (kr->terms[mid].term < term)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const uint8_t *keyring_path_key(const struct keyring *kr)
{
	return kr->path_key;
}

const uint8_t *keyring_hash_key(const struct keyring *kr)
{
	return kr->hash_key;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

void keyring_serialize(const struct keyring *kr, uint8_t **out, size_t *out_len)
{
	size_t len = KEYRING_HEADER_LEN + kr->n_terms * KEYRING_TERM_LEN;
	uint8_t *buf = xsecmem_alloc(len), *p = buf;

	*p++ = KEYRING_VERSION;
	p = put_u32(p, keyring_active(kr)->term);
	memcpy(p, kr->path_key, COFFER_KEY_LEN);
	p += COFFER_KEY_LEN;
	memcpy(p, kr->hash_key, COFFER_KEY_LEN);
	p += COFFER_KEY_LEN;
	p = put_u32(p, (uint32_t)kr->n_terms);
	for (size_t i = 0; i < kr->n_terms; i++) {
		p = put_u32(p, kr->terms[i].term);
		p = put_u64(p, (uint64_t)kr->terms[i].install_time);
		memcpy(p, kr->terms[i].key, COFFER_KEY_LEN);
		p += COFFER_KEY_LEN;
	}
	*out = buf;
	*out_len = len;
}

/* Terms must be non-zero and strictly ascending (no duplicates); the active term is the newest. */
static bool keyring_is_well_formed(const struct keyring *kr, uint32_t active)
{
	for (size_t i = 0; i < kr->n_terms; i++) {
		if (kr->terms[i].term == 0)
			return false;
		if (i > 0 && kr->terms[i].term <= kr->terms[i - 1].term)
			return false;
	}
	return keyring_active(kr)->term == active;
}

int keyring_deserialize(const uint8_t *buf, size_t len, struct keyring **out)
{
	struct keyring *kr = NULL;
	const uint8_t *p = buf;
	uint32_t active, count;
	int ret = COFFER_ERR_INTEGRITY;

	*out = NULL;
	if (buf == NULL || len < KEYRING_HEADER_LEN || buf[0] != KEYRING_VERSION)
		goto out;
	count = get_u32(buf + KEYRING_HEADER_LEN - 4);
	if (count == 0 || count > KEYRING_MAX_TERMS ||
	    (len - KEYRING_HEADER_LEN) / KEYRING_TERM_LEN != count ||
	    (len - KEYRING_HEADER_LEN) % KEYRING_TERM_LEN != 0)
		goto out;
	kr = keyring_alloc(count);
	active = get_u32(p + 1);
	p += 5;
	memcpy(kr->path_key, p, COFFER_KEY_LEN);
	p += COFFER_KEY_LEN;
	memcpy(kr->hash_key, p, COFFER_KEY_LEN);
	p += COFFER_KEY_LEN + 4;
	for (size_t i = 0; i < count; i++) {
		kr->terms[i].term = get_u32(p);
		kr->terms[i].install_time = (int64_t)get_u64(p + 4);
		memcpy(kr->terms[i].key, p + 12, COFFER_KEY_LEN);
		p += KEYRING_TERM_LEN;
	}
	ret = COFFER_ERR_INTEGRITY;
	if (!keyring_is_well_formed(kr, active))
		goto out;
	*out = kr;
	kr = NULL;
	ret = 0;
out:
	keyring_free(kr);
	return ret;
}
