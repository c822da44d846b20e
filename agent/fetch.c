/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fetch.c: reads KV v2 secrets (API.md: GET :m/data/:p → data.data). The answers are freed through
 * jansson's wiping allocator; messages name the secret and its path, never a value.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "http_client.h"

int fetch_secret(struct coffer_http *h, const char *token, const char *path, json_t **data,
                 char *err, size_t err_len)
{
	json_t *resp = NULL, *d;
	const char *msg;
	long status;
	int rc;

	*data = NULL;
	rc = coffer_http_request(h, "GET", path, token, NULL, &status, &resp);
	if (rc != 0) {
		snprintf(err, err_len, "%s", coffer_http_error(h));
		return rc;
	}
	d = json_object_get(json_object_get(resp, "data"), "data");
	if (status == 200 && json_is_object(d)) {
		*data = json_incref(d);
	} else if (status == 200) {
		snprintf(err, err_len, "not a KV v2 secret (no data.data object)");
		rc = COFFER_ERR_INVALID;
	} else {
		msg = json_string_value(json_array_get(json_object_get(resp, "errors"), 0));
		snprintf(err, err_len, "HTTP %ld: %.200s", status,
		         msg != NULL && msg[0] != '\0' ? msg
		         : status == 404               ? "not found or deleted"
		                                       : "no message");
		rc = status == 403   ? COFFER_ERR_PERMISSION
		     : status == 404 ? COFFER_ERR_NOT_FOUND
		                     : COFFER_ERR_IO;
	}
	json_decref(resp);
	return rc;
}

int fetch_all(const struct agent_config *cfg, struct coffer_http *h, const char *token,
              json_t **data, char *err, size_t err_len)
{
	char msg[AGENT_ERR_LEN];
	json_t *d;
	size_t i;
	int rc;

	for (i = 0; i < cfg->n_secrets; i++) {
		if (cfg->secrets[i].path == NULL)
			continue;
		rc = fetch_secret(h, token, cfg->secrets[i].path, &d, msg, sizeof(msg));
		if (rc != 0) {
			snprintf(err, err_len, "secret %s (%s): %s", cfg->secrets[i].name,
			         cfg->secrets[i].path, msg);
			return rc;
		}
		json_decref(data[i]);
		data[i] = d;
	}
	return 0;
}
