/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: logs to stderr as text or JSON lines. Never pass a secret: log accessors, key terms and
 * request ids, never tokens, keys or values.
 */
#ifndef COFFER_LOG_H
#define COFFER_LOG_H

#include <stdbool.h>

#include "err.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Set the threshold and format; may be called again (thread-safe enough for start-up use). */
void log_init(enum log_level level, bool is_json);
/* "debug", "info", "warn"/"warning", "error" -> level; COFFER_ERR_INVALID otherwise. */
int log_parse_level(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Log at error level and exit(1). For set-up failures in main() and out-of-memory only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
