/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_err.c: every error code has its own text, and unknown codes have a fallback.
 */
#include <string.h>

#include "err.h"
#include "test.h"

static void test_strerror_names_every_code(void)
{
	int code, other;

	for (code = COFFER_OK; code >= COFFER_ERR_LAST; code--) {
		CHECK(coffer_strerror(code) != NULL);
		CHECK(strcmp(coffer_strerror(code), "unknown error") != 0);
		for (other = code - 1; other >= COFFER_ERR_LAST; other--)
			CHECK(strcmp(coffer_strerror(code), coffer_strerror(other)) != 0);
	}
}

static void test_strerror_unknown_code(void)
{
	CHECK(strcmp(coffer_strerror(COFFER_ERR_LAST - 1), "unknown error") == 0);
	CHECK(strcmp(coffer_strerror(1), "unknown error") == 0);
	CHECK(strcmp(coffer_strerror(-1000), "unknown error") == 0);
}

static void test_strerror_specific_texts(void)
{
	CHECK(strcmp(coffer_strerror(COFFER_ERR_SEALED), "Vault is sealed") == 0);
	CHECK(strcmp(coffer_strerror(COFFER_ERR_NOMEM), "out of memory") == 0);
}

int main(void)
{
	RUN(test_strerror_names_every_code);
	RUN(test_strerror_unknown_code);
	RUN(test_strerror_specific_texts);
	return test_summary();
}
