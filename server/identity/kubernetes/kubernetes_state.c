/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes_state.c: a kubernetes mount's configuration as logins use it: the stored record and
 * its pem_keys parsed once, kept per mount (api/mount_state.h) and replaced by a config write.
 */
#include <stdlib.h>

#include "identity/kubernetes/kubernetes_int.h"
#include "identity/auth_role.h"
#include "log.h"
#include "xmalloc.h"

static void k8s_state_destroy(struct mount_state *base)
{
	struct k8s_state *st = (struct k8s_state *)base;

	json_decref(st->config);
	jose_keys_release(st->keys);
	free(st);
}

/* The keys of the config's pem_keys: NULL when it has none; on a parse error NULL and why set. */
int k8s_keys_of(const json_t *config, struct jose_keys **out, char *why, size_t cap)
{
	const json_t *pems = json_object_get(config, "pem_keys"), *v;
	struct jose_keys *ks;
	size_t i;
	int rc;

	*out = NULL;
	if (json_array_size(pems) == 0)
		return 0;
	ks = jose_keys_new();
	json_array_foreach(pems, i, v)
	{
		rc = jose_keys_add_pem(ks, json_string_value(v), why, cap);
		if (rc != 0) {
			jose_keys_release(ks);
			return rc;
		}
	}
	*out = ks;
	return 0;
}

struct k8s_state *k8s_state_new(json_t *config)
{
	struct k8s_state *st = xcalloc(1, sizeof(*st));
	char why[256];

	st->base.refs = 1;
	st->base.destroy = k8s_state_destroy;
	st->config = config;
	if (k8s_keys_of(config, &st->keys, why, sizeof(why)) != 0)
		log_error("kubernetes auth: the stored pem_keys do not parse: %s", why);
	return st;
}

struct k8s_state *k8s_state_get(const struct engine_ctx *ctx, int *rc)
{
	struct mount_state *cached = mount_state_get(ctx->store.prefix);
	struct k8s_state *st;
	json_t *config = NULL;

	if (cached != NULL) {
		*rc = 0;
		return (struct k8s_state *)cached;
	}
	*rc = auth_json_get(ctx, "config", &config);
	if (*rc != 0)
		return NULL;
	st = k8s_state_new(config);
	mount_state_ref(&st->base);
	mount_state_set(ctx->store.prefix, &st->base);
	return st;
}
