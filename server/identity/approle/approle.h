/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approle.h: the AppRole auth engine (DESIGN.md §4, API.md "auth/approle"): roles with a role_id,
 * secret_ids (stored as keyed hashes) with TTL, use count and CIDR binding, and login, which
 * creates a token with the role's settings. Data lives under the mount's storage prefix.
 */
#ifndef COFFER_APPROLE_H
#define COFFER_APPROLE_H

struct engine;

extern const struct engine approle_engine;

#endif
