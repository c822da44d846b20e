/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_renew.c: the token store's renew hook (identity/token.h token_renew_hook_fn). A token
 * created by a login names its auth mount in its path ("auth/approle/login"); this finds that
 * mount, asks its engine's renew hook over the mount's context, and resolves the mount's default
 * and max TTL. core.c sets it on the token store at start-up.
 */
#include <stdio.h>
#include <string.h>

#include "api/engine.h"
#include "engines/mount.h"
#include "identity/token.h"

int mount_renew_token(void *svc, const struct token_entry *e, struct token_renew_limits *lim,
                      char *msg, size_t cap)
{
	const struct engine_services *s = svc;
	struct mount_entry *m = NULL;
	struct engine_ctx ctx;
	int err;

	if (strncmp(e->path, "auth/", 5) != 0 || s->auth_mounts == NULL)
		return COFFER_ERR_NOT_FOUND;
	if ((err = mount_table_find(s->auth_mounts, e->path + 5, &m, NULL)) != 0)
		return err;
	err = COFFER_ERR_NOT_FOUND;
	if (m->engine->renew != NULL) {
		engine_ctx_init(&ctx, s, m->engine->uses, mount_entry_store_prefix(m));
		err = m->engine->renew(&ctx, e->meta, lim, msg, cap);
	}
	if (err == 0 && lim->ttl_s == 0)
		lim->ttl_s = m->default_lease_ttl_s;
	if (err == 0 && lim->max_ttl_s == 0)
		lim->max_ttl_s = m->max_lease_ttl_s;
	mount_entry_release(m);
	return err;
}
