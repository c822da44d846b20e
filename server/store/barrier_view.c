/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier_view.c: the barrier below one prefix (barrier_view.h). Each call joins the prefix and
 * the relative path into one logical path and hands it to the barrier, which is the only code
 * that turns paths into physical keys.
 */
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "store/barrier_view.h"
#include "xmalloc.h"

void barrier_view_init(struct barrier_view *v, struct barrier *b, const char *prefix)
{
	v->barrier = b;
	v->prefix = prefix != NULL ? prefix : "";
	v->prefix_len = strlen(v->prefix);
}

/* prefix + path into buf (PATH_MAX_LEN + 1 bytes). COFFER_ERR_INVALID when too long. */
static int view_join(const struct barrier_view *v, const char *path, char *buf)
{
	size_t len = strlen(path);

	if (v->barrier == NULL)
		return COFFER_ERR_INTERNAL;
	if (v->prefix_len + len > PATH_MAX_LEN)
		return COFFER_ERR_INVALID;
	memcpy(buf, v->prefix, v->prefix_len);
	memcpy(buf + v->prefix_len, path, len + 1);
	return 0;
}

int barrier_view_get(const struct barrier_view *v, const char *path, uint8_t **value, size_t *len)
{
	char full[PATH_MAX_LEN + 1];
	int err;

	*value = NULL;
	*len = 0;
	if ((err = view_join(v, path, full)) != 0)
		return err;
	return barrier_get(v->barrier, full, value, len);
}

int barrier_view_put(const struct barrier_view *v, const char *path, const uint8_t *value,
                     size_t len)
{
	char full[PATH_MAX_LEN + 1];
	int err;

	if ((err = view_join(v, path, full)) != 0)
		return err;
	return barrier_put(v->barrier, full, value, len);
}

int barrier_view_delete(const struct barrier_view *v, const char *path)
{
	char full[PATH_MAX_LEN + 1];
	int err;

	if ((err = view_join(v, path, full)) != 0)
		return err;
	return barrier_delete(v->barrier, full);
}

int barrier_view_batch(const struct barrier_view *v, const struct barrier_op *ops, size_t n_ops,
                       const struct barrier_op *outside)
{
	struct barrier_op *all;
	char *paths, *p;
	size_t i, total = 0;
	int err;

	if (v->barrier == NULL)
		return COFFER_ERR_INTERNAL;
	for (i = 0; i < n_ops; i++)
		total += v->prefix_len + strlen(ops[i].path) + 1;
	all = xcalloc(n_ops + 1, sizeof(*all));
	paths = xmalloc(total);
	for (i = 0, p = paths; i < n_ops; i++) {
		size_t len = strlen(ops[i].path);

		all[i] = ops[i];
		all[i].path = p;
		memcpy(p, v->prefix, v->prefix_len);
		memcpy(p + v->prefix_len, ops[i].path, len + 1);
		p += v->prefix_len + len + 1;
	}
	if (outside != NULL)
		all[n_ops] = *outside;
	err = barrier_batch(v->barrier, all, n_ops + (outside != NULL));
	free(paths);
	free(all);
	return err;
}

int barrier_view_list(const struct barrier_view *v, const char *folder, char ***keys, size_t *n)
{
	char full[PATH_MAX_LEN + 1];
	int err;

	*keys = NULL;
	*n = 0;
	if ((err = view_join(v, folder, full)) != 0)
		return err;
	return barrier_list(v->barrier, full, keys, n);
}

int barrier_view_list_tree(const struct barrier_view *v, const char *folder, char ***paths,
                           size_t *n)
{
	char full[PATH_MAX_LEN + 1];
	size_t i;
	int err;

	*paths = NULL;
	*n = 0;
	if ((err = view_join(v, folder, full)) != 0)
		return err;
	if ((err = barrier_list_tree(v->barrier, full, paths, n)) != 0)
		return err;
	/* Every path starts with the prefix, as it starts with folder. */
	for (i = 0; i < *n; i++)
		memmove((*paths)[i], (*paths)[i] + v->prefix_len,
		        strlen((*paths)[i]) - v->prefix_len + 1);
	return 0;
}

int barrier_view_hash(const struct barrier_view *v, const char *label, const void *msg, size_t len,
                      uint8_t out[COFFER_MAC_LEN])
{
	if (v->barrier == NULL)
		return COFFER_ERR_INTERNAL;
	return barrier_hash(v->barrier, label, msg, len, out);
}
