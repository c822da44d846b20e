/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.c: English text for enum coffer_err. Used by logs and by server/api/request.c when it builds
 * an error response; the strings are static and never carry request data. Also coffer_errf(),
 * the one formatter of messages into a caller's optional error buffer.
 */
#include <stdarg.h>
#include <stdio.h>

#include "err.h"

const char *coffer_strerror(int err)
{
	switch (err) {
	case COFFER_OK:
		return "success";
	case COFFER_ERR_NOMEM:
		return "out of memory";
	case COFFER_ERR_INVALID:
		return "invalid input";
	case COFFER_ERR_NOT_FOUND:
		return "not found";
	case COFFER_ERR_PERMISSION:
		return "permission denied";
	case COFFER_ERR_SEALED:
		return "Vault is sealed";
	case COFFER_ERR_UNINIT:
		return "Vault is not initialized";
	case COFFER_ERR_INTEGRITY:
		return "integrity check failed";
	case COFFER_ERR_IO:
		return "storage or I/O error";
	case COFFER_ERR_EXISTS:
		return "already exists";
	case COFFER_ERR_TOO_LARGE:
		return "request too large";
	case COFFER_ERR_METHOD:
		return "method not allowed";
	case COFFER_ERR_MEDIA_TYPE:
		return "unsupported media type";
	case COFFER_ERR_LIMIT:
		return "rate or concurrency limit reached";
	case COFFER_ERR_CONFIG:
		return "invalid configuration";
	case COFFER_ERR_INTERNAL:
		return "internal error";
	case COFFER_ERR_BAD_SHARE:
		return "invalid unseal key share";
	case COFFER_ERR_CAS:
		return "check-and-set parameter did not match the current version";
	case COFFER_ERR_UNSUPPORTED:
		return "unsupported path";
	case COFFER_ERR_HEADERS_LARGE:
		return "request header fields too large";
	case COFFER_ERR_UNAVAILABLE:
		return "storage unavailable: the database cannot be reached; retry shortly";
	case COFFER_ERR_STANDBY:
		return "this node is not the active node; retry shortly";
	default:
		return "unknown error";
	}
}

void coffer_errf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
