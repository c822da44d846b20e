/* SPDX-License-Identifier: Apache-2.0 */
/*
 * codec.c: strict hex and base64 over libsodium's constant-time encoders, for keys, shares, tokens
 * and secret values crossing the API. Decoders accept exactly one canonical spelling of each input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "secmem.h"

/* The largest input whose encodings (plus NUL) fit a size_t. */
#define CODEC_MAX_IN ((SIZE_MAX / 4 - 1) * 3)

static size_t codec_hex_len(size_t len)
{
	if (len > CODEC_MAX_IN)
		return SIZE_MAX;
	return len * 2;
}

size_t codec_b64_len(size_t len, enum codec_b64 variant)
{
	if (len > CODEC_MAX_IN)
		return SIZE_MAX;
	if (variant == CODEC_B64_STD)
		return (len + 2) / 3 * 4;
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

static int sodium_variant(enum codec_b64 v)
{
	return v == CODEC_B64_STD ? sodium_base64_VARIANT_ORIGINAL
	                          : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

int codec_hex_encode(char *out, size_t out_cap, const uint8_t *in, size_t len)
{
	static const uint8_t empty[1];

	/* sodium_bin2hex aborts on a short buffer, so check before calling it. */
	if (out == NULL || (in == NULL && len > 0) || len > CODEC_MAX_IN ||
	    out_cap < codec_hex_len(len) + 1)
		return COFFER_ERR_INVALID;
	sodium_bin2hex(out, out_cap, in != NULL ? in : empty, len);
	return COFFER_OK;
}

int codec_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len)
{
	const char *end = NULL;
	size_t n = 0;
	int rc = COFFER_ERR_INVALID;

	if (out_len != NULL)
		*out_len = 0;
	if (out_len == NULL || (in == NULL && in_len > 0) || in_len % 2 != 0 ||
	    out_cap < in_len / 2 || (out == NULL && in_len > 0))
		goto out;
	if (in_len == 0) {
		rc = COFFER_OK;
		goto out;
	}
	/* No ignore set: every one of the in_len characters must be a hex digit. */
	if (sodium_hex2bin(out, out_cap, in, in_len, NULL, &n, &end) != 0 || end != in + in_len ||
	    n != in_len / 2) {
		secmem_wipe(out, in_len / 2);
		goto out;
	}
	*out_len = n;
	rc = COFFER_OK;
out:
	return rc;
}

int codec_b64_encode(char *out, size_t out_cap, const uint8_t *in, size_t len, enum codec_b64 v)
{
	static const uint8_t empty[1];

	if (out == NULL || (in == NULL && len > 0) || len > CODEC_MAX_IN ||
	    (v != CODEC_B64_STD && v != CODEC_B64_URL) || out_cap < codec_b64_len(len, v) + 1)
		return COFFER_ERR_INVALID;
	sodium_bin2base64(out, out_cap, in != NULL ? in : empty, len, sodium_variant(v));
	return COFFER_OK;
}

int codec_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len,
                     enum codec_b64 v)
{
	const char *end = NULL;
	size_t n = 0, max_len = in_len / 4 * 3 + 2;
	int rc = COFFER_ERR_INVALID;

	if (out_len != NULL)
		*out_len = 0;
	if (out_len == NULL || (in == NULL && in_len > 0) ||
	    (v != CODEC_B64_STD && v != CODEC_B64_URL) || (out == NULL && in_len > 0))
		goto out;
	if (in_len == 0) {
		rc = COFFER_OK;
		goto out;
	}
	/*
	 * libsodium rejects characters outside the variant's alphabet (including '=' for the
	 * unpadded variant, whitespace and NUL), missing or extra padding, non-zero trailing bits
	 * and an output that does not fit; checking end catches anything left unconsumed.
	 */
	if (sodium_base642bin(out, out_cap, in, in_len, NULL, &n, &end, sodium_variant(v)) != 0 ||
	    end != in + in_len) {
		secmem_wipe(out, out_cap < max_len ? out_cap : max_len);
		goto out;
	}
	*out_len = n;
	rc = COFFER_OK;
out:
	return rc;
}

void codec_percent_encode(char *out, size_t len, size_t *pos, const char *text, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	bool plain;

	if (*pos >= len)
		return;
	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL ||
		        (keep != NULL && strchr(keep, *p) != NULL);
		if (*pos + (plain ? 1 : 3) >= len) {
			*pos = len;
			out[0] = '\0';
			return;
		}
		if (plain) {
			out[(*pos)++] = (char)*p;
		} else {
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[*p >> 4];
			out[(*pos)++] = hex[*p & 15];
		}
	}
	out[*pos] = '\0';
}
