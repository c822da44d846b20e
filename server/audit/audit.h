/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h: the audit broker (DESIGN.md §6). It owns the enabled file devices (declared in the
 * config file, or created through sys/audit when the config allows it), writes one hash-chained
 * JSON line per request and per response to each of them, and fails closed: a request that no
 * device could record is refused. The router calls the request/response hooks; core.c owns the
 * broker and tells it about unseal and seal; main.c forwards SIGHUP (reopen after rotation).
 */
#ifndef COFFER_AUDIT_H
#define COFFER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/request.h"
#include "store/barrier.h"

/* At most this many devices at once. */
#define AUDIT_MAX_DEVICES 8
/* The longest device name ("file" of "file/"). */
#define AUDIT_NAME_MAX 64
/* "hmac-sha256:" + 64 hex characters. */
#define AUDIT_HMAC_TEXT_LEN (12 + 64)

struct audit_broker;

/* A file audit device declared in the config file ("audit": [...]). */
struct audit_device_conf {
	char *path;        /* normalized, "file/" by default */
	char *description; /* "" by default */
	char *file_path;   /* absolute */
};

/* What the request line of one request recorded, for its response line (opaque). */
struct audit_ctx;

/*
 * Build the broker and open the config file's devices (n of them), continuing each file's chain
 * from its last line. An unopenable file or a file whose last line is not an audit line is an
 * error (logged, naming the device), so that cofferd does not start without the audit it was
 * told to keep. Keys are loaded at unseal.
 */
int audit_broker_new(const struct audit_device_conf *devices, size_t n, struct barrier *b,
                     struct audit_broker **out);
/* Close the files and wipe the keys; NULL allowed. */
void audit_broker_free(struct audit_broker *ab);
/* At unseal: load (or create) every device's HMAC key and open the API-created devices. */
int audit_broker_unsealed(struct audit_broker *ab);
/* At seal: wipe the keys (devices stay; they cannot write until the next unseal). */
void audit_broker_sealed(struct audit_broker *ab);
/* SIGHUP: reopen every device's file by path (after logrotate renamed it); the chain goes on. */
void audit_broker_reopen(struct audit_broker *ab);

/*
 * The request hook, before the handler. With no device enabled: 0 and *ctx = NULL (nothing to
 * do). Otherwise the request line (with the error in resp, when resp is already an error) is
 * written to every device; 0 and a context when at least one device wrote it, else an error and
 * resp set to 500 {"errors":["audit: ..."]}: the handler must not run.
 */
int audit_log_request(struct audit_broker *ab, const struct request *req, struct response *resp,
                      struct audit_ctx **ctx) COFFER_WUR;
/*
 * The response hook, before the response is sent; takes ctx. A held response (resp->hold) is
 * wrapped so that its line is written when the hold finishes. When no device writes the line,
 * resp becomes 500 {"errors":["audit: ..."]}.
 */
void audit_log_response(struct audit_ctx *ctx, struct response *resp);

/* sys/audit management (audit_routes.c). Errors: COFFER_ERR_EXISTS, COFFER_ERR_NOT_FOUND,
 * COFFER_ERR_INVALID (with a message in err), COFFER_ERR_PERMISSION, barrier errors. */
int audit_broker_enable(struct audit_broker *ab, const char *path, const char *description,
                        const char *file_path, char *err, size_t err_len);
int audit_broker_disable(struct audit_broker *ab, const char *path, char *err, size_t err_len);
/* {"file/": {type, description, options{file_path}, local, path}, ...} */
json_t *audit_broker_list_json(struct audit_broker *ab);
/* Whether a change can be recorded now (for sys/health): true with no device, else when at least
 * one device has its file open and room for a change's lines. Tries the devices that failed
 * again, so that a freed disk is seen without a request. */
bool audit_broker_can_write(struct audit_broker *ab);
/* "hmac-sha256:<hex>" of input under the key of the device at path (out: AUDIT_HMAC_TEXT_LEN + 1
 * bytes). COFFER_ERR_NOT_FOUND for no such device, COFFER_ERR_SEALED without its key. */
int audit_broker_hash(struct audit_broker *ab, const char *path, const char *input, size_t len,
                      char *out);

/* The public half of the key that signs the audit checkpoints, as base64 (out:
 * AUDIT_PK_TEXT_LEN + 1 bytes; see common/audit_chain.h). COFFER_ERR_SEALED while sealed. */
int audit_broker_public_key(struct audit_broker *ab, char *out);

/* A device path: one segment of [A-Za-z0-9._-] with a trailing '/' added ("file" -> "file/").
 * COFFER_ERR_INVALID otherwise. */
int audit_path_normalize(const char *in, char *out, size_t cap);

#endif
