/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch_routes.c: POST sys/watch (API.md): reads the paths, the index and the wait, checks that
 * the caller may read every path, and hands the request to the change notifier (watch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/tables.h"
#include "engines/watch.h"
#include "identity/policy.h"
#include "identity/token.h"
#include "json.h"
#include "path.h"
#include "xmalloc.h"

#define WATCH_MAX_PATHS 256 /* per request */
#define WATCH_DEFAULT_WAIT_S 60
#define WATCH_MAX_WAIT_S 600

/* Read the request: normalized paths, each readable by the caller. */
static int watch_parse_paths(const struct request *req, struct response *resp, char ***out,
                             size_t *n_out)
{
	json_t *list = NULL;
	char norm[PATH_MAX_LEN + 1];
	char **paths = NULL;
	size_t i, n = 0;
	int err;

	err = coffer_json_get_string_list(req->body, "paths", &list);
	if (err != 0 || json_array_size(list) == 0 || json_array_size(list) > WATCH_MAX_PATHS) {
		response_invalid(resp, "paths must be a list of 1..%d paths", WATCH_MAX_PATHS);
		json_decref(list);
		return COFFER_ERR_INVALID;
	}
	paths = xcalloc(json_array_size(list), sizeof(char *));
	for (i = 0; i < json_array_size(list); i++) {
		const char *p = json_string_value(json_array_get(list, i));

		if (path_normalize(p, strlen(p), norm, sizeof(norm)) != 0 || norm[0] == '\0') {
			response_invalid(resp, "invalid path in paths: %.200s", p);
			err = COFFER_ERR_INVALID;
			goto out;
		}
		/* The ACL needs read on each path (DESIGN.md §5). */
		if (!(acl_capabilities(req->acl, norm) & ACL_CAP_READ) ||
		    (acl_capabilities(req->acl, norm) & ACL_CAP_DENY)) {
			response_err(resp, COFFER_ERR_PERMISSION);
			err = COFFER_ERR_PERMISSION;
			goto out;
		}
		paths[n++] = xstrdup(norm);
	}
	*out = paths;
	*n_out = n;
	paths = NULL;
out:
	if (paths != NULL) {
		for (i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
	}
	json_decref(list);
	return err;
}

static int watch_parse_wait(const struct request *req, struct response *resp, uint64_t *since,
                            int64_t *wait_s)
{
	int64_t index = 0;

	*wait_s = WATCH_DEFAULT_WAIT_S;
	if (coffer_json_get_int(req->body, "index", &index) == COFFER_ERR_INVALID || index < 0) {
		response_invalid(resp, "index must be a non-negative integer");
		return COFFER_ERR_INVALID;
	}
	if (coffer_json_get_duration(req->body, "wait", wait_s) == COFFER_ERR_INVALID) {
		response_invalid(resp, "wait must be a duration such as \"60s\"");
		return COFFER_ERR_INVALID;
	}
	if (*wait_s > WATCH_MAX_WAIT_S)
		*wait_s = WATCH_MAX_WAIT_S;
	*since = (uint64_t)index;
	return 0;
}

static void watch_handle(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct watch_query q = {0};

	if (watch_parse_wait(req, resp, &q.since, &q.wait_s) != 0 ||
	    watch_parse_paths(req, resp, &q.paths, &q.n_paths) != 0)
		return;
	q.cap_per_token = ctx->settings->max_watches_per_token;
	q.request_id = req->request_id;
	q.accessor = req->auth != NULL ? req->auth->accessor : "";
	watch_answer(ctx->watch, &q, resp); /* takes q.paths */
}

const struct route watch_routes[] = {
    {"sys/watch", REQ_M_WRITE, 0, watch_handle, NULL},
};
const size_t watch_routes_len = sizeof(watch_routes) / sizeof(watch_routes[0]);
