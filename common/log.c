/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: the process logger, hclog-style text or JSON lines on stderr. Every module logs through
 * log_msg(); main() sets the level and format with log_init().
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "duration.h"
#include "log.h"

/* A message longer than this is truncated; log lines are not a data channel. */
#define LOG_MSG_MAX 8192

static atomic_int log_threshold = LOG_LEVEL_INFO;
static atomic_bool log_is_json = false;

void log_init(enum log_level level, bool is_json)
{
	atomic_store(&log_threshold, (int)level);
	atomic_store(&log_is_json, is_json);
}

int log_parse_level(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
	    {"debug", LOG_LEVEL_DEBUG},  {"info", LOG_LEVEL_INFO},   {"warn", LOG_LEVEL_WARN},
	    {"warning", LOG_LEVEL_WARN}, {"error", LOG_LEVEL_ERROR},
	};
	size_t i;

	if (name == NULL || out == NULL)
		return COFFER_ERR_INVALID;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return COFFER_OK;
		}
	}
	return COFFER_ERR_INVALID;
}

/* RFC 3339 UTC with milliseconds: 2026-11-29T01:02:03.123Z */
static void log_timestamp(char out[COFFER_TIME_LEN])
{
	int64_t ns = coffer_clock_now_ns();

	coffer_time_format(ns / 1000000000, (long)(ns % 1000000000), 3, out);
}

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes), or 0 when it is not one: rejects
 * stray continuation bytes, overlong forms, surrogates and code points past U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07u;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Copy msg into out (at least 6 * strlen(msg) + 1 bytes) so that it cannot break the line: in JSON
 * as a string body, in text with control characters shown as escapes. Invalid UTF-8 becomes
 * U+FFFD in JSON and \xHH in text.
 */
static void log_escape(char *out, const char *msg, bool is_json)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)msg;
	size_t len = strlen(msg), i = 0, n;
	char *o = out;

	while (i < len) {
		unsigned char c = s[i];

		if (is_json && (c == '"' || c == '\\')) {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\n' || c == '\r' || (c == '\t' && is_json)) {
			*o++ = '\\';
			*o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			memcpy(o, is_json ? "\\u00" : "\\x", is_json ? 4 : 2);
			o += is_json ? 4 : 2;
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
		} else if (c >= 0x80 && (n = utf8_seq_len(s + i, len - i)) > 1) {
			memcpy(o, s + i, n);
			o += n;
			i += n;
			continue;
		} else if (c >= 0x80) {
			if (is_json) {
				memcpy(o, "\\ufffd", 6);
				o += 6;
			} else {
				*o++ = '\\';
				*o++ = 'x';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 0xf];
			}
		} else {
			*o++ = (char)c;
		}
		i++;
	}
	*o = '\0';
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const text_tags[] = {"[DEBUG] ", "[INFO]  ", "[WARN]  ", "[ERROR] "};
	static const char *const json_names[] = {"debug", "info", "warn", "error"};
	char msg[LOG_MSG_MAX];
	char ts[COFFER_TIME_LEN];
	char *esc;
	bool is_json = atomic_load(&log_is_json);
	int idx = (int)level;

	if (idx < LOG_LEVEL_DEBUG || idx > LOG_LEVEL_ERROR)
		idx = LOG_LEVEL_ERROR;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_timestamp(ts);
	esc = malloc(6 * strlen(msg) + 1);
	if (esc != NULL)
		log_escape(esc, msg, is_json);
	/* One locked stdio call per line so that threads never interleave within a line. */
	flockfile(stderr);
	if (is_json)
		fprintf(stderr, "{\"@timestamp\":\"%s\",\"@level\":\"%s\",\"@message\":\"%s\"}\n",
		        ts, json_names[idx],
		        esc != NULL ? esc : "(out of memory formatting message)");
	else
		fprintf(stderr, "%s %s%s\n", ts, text_tags[idx], esc != NULL ? esc : msg);
	fflush(stderr);
	funlockfile(stderr);
	free(esc);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level < atomic_load(&log_threshold))
		return;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
