/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: request bodies as the server parses them, then every typed getter on the result. */
#include <stddef.h>
#include <stdint.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"secret_shares", "secret_threshold", "key",
	                                   "reset",         "policies",         "ttl",
	                                   "data",          "options"};
	static int is_init;
	json_t *obj = NULL, *list = NULL;
	const char *s;
	int64_t i;
	bool b;
	char err[128];
	size_t k;

	if (!is_init) {
		coffer_json_init();
		is_init = 1;
	}
	if (coffer_json_parse_object((const char *)data, size, &obj, err, sizeof(err)) != 0)
		return 0;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		(void)coffer_json_get_string(obj, keys[k], &s);
		(void)coffer_json_get_int(obj, keys[k], &i);
		(void)coffer_json_get_bool(obj, keys[k], &b);
		(void)coffer_json_get_duration(obj, keys[k], &i);
		if (coffer_json_get_string_list(obj, keys[k], &list) == 0)
			json_decref(list);
		list = NULL;
	}
	coffer_json_free_text(coffer_json_dump(obj));
	json_decref(obj);
	return 0;
}
