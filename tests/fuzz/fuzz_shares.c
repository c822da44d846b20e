/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: unseal shares as a client sends them (hex or base64 text), decoded strictly and
 * combined with Shamir. The first byte picks the number of shares the rest is cut into.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "shamir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t decoded[512], secret[512];
	const uint8_t *shares[8];
	size_t len = 0, count, share_len, i;

	if (size < 1)
		return 0;
	/* The text decoders, as sys/unseal runs them. */
	if (codec_hex_decode(decoded, sizeof(decoded), &len, (const char *)data + 1, size - 1) != 0)
		len = 0;
	if (codec_b64_decode(decoded, sizeof(decoded), &len, (const char *)data + 1, size - 1,
	                     CODEC_B64_STD) != 0)
		len = 0;
	count = (size_t)(data[0] % 8) + 1;
	share_len = (size - 1) / count;
	if (share_len == 0 || share_len > sizeof(secret))
		return 0;
	for (i = 0; i < count; i++)
		shares[i] = data + 1 + i * share_len;
	(void)shamir_combine(secret, shares, (unsigned)count, share_len);
	return 0;
}
