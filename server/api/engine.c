/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c: builds an engine context from the server's services (api/engine.h): only what the
 * route's table or engine declared, over the view of its mount.
 */
#include <string.h>

#include "api/engine.h"

void engine_ctx_init(struct engine_ctx *ctx, const struct engine_services *svc, unsigned uses,
                     const char *prefix)
{
	memset(ctx, 0, sizeof(*ctx));
	if (prefix != NULL && prefix[0] != '\0')
		barrier_view_init(&ctx->store, svc->barrier, prefix);
	else
		barrier_view_init(&ctx->store, NULL, NULL);
	ctx->settings = &svc->settings;
	if (uses & ENGINE_USES_TOKENS)
		ctx->tokens = svc->tokens;
	if (uses & ENGINE_USES_POLICIES)
		ctx->policies = svc->policies;
	if (uses & ENGINE_USES_LEASES)
		ctx->leases = svc->leases;
	if (uses & ENGINE_USES_WATCH)
		ctx->watch = svc->watch;
	if (uses & ENGINE_USES_AUDIT)
		ctx->audit = svc->audit;
	if (uses & ENGINE_USES_MOUNTS) {
		ctx->auth_mounts = svc->auth_mounts;
		ctx->secret_mounts = svc->secret_mounts;
	}
	if (uses & ENGINE_USES_CORE)
		ctx->core = svc->core;
}
