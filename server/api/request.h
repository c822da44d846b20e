/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.h: the server's view of one HTTP request and its response, independent of
 * libmicrohttpd (http.c fills them in), and the one place where an error code becomes an HTTP
 * status and a JSON envelope (API.md "Responses").
 */
#ifndef COFFER_REQUEST_H
#define COFFER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "path.h"

enum req_method { REQ_GET, REQ_HEAD, REQ_POST, REQ_PUT, REQ_PATCH, REQ_DELETE, REQ_LIST };

/* The ACL operation of a request (DESIGN.md §2): GET=read, LIST=list, POST/PUT=create or update
 * (decided by the route's existence check), PATCH=patch, DELETE=delete. */
enum req_op { REQ_OP_READ, REQ_OP_LIST, REQ_OP_CREATE, REQ_OP_UPDATE, REQ_OP_PATCH, REQ_OP_DELETE };

#define REQ_MAX_PARAMS 4

struct acl;
struct response;
struct mount_entry;
struct token_entry;
#define REQ_M(m) (1u << (m))
#define REQ_M_WRITE (REQ_M(REQ_POST) | REQ_M(REQ_PUT))

struct request {
	enum req_method method;
	bool is_list;             /* LIST, or GET with ?list=true */
	bool is_path_set;         /* path is normalized: a refusal after it is audited */
	const char *token;        /* X-Vault-Token or bearer token; NULL when absent */
	const char *content_type; /* NULL when absent */
	json_t *body;             /* always an object (empty for an empty body) */
	char remote_addr[64];
	char request_id[37];
	/* The value of a query parameter, NULL when absent. */
	const char *(*query)(const struct request *req, const char *key);
	/* The query string again, percent-encoded ("" when none): what a redirect repeats. */
	void (*query_string)(const struct request *req, char *buf, size_t len);
	void *transport; /* http.c's connection */

	/* Set by the router before the handler runs. */
	enum req_op op;
	const struct mount_entry *mount; /* the mount that serves the path; NULL for sys/ */
	const char *rel_path;            /* path below the mount (points into path) */
	/* ":name" segments of the route pattern (and "*", the rest of a prefix route), in order;
	 * names and values are NUL-terminated copies in param_buf. */
	size_t n_params;
	const char *param_names[REQ_MAX_PARAMS];
	const char *param_values[REQ_MAX_PARAMS];
	/* The caller's token, authenticated and counted (NULL on unauthenticated routes). The
	 * router holds the reference and releases it after the response. */
	struct token_entry *auth;
	struct acl *acl; /* the ACL of auth's policies (referenced; released with auth) */

	/* The large buffers come last: http.c zeroes only the fields above them
	 * (REQUEST_ZERO_LEN), as each buffer is written before it is read. */
	/* Normalized, relative to /v1/ (http.c); made canonical by the router before anything
	 * reads it: a trailing '/' only for a LIST, folded names lowercased. */
	char path[PATH_MAX_LEN + 1];
	char param_buf[2 * PATH_MAX_LEN + 2 * REQ_MAX_PARAMS];
};

/* The bytes of struct request before its buffers. */
#define REQUEST_ZERO_LEN offsetof(struct request, path)

/* The value of the route parameter name (":name" in the pattern), or NULL. */
const char *request_param(const struct request *req, const char *name);
/* Append a parameter: name up to its first '/' or NUL, and len bytes of value, both copied.
 * COFFER_ERR_INVALID when full. */
int request_add_param(struct request *req, const char *name, const char *value, size_t len);

/*
 * A response that is not ready yet (a held sys/watch). The transport suspends the connection and
 * calls arm(); the holder calls resume(arg) once, from any thread, possibly during arm(); then
 * the transport calls finish() to fill the response, and release().
 */
struct response_hold {
	void (*arm)(struct response_hold *h, void (*resume)(void *arg), void *arg);
	void (*finish)(struct response_hold *h, struct response *resp);
	void (*release)(struct response_hold *h);
};

struct response {
	int status;
	struct response_hold *hold; /* set instead of a body when the response is held */
	json_t *json;               /* the body, or NULL for none */
	char *text;                 /* a non-JSON body (metrics), malloc'd; NULL for none */
	const char *content_type;   /* for text */
	char *location;             /* a redirect's Location, malloc'd; NULL for none */
};

/* The HTTP status for an error code (one table for the whole server). */
int request_status_for(int err);

/* Error responses: {"errors":[message]}, the status derived from err (request_status_for());
 * response_invalid() is response_fail() with COFFER_ERR_INVALID (400), response_err() says
 * coffer_strerror(err). Handlers name the error, never the status. */
void response_fail(struct response *resp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void response_invalid(struct response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void response_err(struct response *resp, int err);
/* 404 {"errors":[]} (an empty LIST, an unknown secret). */
void response_not_found(struct response *resp);
/* A raw body (no envelope); steals body. */
void response_raw(struct response *resp, int status, json_t *body);
/* 204, no body. */
void response_no_content(struct response *resp);
/* 307 Temporary Redirect to location (copied), no body: the client repeats the request there. */
void response_redirect(struct response *resp, const char *location);
/* 200 and the envelope; steals data, auth and warnings (each may be NULL). */
void response_envelope(struct response *resp, const struct request *req, json_t *data, json_t *auth,
                       json_t *warnings);
/* The same envelope with data given as JSON text, spliced in unparsed (the hot KV read); takes
 * data_text (malloc'd) and wipes it. */
void response_envelope_text(struct response *resp, const struct request *req, char *data_text);
/* The envelope plus every key of data copied to the top level (legacy sys routes). */
void response_legacy(struct response *resp, const struct request *req, json_t *data);
/* Release the body. */
void response_clear(struct response *resp);

/* Parse a "true|True|1|t" style boolean query value; COFFER_ERR_INVALID for anything else. */
int request_parse_bool(const char *s, bool *out);

#endif
