/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seal.h: initialization and unseal (DESIGN.md §3). sys/init makes the root key and the unseal key,
 * splits the unseal key with Shamir, stores the seal configuration in clear under "s/seal-config"
 * and the root key encrypted with the unseal key under "s/root-key". Unseal collects shares until
 * the threshold, combines them and opens the root key; a wrong set fails authentication, resets the
 * progress and leaves the vault sealed. The keyfile seal reads a 32-byte unseal key from a file and
 * unseals at start. Thread-safe: one mutex guards the progress and the transitions.
 */
#ifndef COFFER_SEAL_H
#define COFFER_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/barrier.h"
#include "err.h"
#include "store/storage.h"

enum seal_type { SEAL_SHAMIR, SEAL_KEYFILE };

struct seal;

struct seal_status {
	const char *type; /* "shamir" or "keyfile" */
	bool initialized;
	bool sealed;
	unsigned threshold; /* t */
	unsigned shares;    /* n */
	unsigned progress;
	char nonce[37]; /* "" when progress is 0 */
};

/* The result of initialization. shares[i] (secmem) holds share_len bytes; root_token (secmem) is
 * the initial root token's text, set by whoever staged it (core.c). Release with
 * seal_init_result_clear(). */
struct seal_init_result {
	unsigned n_shares;
	size_t share_len;
	uint8_t **shares;
	char *root_token;
};

/* keyfile_path is used only with SEAL_KEYFILE. st and b are not owned. */
int seal_new(struct storage *st, struct barrier *b, enum seal_type type, const char *keyfile_path,
             struct seal **out);
void seal_free(struct seal *s);

/* Called by seal_initialize() while the new barrier is open, before the vault is marked
 * initialized: writes what must exist from the start (the initial root token). 0 or an error,
 * which stops initialization. */
typedef int (*seal_stage_fn)(void *arg);

/*
 * Initialize: n shares with threshold t (1..255, t <= n, t >= 2 when n > 1; ignored for the keyfile
 * seal, which returns no shares), calling stage (may be NULL) with the new barrier open; leaves
 * the vault sealed. COFFER_ERR_EXISTS when already initialized, COFFER_ERR_INVALID for bad n/t.
 */
int seal_initialize(struct seal *s, unsigned n, unsigned t, seal_stage_fn stage, void *stage_arg,
                    struct seal_init_result *out);
void seal_init_result_clear(struct seal_init_result *r);

/*
 * Submit one share (raw bytes, already decoded). Returns 0 with the vault still sealed while
 * progress < threshold, or unsealed once the threshold is met. COFFER_ERR_BAD_SHARE for a share
 * of the wrong length or a set that does not open the root key (progress is reset);
 * COFFER_ERR_UNINIT when not initialized; COFFER_ERR_EXISTS for a share already submitted in
 * this round (progress is kept).
 */
int seal_submit_share(struct seal *s, const uint8_t *share, size_t len) COFFER_WUR;
/* Forget submitted shares. */
void seal_reset_progress(struct seal *s);
/* Keyfile seal: read the key file and unseal. COFFER_ERR_CONFIG when the file is unusable. */
int seal_unseal_keyfile(struct seal *s) COFFER_WUR;
/* Seal the barrier and wipe the keys and progress. */
void seal_seal(struct seal *s);
void seal_get_status(struct seal *s, struct seal_status *out);

#endif
