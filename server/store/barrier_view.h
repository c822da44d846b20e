/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier_view.h: the barrier seen from one mount. Every path is relative to the view's prefix
 * (a mount's "logical/<uuid>/"), so an engine can neither name nor reach another mount's records.
 * The view is a value the front end builds per request (api/engine.h); it borrows the prefix.
 */
#ifndef COFFER_BARRIER_VIEW_H
#define COFFER_BARRIER_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "store/barrier.h"

struct barrier_view {
	struct barrier
	    *barrier;       /* NULL: an empty view, every call fails with COFFER_ERR_INTERNAL */
	const char *prefix; /* "" or ending in '/'; borrowed */
	size_t prefix_len;
};

/* A view of b below prefix (NULL or "" for the whole barrier; borrowed, must outlive the view). */
void barrier_view_init(struct barrier_view *v, struct barrier *b, const char *prefix);

/* barrier_get() and friends (store/barrier.h) on prefix + path. */
int barrier_view_get(const struct barrier_view *v, const char *path, uint8_t **value,
                     size_t *len) COFFER_WUR;
int barrier_view_put(const struct barrier_view *v, const char *path, const uint8_t *value,
                     size_t len);
int barrier_view_delete(const struct barrier_view *v, const char *path);
/* Commit ops (paths in the view) in one batch, plus outside, when not NULL: one op at a path of
 * the whole barrier (the change index, engines/watch.h). */
int barrier_view_batch(const struct barrier_view *v, const struct barrier_op *ops, size_t n_ops,
                       const struct barrier_op *outside);
/* barrier_list(): names below folder, relative to it as barrier_list() gives them. */
int barrier_view_list(const struct barrier_view *v, const char *folder, char ***keys, size_t *n);
/* barrier_list_tree(), the paths relative to the view. Free with barrier_list_free(). */
int barrier_view_list_tree(const struct barrier_view *v, const char *folder, char ***paths,
                           size_t *n);
/* barrier_hash(): keyed MACs do not depend on the view. */
int barrier_view_hash(const struct barrier_view *v, const char *label, const void *msg, size_t len,
                      uint8_t out[COFFER_MAC_LEN]);

#endif
