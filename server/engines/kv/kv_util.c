/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_util.c: the KV engine's pure decisions: time formatting, RFC 7386 merge patch, subkeys,
 * effective max_versions and delete_version_after, check-and-set, custom_metadata limits and the
 * parsing of version lists. No storage here, so tests/unit/test_kv.c links it alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json.h"
#include "duration.h"
#include "engines/kv/kv_int.h"
#include "xmalloc.h"

int64_t kv_now_ns(void)
{
	return coffer_clock_now_ns();
}

void kv_format_time(int64_t ns, char out[KV_TIME_LEN])
{
	int64_t sec = ns / 1000000000;
	long nsec = (long)(ns % 1000000000);

	out[0] = '\0';
	if (ns == 0)
		return;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	coffer_time_format(sec, nsec, 9, out);
}

/* RFC 7386 §2 on a target we own (stolen, may be NULL); the result. */
static json_t *kv_merge_apply(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *value, *child;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach((json_t *)patch, key, value)
	{
		if (json_is_null(value)) {
			json_object_del(target, key);
			continue;
		}
		child = json_incref(json_object_get(target, key));
		json_object_set_new(target, key, kv_merge_apply(child, value));
	}
	return target;
}

json_t *kv_merge_patch(const json_t *target, const json_t *patch)
{
	json_t *copy = NULL;

	if (patch == NULL)
		return NULL;
	if (target != NULL && json_is_object(patch))
		copy = json_deep_copy(target);
	return kv_merge_apply(copy, patch);
}

static json_t *kv_subkeys_level(const json_t *obj, int64_t depth, int64_t level)
{
	json_t *out = json_object(), *value, *sub;
	const char *key;

	json_object_foreach((json_t *)obj, key, value)
	{
		if (json_is_object(value) && (depth == 0 || level < depth))
			sub = kv_subkeys_level(value, depth, level + 1);
		else
			sub = json_null();
		json_object_set_new(out, key, sub);
	}
	return out;
}

json_t *kv_subkeys(const json_t *data, int64_t depth)
{
	if (!json_is_object(data) || depth < 0)
		return NULL;
	return kv_subkeys_level(data, depth, 1);
}

uint64_t kv_effective_max_versions(int64_t key_max, int64_t mount_max)
{
	int64_t m = key_max > mount_max ? key_max : mount_max;

	return m > 0 ? (uint64_t)m : KV_DEFAULT_MAX_VERSIONS;
}

int64_t kv_effective_delete_after(int64_t key_s, int64_t mount_s)
{
	if (key_s > 0 && (mount_s <= 0 || key_s < mount_s))
		return key_s;
	return mount_s > 0 ? mount_s : 0;
}

enum kv_cas_result kv_cas_decide(bool has_cas, uint64_t cas, bool is_cas_required,
                                 uint64_t current_version)
{
	if (!has_cas)
		return is_cas_required ? KV_CAS_REQUIRED : KV_CAS_OK;
	return cas == current_version ? KV_CAS_OK : KV_CAS_MISMATCH;
}

int kv_options_cas(const json_t *body, bool *has_cas, uint64_t *cas)
{
	const json_t *options = json_object_get(body, "options");
	int64_t v = 0;
	int err;

	*has_cas = false;
	*cas = 0;
	if (options == NULL || json_is_null(options))
		return 0;
	if (!json_is_object(options))
		return COFFER_ERR_INVALID;
	err = coffer_json_get_int(options, "cas", &v);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0 || v < 0)
		return COFFER_ERR_INVALID;
	*has_cas = true;
	*cas = (uint64_t)v;
	return 0;
}

int kv_custom_metadata_check(const json_t *cm, char *msg, size_t msg_cap)
{
	const char *key;
	json_t *value;

	if (!json_is_object(cm)) {
		snprintf(msg, msg_cap, "custom_metadata must be an object of strings");
		return COFFER_ERR_INVALID;
	}
	if (json_object_size(cm) > KV_MAX_CUSTOM_METADATA_KEYS) {
		snprintf(msg, msg_cap, "custom_metadata has %zu keys; at most %d are allowed",
		         json_object_size(cm), KV_MAX_CUSTOM_METADATA_KEYS);
		return COFFER_ERR_INVALID;
	}
	json_object_foreach((json_t *)cm, key, value)
	{
		if (key[0] == '\0' || strlen(key) > KV_MAX_CUSTOM_METADATA_KEY_LEN) {
			snprintf(msg, msg_cap,
			         "custom_metadata keys must be 1 to %d bytes long (%zu given)",
			         KV_MAX_CUSTOM_METADATA_KEY_LEN, strlen(key));
			return COFFER_ERR_INVALID;
		}
		if (!json_is_string(value)) {
			snprintf(msg, msg_cap,
			         "custom_metadata value of key \"%.128s\" must be a string", key);
			return COFFER_ERR_INVALID;
		}
		if (json_string_length(value) > KV_MAX_CUSTOM_METADATA_VALUE_LEN) {
			snprintf(msg, msg_cap,
			         "custom_metadata value of key \"%.128s\" is longer than %d bytes",
			         key, KV_MAX_CUSTOM_METADATA_VALUE_LEN);
			return COFFER_ERR_INVALID;
		}
	}
	return 0;
}

/* One version number: a positive integer, or a string of digits. */
static int kv_parse_version(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	while (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len == 0 || len > 19)
		return COFFER_ERR_INVALID;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return COFFER_ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static void kv_versions_push(uint64_t **out, size_t *n, size_t *cap, uint64_t v)
{
	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 8;
		*out = xreallocarray(*out, *cap, sizeof(**out));
	}
	(*out)[(*n)++] = v;
}

/* Append the comma-separated numbers of s. */
static int kv_versions_split(const char *s, uint64_t **out, size_t *n, size_t *cap)
{
	size_t len;
	uint64_t v;
	int err;

	for (;;) {
		len = strcspn(s, ",");
		if (len > 0 && !(len == strspn(s, " "))) {
			err = kv_parse_version(s, len, &v);
			if (err != 0)
				return err;
			kv_versions_push(out, n, cap, v);
		}
		if (s[len] == '\0')
			return 0;
		s += len + 1;
	}
}

static int kv_versions_item(const json_t *item, uint64_t **out, size_t *n, size_t *cap)
{
	json_int_t iv;

	if (json_is_integer(item)) {
		iv = json_integer_value(item);
		if (iv < 0)
			return COFFER_ERR_INVALID;
		kv_versions_push(out, n, cap, (uint64_t)iv);
		return 0;
	}
	if (json_is_string(item))
		return kv_versions_split(json_string_value(item), out, n, cap);
	return COFFER_ERR_INVALID;
}

int kv_parse_versions(const json_t *v, uint64_t **out, size_t *n)
{
	uint64_t *list = NULL;
	size_t count = 0, cap = 0, i;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return COFFER_ERR_NOT_FOUND;
	if (json_is_array(v)) {
		for (i = 0; err == 0 && i < json_array_size(v); i++)
			err = kv_versions_item(json_array_get(v, i), &list, &count, &cap);
	} else {
		err = kv_versions_item(v, &list, &count, &cap);
	}
	if (err == 0 && count == 0)
		err = COFFER_ERR_NOT_FOUND;
	if (err != 0) {
		free(list);
		return err;
	}
	*out = list;
	*n = count;
	return 0;
}

int kv_parse_query_uint(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	*out = 0;
	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 18)
			return COFFER_ERR_INVALID;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}
