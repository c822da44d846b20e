/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_int.h: helpers that policy.c (parsing, ACLs) shares with policy_store.c (the store and
 * its caches). Not for use outside those two files.
 */
#ifndef COFFER_POLICY_INT_H
#define COFFER_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "identity/policy.h"

/* Take a reference on p; policy_free() drops one. */
void policy_ref(struct policy *p);

#endif
