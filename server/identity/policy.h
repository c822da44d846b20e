/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h: ACL policies (DESIGN.md §4). A policy is a set of path rules with capabilities, written
 * in Vault's JSON form or the HCL subset (policy_hcl.c). Rules: a trailing '*' makes a prefix
 * match, '+' matches exactly one segment; inside a policy the most specific matching rule wins
 * (Vault's priority order); across policies capabilities are unioned; deny wins; no match denies.
 * The policy store keeps policies in the barrier ("core/policy/<name>"), builds the built-in
 * "root" and "default", and caches compiled ACLs per set of policy names.
 */
#ifndef COFFER_POLICY_H
#define COFFER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "identity/policy_caps.h"
#include "identity/policy_hcl.h"
#include "store/barrier.h"

struct policy; /* one parsed policy */
struct acl;    /* the compiled union of a token's policies; immutable, reference-counted */
struct policy_store;

/*
 * Parse a policy document (JSON if its first non-space character is '{', else HCL). On error,
 * err gets a message for the client that names the line (HCL) or position, and
 * COFFER_ERR_INVALID is returned. Unknown capabilities are errors.
 */
int policy_parse(const char *name, const char *text, size_t len, struct policy **out, char *err,
                 size_t err_len);
void policy_free(struct policy *p);

/* Compile policies into an ACL (refs = 1). "root" in the set grants everything. */
struct acl *acl_build(struct policy *const *policies, size_t n, bool is_root);
void acl_ref(struct acl *acl);
void acl_release(struct acl *acl);
/* The capabilities the ACL grants on path (a request path such as "secret/data/app/db", with a
 * trailing '/' for folders): a mask of enum acl_cap; ACL_CAP_DENY alone when denied. */
unsigned acl_capabilities(const struct acl *acl, const char *path);
bool acl_is_root(const struct acl *acl);

int policy_store_new(struct barrier *b, struct policy_store **out);
void policy_store_free(struct policy_store *ps);
/* At unseal: create "default" if it is not stored yet. */
int policy_store_setup(struct policy_store *ps);
/* At seal: drop the cached policies and ACLs. */
void policy_store_flush(struct policy_store *ps);
/* The ACL of a set of policy names (a JSON array of strings), from the cache or compiled. Names
 * that do not exist are skipped. */
int policy_store_acl(struct policy_store *ps, const json_t *names, struct acl **out);
/* True when a policy of that name exists (root and default always do). */
bool policy_store_exists(struct policy_store *ps, const char *name);

/* Policy names are 1..POLICY_NAME_MAX characters of [A-Za-z0-9_.-], kept lowercased (as Vault
 * does). Lowercase in into out (POLICY_NAME_MAX + 1 bytes); COFFER_ERR_INVALID for a bad name. */
#define POLICY_NAME_MAX 128
int policy_name_normalize(const char *in, char out[POLICY_NAME_MAX + 1]);
/* Parse text (a policy document) and store it as name, replacing any policy of that name; the
 * cached ACLs are dropped. COFFER_ERR_INVALID with a message for the client in err for a bad
 * name, a bad document, or "root". */
int policy_store_put(struct policy_store *ps, const char *name, const char *text, size_t len,
                     char *err, size_t err_len);
/* The text of a stored policy in *raw (malloc'd; "" for root). COFFER_ERR_NOT_FOUND when absent
 * or the name is invalid. */
int policy_store_get(struct policy_store *ps, const char *name, char **raw);
/* Delete a policy; absent is not an error. COFFER_ERR_INVALID (message in err) for root,
 * default and bad names. */
int policy_store_delete(struct policy_store *ps, const char *name, char *err, size_t err_len);
/* The names of all policies, root included, sorted: a new JSON array. */
int policy_store_list(struct policy_store *ps, json_t **out);

#endif
