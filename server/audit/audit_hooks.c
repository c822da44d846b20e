/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_hooks.c: the request and response hooks the router calls (audit.h): every enabled device
 * records a request line before the handler runs and a response line before the answer leaves,
 * and a request that no device could record is refused (fail closed). Reads may be recorded with
 * their response in one write; changes set room aside for their response line first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

struct audit_ctx {
	size_t n;
	struct audit_device *devs[AUDIT_MAX_DEVICES];
	/* Per device (keys differ): the "auth" JSON or NULL, and the "request" JSON without data
	 * and closing brace. */
	char *auth[AUDIT_MAX_DEVICES];
	char *request[AUDIT_MAX_DEVICES];
	/* A read's request lines wait here, to be written with its response lines in one write:
	 * a read changes nothing, so it may be recorded after it ran, as long as nothing of it
	 * reaches the client unrecorded. */
	bool is_deferred;
	struct buf request_line[AUDIT_MAX_DEVICES];
	char request_id[37];
	/* A change: its request line set room aside for its response line on each device
	 * (audit_device_write_change), so that a full disk refuses it before it runs. */
	bool is_change;
	size_t promise[AUDIT_MAX_DEVICES];
	/* sys/capabilities*: the response's data is keyed by the paths asked about. */
	bool is_path_keyed;
};

static void audit_ctx_free(struct audit_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n; i++) {
		free(ctx->auth[i]);
		free(ctx->request[i]);
		buf_free(&ctx->request_line[i]);
		audit_device_unpromise(ctx->devs[i], ctx->promise[i]);
		audit_device_release(ctx->devs[i]);
	}
	free(ctx);
}

/* A context with a reference to every enabled device. */
static struct audit_ctx *audit_ctx_new(struct audit_broker *ab, const struct request *req)
{
	struct audit_ctx *ctx = xcalloc(1, sizeof(*ctx));
	size_t i;

	pthread_rwlock_rdlock(&ab->lock);
	for (i = 0; i < ab->n_devs; i++) {
		audit_device_ref(ab->devs[i]);
		ctx->devs[ctx->n++] = ab->devs[i];
	}
	pthread_rwlock_unlock(&ab->lock);
	for (i = 0; i < ctx->n; i++)
		audit_sb_init(&ctx->request_line[i]);
	memcpy(ctx->request_id, req->request_id, sizeof(ctx->request_id));
	return ctx;
}

/* Fill resp with the audit failure; the message names the first device's error. */
static void audit_fail_response(struct response *resp, const char *what, const char *err)
{
	response_fail(resp, COFFER_ERR_INTERNAL, "audit: %s could not be recorded: %s", what,
	              err[0] != '\0' ? err : "no audit device can write");
}

/* {"time":...,"type":...,"auth":...,"request":<request text> (left open for data) */
static void audit_line_start(struct buf *sb, const struct audit_ctx *ctx, size_t i,
                             const char *time_text, const char *type)
{
	audit_sb_puts(sb, "{\"time\":\"");
	audit_sb_puts(sb, time_text);
	audit_sb_puts(sb, "\",\"type\":\"");
	audit_sb_puts(sb, type);
	audit_sb_put(sb, "\"", 1);
	if (ctx->auth[i] != NULL) {
		audit_sb_puts(sb, ",\"auth\":");
		audit_sb_puts(sb, ctx->auth[i]);
	}
	audit_sb_puts(sb, ",\"request\":");
	audit_sb_puts(sb, ctx->request[i]);
}

/* ,"error":"..." and the closing brace of the line. */
static void audit_line_end(struct buf *sb, const char *error)
{
	if (error != NULL) {
		audit_sb_puts(sb, ",\"error\":");
		audit_sb_put_str(sb, error, strlen(error));
	}
	audit_sb_put(sb, "}", 1);
}

/* The request line for device i of ctx into sb. */
static int audit_request_line(struct buf *sb, struct audit_ctx *ctx, size_t i,
                              const struct request *req, const char *time_text, const char *error)
{
	struct audit_device *d = ctx->devs[i];
	int rc = 0;

	pthread_rwlock_rdlock(&d->key_lock);
	ctx->auth[i] = audit_auth_text(d, req, &rc);
	if (rc == 0)
		ctx->request[i] = audit_request_text(d, req, &rc);
	if (rc != 0) {
		pthread_rwlock_unlock(&d->key_lock);
		return rc;
	}
	audit_line_start(sb, ctx, i, time_text, "request");
	if (rc == 0 && json_object_size(req->body) > 0) {
		audit_sb_puts(sb, ",\"data\":");
		rc = audit_sb_put_hmac_json(sb, d, req->body);
	}
	pthread_rwlock_unlock(&d->key_lock);
	audit_sb_put(sb, "}", 1);
	audit_line_end(sb, error);
	return rc;
}

static int audit_build_request(struct buf *sb, struct audit_ctx *ctx, size_t i, const void *arg);

/* Record a line on every device of ctx with build() (after the deferred request line, if any);
 * false when none wrote it. */
/* Write the lines of ctx's device i: a read's pair (may be staged), a change's line (its request
 * line sets room aside for its response line), or one other line. */
static int audit_ctx_write(struct audit_ctx *ctx, size_t i, struct buf *const *lines, bool is_pair,
                           bool is_request, char *err, size_t err_len)
{
	if (is_pair)
		return audit_device_write(ctx->devs[i], lines, 2, true, err, err_len);
	if (ctx->is_change && (is_request || ctx->promise[i] != 0))
		return audit_device_write_change(ctx->devs[i], lines[0], is_request,
		                                 &ctx->promise[i], err, err_len);
	return audit_device_write(ctx->devs[i], lines, 1, false, err, err_len);
}

static bool audit_write_all(struct audit_ctx *ctx, const char *what,
                            int (*build)(struct buf *sb, struct audit_ctx *ctx, size_t i,
                                         const void *arg),
                            const void *arg, char *err, size_t err_len)
{
	char derr[400];
	struct buf sb;
	size_t i, n_ok = 0;

	err[0] = '\0';
	for (i = 0; i < ctx->n; i++) {
		/* A deferred request line goes first, in the same write. */
		struct buf *lines[2] = {&ctx->request_line[i], &sb};
		bool is_pair = ctx->is_deferred && build != audit_build_request;

		audit_sb_init(&sb);
		/* Without its request text (no key then) a device cannot record the response. */
		if ((build != audit_build_request && ctx->request[i] == NULL) ||
		    build(&sb, ctx, i, arg) != 0)
			snprintf(derr, sizeof(derr), "%s: no key (sealed)", ctx->devs[i]->path);
		else if (audit_ctx_write(ctx, i, lines + !is_pair, is_pair,
		                         build == audit_build_request, derr, sizeof(derr)) == 0)
			n_ok++;
		if (n_ok == 0 && err[0] == '\0')
			snprintf(err, err_len, "%s", derr);
		buf_free(&sb);
	}
	if (n_ok == 0)
		log_error("audit: the %s of request %s could not be recorded: %s", what,
		          ctx->request_id, err);
	return n_ok > 0;
}

struct audit_request_arg {
	const struct request *req;
	const char *time_text;
	const char *error;
};

static int audit_build_request(struct buf *sb, struct audit_ctx *ctx, size_t i, const void *arg)
{
	const struct audit_request_arg *a = arg;

	return audit_request_line(sb, ctx, i, a->req, a->time_text, a->error);
}

/* Build a read's request lines now (the token and the time are those of the request) and keep
 * them for the response's write. A device without a key gets no line: its write then fails. */
static void audit_defer_request(struct audit_ctx *ctx, const struct audit_request_arg *arg)
{
	ctx->is_deferred = true;
	for (size_t i = 0; i < ctx->n; i++) {
		if (audit_build_request(&ctx->request_line[i], ctx, i, arg) != 0) {
			free(ctx->request[i]);
			ctx->request[i] = NULL;
		}
	}
}

int audit_log_request(struct audit_broker *ab, const struct request *req, struct response *resp,
                      struct audit_ctx **out)
{
	struct audit_request_arg arg = {req, NULL, NULL};
	struct audit_ctx *ctx;
	char time_text[COFFER_TIME_LEN], err[400];

	*out = NULL;
	if (__atomic_load_n(&ab->n_devs, __ATOMIC_ACQUIRE) == 0)
		return 0;
	ctx = audit_ctx_new(ab, req);
	audit_format_now(time_text);
	arg.time_text = time_text;
	arg.error = resp->status != 0 ? audit_body_error(resp->json) : NULL;
	ctx->is_change = req->op != REQ_OP_READ && req->op != REQ_OP_LIST;
	ctx->is_path_keyed = ctx->is_change && audit_is_path_keyed(req->path);
	if (!ctx->is_change) {
		audit_defer_request(ctx, &arg);
		*out = ctx;
		return 0;
	}
	if (!audit_write_all(ctx, "request", audit_build_request, &arg, err, sizeof(err))) {
		audit_fail_response(resp, "the request", err);
		audit_ctx_free(ctx);
		return COFFER_ERR_IO;
	}
	*out = ctx;
	return 0;
}

struct audit_response_arg {
	const struct response *resp;
	const json_t *body; /* resp->json, or NULL for a body built as text */
	const char *text;   /* that text: a JSON envelope */
	const char *time_text;
};

/* ,"response":{...} of a body built as text: from the text itself, or from its parse when the
 * text is more than the walk understands. Caller holds d->key_lock. */
static int audit_put_text_response(struct buf *sb, struct audit_device *d,
                                   const struct response *resp, const char *text)
{
	json_t *parsed;
	int rc = audit_sb_put_response_text(sb, d, resp->status, text);

	if (rc != AUDIT_TEXT_FALLBACK)
		return rc;
	parsed = json_loads(text, 0, NULL);
	rc = audit_sb_put_response(sb, d, resp, parsed);
	json_decref(parsed);
	return rc;
}

static int audit_build_response(struct buf *sb, struct audit_ctx *ctx, size_t i, const void *arg)
{
	const struct audit_response_arg *a = arg;
	struct audit_device *d = ctx->devs[i];
	int rc;

	audit_line_start(sb, ctx, i, a->time_text, "response");
	audit_sb_put(sb, "}", 1);
	pthread_rwlock_rdlock(&d->key_lock);
	if (a->text != NULL)
		rc = audit_put_text_response(sb, d, a->resp, a->text);
	else if (ctx->is_path_keyed)
		rc = audit_sb_put_response_paths(sb, d, a->resp, a->body);
	else
		rc = audit_sb_put_response(sb, d, a->resp, a->body);
	pthread_rwlock_unlock(&d->key_lock);
	audit_line_end(sb, audit_body_error(a->body));
	return rc;
}

/* Write the response lines of ctx for resp; on failure resp becomes the audit error. */
static void audit_write_response(struct audit_ctx *ctx, struct response *resp)
{
	struct audit_response_arg arg = {resp, resp->json, NULL, NULL};
	char time_text[COFFER_TIME_LEN], err[400];

	/* A body built as JSON text (the KV read) is read as text. */
	if (resp->json == NULL && resp->text != NULL && resp->content_type == NULL)
		arg.text = resp->text;
	audit_format_now(time_text);
	arg.time_text = time_text;
	if (audit_write_all(ctx, "response", audit_build_response, &arg, err, sizeof(err)))
		return;
	/* A change that succeeded is in the store: the answer must not say it was refused (a
	 * client would retry it). Its request line set room aside for this line, so this is
	 * rare: a response longer than that room on a full disk, or an I/O error. */
	if (ctx->is_change && resp->status > 0 && resp->status < 400)
		response_fail(resp, COFFER_ERR_INTERNAL,
		              "audit: the change was applied but its response could not be "
		              "recorded: %s",
		              err[0] != '\0' ? err : "no audit device can write");
	else
		audit_fail_response(resp, "the response", err);
}

/* A held response (sys/watch) wrapped so that its line is written when it is finished. */
struct audit_hold {
	struct response_hold hold;
	struct response_hold *inner;
	struct audit_ctx *ctx;
};

static struct audit_hold *audit_hold_of(struct response_hold *h)
{
	return (struct audit_hold *)(void *)((char *)h - offsetof(struct audit_hold, hold));
}

static void audit_hold_arm(struct response_hold *h, void (*resume)(void *arg), void *arg)
{
	struct audit_hold *ah = audit_hold_of(h);

	ah->inner->arm(ah->inner, resume, arg);
}

static void audit_hold_finish(struct response_hold *h, struct response *resp)
{
	struct audit_hold *ah = audit_hold_of(h);

	ah->inner->finish(ah->inner, resp);
	audit_write_response(ah->ctx, resp);
}

static void audit_hold_release(struct response_hold *h)
{
	struct audit_hold *ah = audit_hold_of(h);

	ah->inner->release(ah->inner);
	audit_ctx_free(ah->ctx);
	free(ah);
}

void audit_log_response(struct audit_ctx *ctx, struct response *resp)
{
	struct audit_hold *ah;

	if (ctx == NULL)
		return;
	if (resp->hold == NULL) {
		audit_write_response(ctx, resp);
		audit_ctx_free(ctx);
		return;
	}
	ah = xcalloc(1, sizeof(*ah));
	ah->hold.arm = audit_hold_arm;
	ah->hold.finish = audit_hold_finish;
	ah->hold.release = audit_hold_release;
	ah->inner = resp->hold;
	ah->ctx = ctx;
	resp->hold = &ah->hold;
}
