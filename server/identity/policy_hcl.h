/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_hcl.h: the HCL subset of Vault's policies, read into the JSON form that the policy
 * compiler (policy.h) takes.
 */
#ifndef COFFER_POLICY_HCL_H
#define COFFER_POLICY_HCL_H

#include <stddef.h>

#include <jansson.h>

/* Translate HCL into {"path":{"<pattern>":{"capabilities":[...]}}}. On error, err names the line
 * ("line 3: ...") and COFFER_ERR_INVALID is returned. */
int policy_hcl_to_json(const char *text, size_t len, json_t **out, char *err, size_t err_len);

#endif
