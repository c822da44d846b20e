/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_duration.c: Vault-style duration parsing and Go-style formatting.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "test.h"

static void test_duration_parse_accepts_valid(void)
{
	static const struct {
		const char *in;
		int64_t want_s;
	} cases[] = {
	    {"0", 0},
	    {"45", 45},
	    {"007", 7},
	    {"45s", 45},
	    {"0s", 0},
	    {"30m", 1800},
	    {"1h", 3600},
	    {"768h", 2764800},
	    {"1h30m", 5400},
	    {"1m1s", 61},
	    {"1.5h", 5400},
	    {".5m", 30},
	    {"1d", 86400},
	    {"2d3h", 183600},
	    {"500ms", 0},
	    {"1500ms", 1},
	    {"1999ms", 1},
	    {"1h0.5s", 3600},
	    {"0.0001h", 0},
	    {"1h1h", 7200},
	    {"9223372036854775807", INT64_MAX},
	    {"9223372036854775807s", INT64_MAX},
	    {"2562047788015215h", 2562047788015215LL * 3600},
	};
	size_t i;
	int64_t got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = -1;
		if (duration_parse(cases[i].in, &got) != 0 || got != cases[i].want_s)
			fprintf(stderr, "case %s -> %lld\n", cases[i].in, (long long)got);
		CHECK_EQ(got, cases[i].want_s);
	}
}

static void test_duration_parse_rejects_invalid(void)
{
	static const char *const bad[] = {
	    "",
	    "-5",
	    "5x",
	    "h",
	    " 5",
	    "5 ",
	    "+5",
	    "5h ",
	    "1.5",
	    "1h30",
	    ".",
	    ".h",
	    "5mm",
	    "1e3s",
	    "5us",
	    "5ns",
	    "5H",
	    "1h-1m",
	    "1,5h",
	    "9223372036854775808",
	    "9223372036854775808s",
	    "2562047788015216h",
	    "106751991167301d",
	    "99999999999999999999999999999999h",
	};
	size_t i;
	int64_t got = 12345;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (duration_parse(bad[i], &got) != COFFER_ERR_INVALID)
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CHECK_EQ(duration_parse(bad[i], &got), COFFER_ERR_INVALID);
		CHECK_EQ(got, 12345);
	}
	CHECK_EQ(duration_parse(NULL, &got), COFFER_ERR_INVALID);
}

static void test_duration_format_like_go(void)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
	    {0, "0s"},        {45, "45s"},
	    {59, "59s"},      {60, "1m0s"},
	    {1800, "30m0s"},  {3600, "1h0m0s"},
	    {3661, "1h1m1s"}, {2764800, "768h0m0s"},
	    {-90, "-1m30s"},  {INT64_MAX, "2562047788015215h30m7s"},
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(duration_format(cases[i].s, out, sizeof(out)), 0);
		CHECK(strcmp(out, cases[i].want) == 0);
	}
}

static void test_duration_format_rejects_small_buffer(void)
{
	char out[8];

	CHECK_EQ(duration_format(2764800, out, 8), COFFER_ERR_INVALID);
	CHECK_EQ(duration_format(2764800, out, 0), COFFER_ERR_INVALID);
	CHECK_EQ(duration_format(1800, out, 6), 0);
	CHECK(strcmp(out, "30m0s") == 0);
	CHECK_EQ(duration_format(1800, out, 5), COFFER_ERR_INVALID);
}

static void test_duration_round_trips_through_format(void)
{
	static const int64_t values[] = {0, 1, 59, 61, 3599, 86400, 2764800, 31536000};
	char out[32];
	int64_t got;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		CHECK_EQ(duration_format(values[i], out, sizeof(out)), 0);
		CHECK_EQ(duration_parse(out, &got), 0);
		CHECK_EQ(got, values[i]);
	}
}

static void test_time_format_known_points(void)
{
	char out[COFFER_TIME_LEN];

	coffer_time_format(0, 0, 0, out);
	CHECK(strcmp(out, "1970-01-01T00:00:00Z") == 0);
	coffer_time_format(1795916725, 123456789, 9, out);
	CHECK(strcmp(out, "2026-11-29T01:45:25.123456789Z") == 0);
	coffer_time_format(1795916725, 123456789, 3, out);
	CHECK(strcmp(out, "2026-11-29T01:45:25.123Z") == 0);
	coffer_time_format(1, 1, 9, out);
	CHECK(strcmp(out, "1970-01-01T00:00:01.000000001Z") == 0);
	coffer_time_format(951782400, 0, 0, out); /* a leap day of a century divisible by 400 */
	CHECK(strcmp(out, "2000-02-29T00:00:00Z") == 0);
	coffer_time_format(4107542400, 0, 0, out); /* 2100 is no leap year */
	CHECK(strcmp(out, "2100-03-01T00:00:00Z") == 0);
	coffer_time_format(-1, 0, 0, out);
	CHECK(strcmp(out, "1969-12-31T23:59:59Z") == 0);
	coffer_time_format(253402300799, 0, 0, out);
	CHECK(strcmp(out, "9999-12-31T23:59:59Z") == 0);
	coffer_time_format(253402300800, 0, 0, out);
	CHECK(strcmp(out, "10000-01-01T00:00:00Z") == 0);
}

/* The same text as the C library's gmtime_r + strftime over four centuries of random seconds. */
static void test_time_format_agrees_with_gmtime(void)
{
	char out[COFFER_TIME_LEN], want[64];
	struct tm tm;
	int n_bad = 0;

	srand(7);
	for (int i = 0; i < 200000; i++) {
		time_t t = (time_t)(((int64_t)rand() << 16 ^ rand()) % 12600000000LL - 2200000000LL);

		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		coffer_time_format((int64_t)t, 0, 0, out);
		n_bad += strcmp(out, want) != 0;
	}
	CHECK_EQ(n_bad, 0);
}

int main(void)
{
	RUN(test_duration_parse_accepts_valid);
	RUN(test_duration_parse_rejects_invalid);
	RUN(test_duration_format_like_go);
	RUN(test_duration_format_rejects_small_buffer);
	RUN(test_duration_round_trips_through_format);
	RUN(test_time_format_known_points);
	RUN(test_time_format_agrees_with_gmtime);
	return test_summary();
}
