/* SPDX-License-Identifier: Apache-2.0 */
/*
 * duration.c: parsing and formatting of Vault-style durations ("768h", "1h30m", "45"). Used for
 * TTLs in request bodies (common/json.c), configuration and CLI flags.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

/* Exact arithmetic in nanoseconds; the widest product (digits of a number times a unit) fits. */
__extension__ typedef unsigned __int128 duration_u128;

#define NS_PER_S 1000000000ull
/* Fraction digits beyond this are ignored (they are below a femtosecond for every unit). */
#define FRAC_DIGITS_MAX 18

struct duration_unit {
	const char *name;
	uint64_t ns;
};

/* "ms" precedes "m" so that the longest unit name wins. */
static const struct duration_unit duration_units[] = {
    {"ms", 1000000ull}, {"h", 3600ull * NS_PER_S},  {"m", 60ull * NS_PER_S},
    {"s", NS_PER_S},    {"d", 86400ull * NS_PER_S},
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const struct duration_unit *match_unit(const char *s, size_t *name_len)
{
	size_t i, n;

	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		n = strlen(duration_units[i].name);
		if (strncmp(s, duration_units[i].name, n) == 0) {
			*name_len = n;
			return &duration_units[i];
		}
	}
	return NULL;
}

/* A string of digits only: a number of seconds. */
static int parse_seconds(const char *s, int64_t *out_s)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return COFFER_ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out_s = (int64_t)v;
	return COFFER_OK;
}

int duration_parse(const char *s, int64_t *out_s)
{
	const duration_u128 limit_ns = (duration_u128)INT64_MAX * NS_PER_S;
	const struct duration_unit *unit;
	duration_u128 total_ns = 0, whole, frac, scale;
	size_t i = 0, n_digits, frac_len, name_len = 0;

	if (s == NULL || s[0] == '\0')
		return COFFER_ERR_INVALID;
	if (strspn(s, "0123456789") == strlen(s))
		return parse_seconds(s, out_s);
	/* Otherwise one or more number+unit pairs; a number is digits with an optional fraction. */
	while (s[i] != '\0') {
		whole = 0;
		frac = 0;
		scale = 1;
		n_digits = 0;
		for (; is_digit(s[i]); i++, n_digits++) {
			whole = whole * 10 + (duration_u128)(s[i] - '0');
			if (whole > limit_ns)
				return COFFER_ERR_INVALID;
		}
		if (s[i] == '.') {
			for (i++, frac_len = 0; is_digit(s[i]); i++, n_digits++, frac_len++) {
				if (frac_len >= FRAC_DIGITS_MAX)
					continue;
				frac = frac * 10 + (duration_u128)(s[i] - '0');
				scale *= 10;
			}
		}
		if (n_digits == 0)
			return COFFER_ERR_INVALID;
		unit = match_unit(s + i, &name_len);
		if (unit == NULL)
			return COFFER_ERR_INVALID;
		i += name_len;
		if (whole > limit_ns / unit->ns)
			return COFFER_ERR_INVALID;
		/* Each term is at most limit_ns, so the sum cannot wrap before the check. */
		total_ns += whole * unit->ns + frac * unit->ns / scale;
		if (total_ns > limit_ns)
			return COFFER_ERR_INVALID;
	}
	*out_s = (int64_t)(total_ns / NS_PER_S);
	return COFFER_OK;
}

int duration_format(int64_t s, char *out, size_t out_cap)
{
	uint64_t mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
	const char *sign = s < 0 ? "-" : "";
	uint64_t h = mag / 3600, m = mag % 3600 / 60, sec = mag % 60;
	int n;

	if (out == NULL || out_cap == 0)
		return COFFER_ERR_INVALID;
	/* Go's time.Duration.String for whole seconds: the largest unit present, then every
	 * smaller. */
	if (h > 0)
		n = snprintf(out, out_cap, "%s%lluh%llum%llus", sign, (unsigned long long)h,
		             (unsigned long long)m, (unsigned long long)sec);
	else if (m > 0)
		n = snprintf(out, out_cap, "%s%llum%llus", sign, (unsigned long long)m,
		             (unsigned long long)sec);
	else
		n = snprintf(out, out_cap, "%s%llus", sign, (unsigned long long)sec);
	if (n < 0 || (size_t)n >= out_cap) {
		out[0] = '\0';
		return COFFER_ERR_INVALID;
	}
	return COFFER_OK;
}

/* Write v as exactly n decimal digits (leading zeros) and return the end. */
static char *put_digits(char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

void coffer_time_format(int64_t sec, long nsec, int digits, char out[COFFER_TIME_LEN])
{
	/* Days since 1970-01-01 to a civil date in the proleptic Gregorian calendar, counting in
	 * 400-year eras that start on March 1st (so leap days end each year). */
	int64_t days = sec / 86400, rem = sec % 86400, z, era, doe, yoe, doy, mp, y;
	unsigned month, day;
	char *p = out;
	int n;

	if (digits > 9)
		digits = 9;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	y = yoe + era * 400 + (month <= 2);
	if (y < 0) {
		*p++ = '-';
		y = -y;
	}
	n = 4;
	for (int64_t big = 10000; y >= big && n < 19; big *= 10)
		n++;
	p = put_digits(p, (uint64_t)y, n);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, day, 2);
	*p++ = 'T';
	p = put_digits(p, (uint64_t)(rem / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (uint64_t)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (uint64_t)(rem % 60), 2);
	if (digits > 0) {
		uint64_t frac = (uint64_t)nsec;

		for (n = 9; n > digits; n--)
			frac /= 10;
		*p++ = '.';
		p = put_digits(p, frac, digits);
	}
	*p++ = 'Z';
	*p = '\0';
}
