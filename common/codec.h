/* SPDX-License-Identifier: Apache-2.0 */
/*
 * codec.h: constant-time hex and base64 (standard padded, and URL-safe unpadded) over libsodium's
 * encoders, with strict decoding: any character outside the alphabet, bad padding, trailing data or
 * an output that does not fit is an error.
 */
#ifndef COFFER_CODEC_H
#define COFFER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum codec_b64 {
	CODEC_B64_STD, /* RFC 4648 §4, with '=' padding */
	CODEC_B64_URL  /* RFC 4648 §5, no padding */
};

/* Characters (excluding NUL) of the base64 encoding of len bytes. */
size_t codec_b64_len(size_t len, enum codec_b64 variant);

/* Encode len bytes as lowercase hex into out (out_cap >= 2 * len + 1), NUL-terminated. */
int codec_hex_encode(char *out, size_t out_cap, const uint8_t *in, size_t len);
/* Decode exactly in_len hex characters (either case) into out; *out_len gets the byte count.
 * COFFER_ERR_INVALID on odd length, a non-hex character, or out_cap too small. */
int codec_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in,
                     size_t in_len) COFFER_WUR;

/* Encode into out (out_cap >= codec_b64_len(len, v) + 1), NUL-terminated. */
int codec_b64_encode(char *out, size_t out_cap, const uint8_t *in, size_t len, enum codec_b64 v);
/* Strict decode of exactly in_len characters; same errors as hex. */
/* Append text to out at *pos, percent-encoding (RFC 3986) every byte that is neither unreserved
 * nor in keep (may be NULL), and NUL-terminate; when it does not fit, *pos becomes len and out
 * holds "". */
void codec_percent_encode(char *out, size_t len, size_t *pos, const char *text, const char *keep);
int codec_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len,
                     enum codec_b64 v) COFFER_WUR;

#endif
