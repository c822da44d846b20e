/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_chain.h: the hash chain that makes audit logs tamper-evident (DESIGN.md §6). Every line is
 * a compact JSON object with the members "seq" (1, 2, 3... over the device's whole life, across
 * rotated files) and "prev" ("blake2b:<hex>" of the previous line's bytes without its newline; 64
 * zeros before seq 1). The server writes them last (so that it can hash the rest of a line
 * before it knows them); readers find them by name. The server's file device writes lines with
 * these helpers; `coffer audit verify` and the server's restart path read them back.
 */
#ifndef COFFER_AUDIT_CHAIN_H
#define COFFER_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_PREV_PREFIX "blake2b:"
#define AUDIT_PREV_TEXT_LEN (8 + 2 * AUDIT_HASH_LEN) /* "blake2b:" + hex */

/* BLAKE2b-256 (unkeyed) of line[0..len) (no newline). */
void audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN]);
/* "blake2b:<hex>" into out (AUDIT_PREV_TEXT_LEN + 1 bytes, NUL-terminated). */
void audit_prev_text(const uint8_t hash[AUDIT_HASH_LEN], char out[AUDIT_PREV_TEXT_LEN + 1]);

/* The seq and the prev hash of one line (len bytes, no newline); COFFER_ERR_INVALID when it is
 * not an audit line. */
int audit_chain_link(const char *line, size_t len, uint64_t *seq, uint8_t prev[AUDIT_HASH_LEN]);

struct audit_verify_result {
	bool is_ok;
	char file[512];   /* where the first problem is ("" when ok); truncated if longer */
	uint64_t line;    /* 1-based line number in that file (0 when ok) */
	char reason[256]; /* human-readable, e.g. "seq 7 follows seq 5 (a line is missing or moved)"
	                   */
	uint64_t n_lines; /* lines that passed the check, over all files */
	uint64_t first_seq, last_seq; /* seq of the first and last of those lines (0 when none) */
};

/*
 * Check the chain through the files in order (the oldest first, as rotated). Every line must end in
 * "\n" and be a JSON object with an integer seq >= 1 and a well-formed prev; from the second line
 * on (across files too) seq must be the previous seq + 1 and prev the hash of the previous line.
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
 * The seq and hash of the last complete line of path, to continue a chain after a restart. Reads
 * only the end of the file; a partial line after the last "\n" (a crash mid-write) is ignored, and
 * the caller decides what to do with it. COFFER_ERR_NOT_FOUND when the file is missing or has no
 * complete line, COFFER_ERR_INTEGRITY when that line has no valid seq, COFFER_ERR_IO,
 * COFFER_ERR_NOMEM. *seq and hash are set only on success.
 */
int audit_chain_tail(const char *path, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN]) COFFER_WUR;

#endif
