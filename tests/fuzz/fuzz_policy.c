/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: policy documents (HCL and JSON); a parsed policy must evaluate without faults. */
#include <stdint.h>
#include <stdlib.h>

#include "json.h"
#include "identity/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"", "secret/", "secret/data/app/db", "sys/policy/x",
	                                    "a/b/c/d/"};
	struct policy *p = NULL;
	struct acl *acl;
	char err[256];
	size_t i;

	if (policy_parse("fuzz", (const char *)data, size, &p, err, sizeof(err)) != 0)
		return 0;
	acl = acl_build(&p, 1, false);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		json_decref(acl_capabilities_json(acl_capabilities(acl, paths[i])));
	acl_release(acl);
	policy_free(p);
	return 0;
}
