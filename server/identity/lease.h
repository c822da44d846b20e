/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.h: the expiration manager (DESIGN.md §4). Every lease (today: every token with a TTL) is
 * kept in a min-heap by expiry; a background thread revokes each one when it comes due through
 * the owner's callback. The heap is rebuilt at unseal by the owners (token_store_setup), so leases
 * that expired while the server was down or sealed are revoked right after unseal. Also serves
 * the sys/leases routes and their legacy forms (sys/renew, sys/revoke*).
 */
#ifndef COFFER_LEASE_H
#define COFFER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* Revoke the lease with this id; called from the manager's thread without its lock held. */
typedef int (*lease_revoke_fn)(void *arg, const char *lease_id);

/* The longest lease id (bytes). */
#define LEASE_ID_MAX 1024

struct lease_mgr;

struct lease_mgr *lease_mgr_new(lease_revoke_fn revoke, void *arg);
/* Stops the thread if running. NULL allowed. */
void lease_mgr_free(struct lease_mgr *lm);
/* Start revoking (at unseal, after the owners have scheduled their leases). */
int lease_mgr_start(struct lease_mgr *lm);
/* Stop revoking and forget every lease (at seal). */
void lease_mgr_stop(struct lease_mgr *lm);
/* Schedule (or reschedule, on renew) lease_id to expire at expire_time (Unix seconds). */
int lease_mgr_track(struct lease_mgr *lm, const char *lease_id, int64_t expire_time);
/* Forget lease_id (revoked by other means). */
void lease_mgr_untrack(struct lease_mgr *lm, const char *lease_id);
/* Number of leases tracked (metrics, tests). */
size_t lease_mgr_count(struct lease_mgr *lm);
/* The next segment of every tracked lease id below prefix ("" or ending in '/'), sorted and
 * unique, folders '/'-suffixed (LIST sys/leases/lookup/...). *keys is a new array. */
int lease_mgr_list(struct lease_mgr *lm, const char *prefix, json_t **keys);
/* Revoke, through the callback, every tracked lease whose id is below prefix (a '/' is added
 * unless prefix ends with one). With force, failures are logged and skipped; else the first
 * failure stops and is returned. Leases revoked meanwhile by other means are not failures. */
int lease_mgr_revoke_prefix(struct lease_mgr *lm, const char *prefix, bool force);

#endif
