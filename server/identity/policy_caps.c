/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_caps.c: the words of Vault's policy language (policy.h): capability names, the legacy
 * "policy" values, the rule keys Coffer accepts without enforcing, and capabilities as JSON.
 * Shared by the compiler (policy.c), the HCL reader (policy_hcl.c) and the capability routes.
 */
#include <string.h>

#include "identity/policy_caps.h"

/* Alphabetical, the order in which sys/capabilities-self reports them. */
static const struct {
	const char *name;
	unsigned cap;
} acl_cap_names[] = {
    {"create", ACL_CAP_CREATE}, {"delete", ACL_CAP_DELETE}, {"deny", ACL_CAP_DENY},
    {"list", ACL_CAP_LIST},     {"patch", ACL_CAP_PATCH},   {"read", ACL_CAP_READ},
    {"sudo", ACL_CAP_SUDO},     {"update", ACL_CAP_UPDATE},
};

/* Vault's path-rule keys that Coffer accepts and does not enforce. */
static const char *const policy_ignored_keys[] = {
    "allowed_parameters", "denied_parameters", "required_parameters", "min_wrapping_ttl",
    "max_wrapping_ttl",   "comment",           "mfa_methods",         "control_group",
};

unsigned acl_cap_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(acl_cap_names) / sizeof(acl_cap_names[0]); i++) {
		if (strcmp(name, acl_cap_names[i].name) == 0)
			return acl_cap_names[i].cap;
	}
	return 0;
}

unsigned acl_cap_from_legacy(const char *name)
{
	if (strcmp(name, "read") == 0)
		return ACL_CAP_READ | ACL_CAP_LIST;
	if (strcmp(name, "write") == 0)
		return ACL_CAP_ALL & ~ACL_CAP_SUDO;
	if (strcmp(name, "deny") == 0)
		return ACL_CAP_DENY;
	if (strcmp(name, "sudo") == 0)
		return ACL_CAP_ALL;
	return 0;
}

bool policy_rule_key_is_ignored(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(policy_ignored_keys) / sizeof(policy_ignored_keys[0]); i++) {
		if (strcmp(key, policy_ignored_keys[i]) == 0)
			return true;
	}
	return false;
}

json_t *acl_capabilities_json(unsigned caps)
{
	json_t *a = json_array();
	size_t i;

	if (caps == 0 || (caps & ACL_CAP_DENY)) {
		json_array_append_new(a, json_string("deny"));
		return a;
	}
	for (i = 0; i < sizeof(acl_cap_names) / sizeof(acl_cap_names[0]); i++) {
		if (caps & acl_cap_names[i].cap)
			json_array_append_new(a, json_string(acl_cap_names[i].name));
	}
	return a;
}
