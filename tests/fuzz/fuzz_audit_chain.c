/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: audit log files as `coffer audit verify` and the server's restart read them, with
 * and without a key (header, checkpoint lines and their signatures). A log that verifies signed
 * must verify as a chain too, start with a signed header, and have a tail with its last sequence
 * number; its counts must add up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed key: a corpus can hold lines signed with it (seed: 32 bytes of 0x42). */
static uint8_t fuzz_pk[AUDIT_PK_LEN];

static void fuzz_key_init(void)
{
	uint8_t seed[32], sk[AUDIT_SK_LEN];

	if (fuzz_pk[0] != 0 || sodium_init() < 0)
		return;
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(fuzz_pk, sk, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_opts opts = {.public_key = fuzz_pk};
	enum audit_hash_alg alg;
	struct audit_verify_result res, chain;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 0;
	char path[64];
	const char *paths[1] = {path};
	int fd = memfd_create("audit", MFD_CLOEXEC), rc;

	fuzz_key_init();
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = audit_verify_files(paths, 1, &chain);
	if (rc == 0 && chain.is_ok && chain.n_lines > 0 &&
	    (audit_chain_tail(path, &seq, &alg, hash) != 0 || seq != chain.last_seq))
		abort();
	/* The last byte picks a head to check against, half of the time. */
	if (size > 0 && (data[size - 1] & 1) != 0) {
		opts.has_head = true;
		opts.head_seq = data[size - 1] >> 1;
		opts.head_alg = (data[size - 1] & 2) != 0 ? AUDIT_HASH_SHA256 : AUDIT_HASH_BLAKE2B;
		audit_line_hash(opts.head_alg, (const char *)data, size / 2, opts.head_hash);
	}
	rc = audit_verify_files_signed(paths, 1, &opts, &res);
	if (rc == 0 && res.is_ok) {
		if (!chain.is_ok || res.n_lines != chain.n_lines)
			abort(); /* signed is the chain and more */
		/* A header first; every line is up to the last checkpoint or after it. */
		if (res.n_lines > 0 &&
		    (res.n_checkpoints == 0 || res.first_seq == 0 ||
		     (res.signed_seq - res.first_seq + 1) + res.unsigned_lines != res.n_lines))
			abort();
		if (opts.has_head && res.n_lines > 0 && res.last_seq < opts.head_seq)
			abort(); /* a cut tail never passes */
	}
	close(fd);
	return 0;
}
