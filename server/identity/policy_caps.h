/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_caps.h: capabilities and the words of Vault's policy language, below the policy compiler
 * (policy.h) and the HCL reader, which both speak them.
 */
#ifndef COFFER_POLICY_CAPS_H
#define COFFER_POLICY_CAPS_H

#include <stdbool.h>

#include <jansson.h>

enum acl_cap {
	ACL_CAP_DENY = 1u << 0,
	ACL_CAP_CREATE = 1u << 1,
	ACL_CAP_READ = 1u << 2,
	ACL_CAP_UPDATE = 1u << 3,
	ACL_CAP_PATCH = 1u << 4,
	ACL_CAP_DELETE = 1u << 5,
	ACL_CAP_LIST = 1u << 6,
	ACL_CAP_SUDO = 1u << 7,
};
#define ACL_CAP_ALL                                                                                \
	(ACL_CAP_CREATE | ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_PATCH | ACL_CAP_DELETE |         \
	 ACL_CAP_LIST | ACL_CAP_SUDO)

/* Capability names for a mask, as sys/capabilities-self reports them ("deny" for none). */
json_t *acl_capabilities_json(unsigned caps);
/* The capability of a name ("read" -> ACL_CAP_READ); 0 for an unknown name. */
unsigned acl_cap_from_name(const char *name);
/* The capabilities of Vault's legacy `policy = "read"|"write"|"deny"|"sudo"`; 0 when unknown. */
unsigned acl_cap_from_legacy(const char *name);
/* True for the keys of a path rule that are accepted and ignored (allowed_parameters, ...). */
bool policy_rule_key_is_ignored(const char *key);

#endif
