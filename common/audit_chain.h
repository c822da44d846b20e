/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_chain.h: the hash chain that makes audit logs tamper-evident (DESIGN.md §6). Every line is
 * a compact JSON object with the members "seq" (1, 2, 3... over the device's whole life, across
 * rotated files) and "prev" ("<hash>:<hex>" of the previous line's bytes without its newline; 64
 * zeros before seq 1). The server writes them last (so that it can hash the rest of a line
 * before it knows them); readers find them by name. The server's file device writes lines with
 * these helpers; `coffer audit verify` and the server's restart path read them back.
 *
 * <hash> is "sha256" or "blake2b" (BLAKE2b-256), chosen when a chain starts (its seq 1) and kept
 * for its whole life, rotated files and restarts included: SHA-256 where the CPU has SHA
 * instructions (2.5 times faster than BLAKE2b there, and the chain hashes every byte of every
 * line), BLAKE2b elsewhere (where it is 3 to 4 times faster than SHA-256). Chains started before
 * the choice existed are BLAKE2b.
 *
 * Checkpoint lines bind the chain to the server's Ed25519 key (DESIGN.md §6, §10.10): they are
 * chain lines like the others, {"time":T,"type":"checkpoint","kind":K,"device":D,
 * "sig":"ed25519:<base64>","seq":N,"prev":P}, whose sig is over audit_ckpt_message() of (K, D, T,
 * N, P). As P is the hash of the line before, a checkpoint commits to every line before it. The
 * first line of every file is a checkpoint of kind "header" (it continues the previous file's
 * chain); the server writes a "periodic" one within about a second of any unsigned line, a
 * "reopen" one before it leaves a file (SIGHUP), and "seal" or "shutdown" when it stops writing.
 */
#ifndef COFFER_AUDIT_CHAIN_H
#define COFFER_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>
#include <sodium.h>

#include "err.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_PREV_TEXT_MAX (8 + 2 * AUDIT_HASH_LEN) /* the longest: "blake2b:" + hex */

#define AUDIT_PK_LEN 32  /* crypto_sign_PUBLICKEYBYTES */
#define AUDIT_SK_LEN 64  /* crypto_sign_SECRETKEYBYTES (seed and public key) */
#define AUDIT_SIG_LEN 64 /* crypto_sign_BYTES */
#define AUDIT_SIG_PREFIX "ed25519:"
#define AUDIT_SIG_TEXT_LEN (8 + 88) /* "ed25519:" + padded standard base64 of 64 bytes */
#define AUDIT_PK_TEXT_LEN 44        /* padded standard base64 of 32 bytes */
#define AUDIT_CKPT_FIELD_MAX 80     /* the longest device or time text in a checkpoint */
#define AUDIT_CKPT_MSG_MAX 320      /* room for any audit_ckpt_message() */
#define AUDIT_CKPT_LINE_MAX 512     /* room for any checkpoint line, with its newline */

/* The kinds of checkpoint. "reopen", "seal" and "shutdown" end what the server writes to a file
 * (for now): a log that ends with one of them was not cut after it. */
#define AUDIT_CKPT_HEADER "header"
#define AUDIT_CKPT_PERIODIC "periodic"
#define AUDIT_CKPT_REOPEN "reopen"
#define AUDIT_CKPT_SEAL "seal"
#define AUDIT_CKPT_SHUTDOWN "shutdown"

/* The hash functions of a chain (unkeyed, 32 bytes). */
enum audit_hash_alg { AUDIT_HASH_BLAKE2B = 1, AUDIT_HASH_SHA256 = 2 };

/* A hash being taken, with the alg it was started with (copyable: a copy goes on alone). */
struct audit_hash {
	enum audit_hash_alg alg;
	union {
		crypto_generichash_state blake2b;
		struct sha256_ctx sha256;
	} u;
};

/* The hash function for a new chain on this machine (see above). */
enum audit_hash_alg audit_hash_preferred(void);
/* "sha256" or "blake2b". */
const char *audit_hash_name(enum audit_hash_alg alg);
void audit_hash_init(struct audit_hash *h, enum audit_hash_alg alg);
void audit_hash_update(struct audit_hash *h, const void *data, size_t len);
void audit_hash_final(struct audit_hash *h, uint8_t out[AUDIT_HASH_LEN]);

/* The hash of line[0..len) (no newline) with alg. */
void audit_line_hash(enum audit_hash_alg alg, const char *line, size_t len,
                     uint8_t out[AUDIT_HASH_LEN]);
/* "<hash>:<hex>" into out (AUDIT_PREV_TEXT_MAX + 1 bytes, NUL-terminated); its length. */
size_t audit_prev_text(enum audit_hash_alg alg, const uint8_t hash[AUDIT_HASH_LEN],
                       char out[AUDIT_PREV_TEXT_MAX + 1]);
/* The alg and hash of a prev text (len bytes): "sha256:" or "blake2b:" and exactly 64 lowercase
 * hex digits, the one spelling the server writes. COFFER_ERR_INVALID otherwise. */
int audit_prev_parse(const char *text, size_t len, enum audit_hash_alg *alg,
                     uint8_t hash[AUDIT_HASH_LEN]) COFFER_WUR;

/*
 * The bytes a checkpoint's signature covers, into out (AUDIT_CKPT_MSG_MAX bytes):
 * "coffer-audit-checkpoint-v1\n" kind "\n" device "\n" time "\n" seq (decimal) "\n" prev_text
 * "\n". Its length, or 0 when kind is not a kind above or device or time is empty, longer than
 * AUDIT_CKPT_FIELD_MAX or holds a control character or a '"' or '\\' (they are written into
 * JSON unescaped).
 */
size_t audit_ckpt_message(char *out, const char *kind, const char *device, const char *time,
                          uint64_t seq, const char *prev_text);
/* The whole checkpoint line (with its newline) for those fields, signed with sk, into out
 * (AUDIT_CKPT_LINE_MAX bytes); its length, or 0 as audit_ckpt_message(). */
size_t audit_ckpt_line(char *out, const uint8_t sk[AUDIT_SK_LEN], const char *kind,
                       const char *device, const char *time, uint64_t seq, const char *prev_text);
/* A public key as padded standard base64 (out: AUDIT_PK_TEXT_LEN + 1 bytes). */
void audit_pk_encode(const uint8_t pk[AUDIT_PK_LEN], char out[AUDIT_PK_TEXT_LEN + 1]);
/* A public key from its base64 text, "ed25519:" in front allowed, surrounding white space
 * ignored. COFFER_ERR_INVALID when it is not 32 bytes of base64. */
int audit_pk_decode(const char *text, uint8_t pk[AUDIT_PK_LEN]) COFFER_WUR;

/* The seq and the prev hash (and the alg it names) of one line (len bytes, no newline);
 * COFFER_ERR_INVALID when it is not an audit line. */
int audit_chain_link(const char *line, size_t len, uint64_t *seq, enum audit_hash_alg *alg,
                     uint8_t prev[AUDIT_HASH_LEN]);

struct audit_verify_result {
	bool is_ok;
	char file[512];   /* where the first problem is ("" when ok); truncated if longer */
	uint64_t line;    /* 1-based line number in that file (0 when ok) */
	char reason[256]; /* human-readable, e.g. "seq 7 follows seq 5 (a line is missing or moved)"
	                   */
	uint64_t n_lines; /* lines that passed the check, over all files */
	uint64_t first_seq, last_seq; /* seq of the first and last of those lines (0 when none) */
	/* With a key (audit_verify_files_signed): */
	uint64_t n_checkpoints;  /* signed checkpoint lines that verified */
	uint64_t signed_seq;     /* seq of the last of them (0 when none) */
	uint64_t unsigned_lines; /* lines after it: nothing signed covers them yet */
	bool is_closed;          /* the last line is a "reopen", "seal" or "shutdown" checkpoint */
	int n_warnings;
	char warnings[2][320]; /* what an intact log cannot prove (an unsigned or open tail) */
};

/* What a signed verification trusts. */
struct audit_verify_opts {
	const uint8_t *public_key; /* AUDIT_PK_LEN bytes: the server's key, from a trusted source */
	/* The head the server recorded (its last checkpoint), when it could be asked: the log must
	 * reach it, and the line at head_seq must hash to head_hash. */
	bool has_head;
	uint64_t head_seq;
	enum audit_hash_alg head_alg;
	uint8_t head_hash[AUDIT_HASH_LEN];
};

/*
 * Check the chain through the files in order (the oldest first, as rotated). Every line must end in
 * "\n" and be a JSON object with an integer seq >= 1 and a well-formed prev; from the second line
 * on (across files too) seq must be the previous seq + 1 and prev the hash of the previous line,
 * named as in the first line (a chain never changes its hash function).
 * The first line may start at any seq (older files may have been deleted), but seq 1 must have the
 * zero prev. Reading stops at the first problem. Note that an edit of the body of the very last
 * line cannot be detected: nothing after it commits to its hash.
 *
 * Returns 0 when the check ran (see out->is_ok), or a negative coffer_err: COFFER_ERR_IO when a
 * file cannot be read (out->file names it, out->reason says why), COFFER_ERR_NOMEM, or
 * COFFER_ERR_INVALID for n_paths == 0.
 */
int audit_verify_files(const char *const *paths, size_t n_paths,
                       struct audit_verify_result *out) COFFER_WUR;

/*
 * audit_verify_files() and, with opts->public_key, the signatures: the first line of every file
 * must be a "header" checkpoint, and every checkpoint's signature must verify with the key (so a
 * file whose head was cut, or a chain rebuilt by someone without the key, is refused). With a
 * head, a log that ends before it, or whose line at its seq differs, is refused (a cut tail).
 * What the log cannot prove while intact is a warning: lines after the last checkpoint (the live
 * file's last second), or no closing checkpoint at the end. Same returns as audit_verify_files().
 */
int audit_verify_files_signed(const char *const *paths, size_t n_paths,
                              const struct audit_verify_opts *opts,
                              struct audit_verify_result *out) COFFER_WUR;

/*
 * The seq, the chain's alg (the one the line's prev names) and the hash under it of the last
 * complete line of path, to continue a chain after a restart. Reads only the end of the file; a
 * partial line after the last "\n" (a crash mid-write) is ignored, and the caller decides what to
 * do with it. COFFER_ERR_NOT_FOUND when the file is missing or has no complete line,
 * COFFER_ERR_INTEGRITY when that line has no valid seq or prev, COFFER_ERR_IO, COFFER_ERR_NOMEM.
 * The outputs are set only on success.
 */
int audit_chain_tail(const char *path, uint64_t *seq, enum audit_hash_alg *alg,
                     uint8_t hash[AUDIT_HASH_LEN]) COFFER_WUR;

#endif
