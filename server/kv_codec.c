/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_codec.c: the KV engine's records in memory and in the barrier: a key's metadata (its versions
 * map, pruning), the mount's config, the API shapes of both (API.md "KV version 2"), and the
 * settings shared by POST config and POST metadata. Pure: tests/unit/test_kv.c links it alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "json.h"
#include "kv_int.h"

void kv_meta_init(struct kv_meta *m, int64_t now_ns)
{
	memset(m, 0, sizeof(*m));
	m->created_ns = now_ns;
	m->updated_ns = now_ns;
}

void kv_meta_clear(struct kv_meta *m)
{
	json_decref(m->custom_metadata);
	free(m->versions);
	memset(m, 0, sizeof(*m));
}

static int kv_meta_reserve(struct kv_meta *m, size_t n)
{
	struct kv_version *nv;
	size_t cap;

	if (n <= m->cap_versions)
		return 0;
	cap = m->cap_versions != 0 ? m->cap_versions : 4;
	while (cap < n)
		cap *= 2;
	nv = realloc(m->versions, cap * sizeof(*nv));
	if (nv == NULL)
		return COFFER_ERR_NOMEM;
	m->versions = nv;
	m->cap_versions = cap;
	return 0;
}

/* Stored form of a version: [version, created_ns, deletion_ns, destroyed]. */
static int kv_version_from_json(const json_t *j, struct kv_version *v)
{
	if (!json_is_array(j) || json_array_size(j) != 4 ||
	    !json_is_integer(json_array_get(j, 0)) || !json_is_integer(json_array_get(j, 1)) ||
	    !json_is_integer(json_array_get(j, 2)) || !json_is_boolean(json_array_get(j, 3)))
		return COFFER_ERR_INTEGRITY;
	v->version = (uint64_t)json_integer_value(json_array_get(j, 0));
	v->created_ns = json_integer_value(json_array_get(j, 1));
	v->deletion_ns = json_integer_value(json_array_get(j, 2));
	v->is_destroyed = json_is_true(json_array_get(j, 3));
	return 0;
}

int kv_meta_from_json(const json_t *j, struct kv_meta *m)
{
	json_int_t cur = 0, old = 0, maxv = 0, dva = 0, created = 0, updated = 0;
	json_t *versions = NULL, *cm = NULL;
	int cas = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (json_unpack((json_t *)j, "{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "cas_required", &cas,
	                "max_versions", &maxv, "delete_version_after", &dva, "created", &created,
	                "updated", &updated, "current_version", &cur, "oldest_version", &old,
	                "custom_metadata", &cm, "versions", &versions) != 0 ||
	    !json_is_array(versions) || (!json_is_null(cm) && !json_is_object(cm)))
		return COFFER_ERR_INTEGRITY;
	m->cas_required = cas != 0;
	m->max_versions = maxv;
	m->delete_version_after_s = dva;
	m->created_ns = created;
	m->updated_ns = updated;
	m->current_version = (uint64_t)cur;
	m->oldest_version = (uint64_t)old;
	m->custom_metadata = json_is_object(cm) ? json_deep_copy(cm) : NULL;
	if ((json_is_object(cm) && m->custom_metadata == NULL) ||
	    kv_meta_reserve(m, json_array_size(versions)) != 0) {
		kv_meta_clear(m);
		return COFFER_ERR_NOMEM;
	}
	for (i = 0; i < json_array_size(versions); i++) {
		if (kv_version_from_json(json_array_get(versions, i), &m->versions[i]) != 0) {
			kv_meta_clear(m);
			return COFFER_ERR_INTEGRITY;
		}
		m->n_versions++;
	}
	return 0;
}

json_t *kv_meta_to_json(const struct kv_meta *m)
{
	json_t *versions = json_array(), *o;
	const struct kv_version *v;
	size_t i;

	if (versions == NULL)
		return NULL;
	for (i = 0; i < m->n_versions; i++) {
		v = &m->versions[i];
		if (json_array_append_new(versions, json_pack("[I,I,I,b]", (json_int_t)v->version,
		                                              (json_int_t)v->created_ns,
		                                              (json_int_t)v->deletion_ns,
		                                              v->is_destroyed)) != 0) {
			json_decref(versions);
			return NULL;
		}
	}
	o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:O?,s:o}", "cas_required", m->cas_required,
	              "max_versions", (json_int_t)m->max_versions, "delete_version_after",
	              (json_int_t)m->delete_version_after_s, "created", (json_int_t)m->created_ns,
	              "updated", (json_int_t)m->updated_ns, "current_version",
	              (json_int_t)m->current_version, "oldest_version",
	              (json_int_t)m->oldest_version, "custom_metadata", m->custom_metadata,
	              "versions", versions);
	return o;
}

struct kv_version *kv_meta_find(const struct kv_meta *m, uint64_t version)
{
	size_t i;

	for (i = 0; i < m->n_versions; i++) {
		if (m->versions[i].version == version)
			return &m->versions[i];
	}
	return NULL;
}

struct kv_version *kv_meta_add_version(struct kv_meta *m, int64_t now_ns, int64_t deletion_ns)
{
	struct kv_version *v;

	if (kv_meta_reserve(m, m->n_versions + 1) != 0)
		return NULL;
	v = &m->versions[m->n_versions++];
	v->version = ++m->current_version;
	v->created_ns = now_ns;
	v->deletion_ns = deletion_ns;
	v->is_destroyed = false;
	m->updated_ns = now_ns;
	if (m->created_ns == 0)
		m->created_ns = now_ns;
	return v;
}

/* Vault: when the map holds more than max_versions entries, every version up to
 * current - max_versions goes. */
size_t kv_meta_prune_count(const struct kv_meta *m, uint64_t max_versions)
{
	uint64_t upto;
	size_t n = 0;

	if (max_versions == 0 || m->n_versions <= max_versions ||
	    m->current_version <= max_versions)
		return 0;
	upto = m->current_version - max_versions;
	while (n < m->n_versions && m->versions[n].version <= upto)
		n++;
	return n;
}

void kv_meta_drop_oldest(struct kv_meta *m, size_t n)
{
	if (n == 0)
		return;
	if (n > m->n_versions)
		n = m->n_versions;
	m->oldest_version = m->versions[n - 1].version + 1;
	memmove(m->versions, m->versions + n, (m->n_versions - n) * sizeof(*m->versions));
	m->n_versions -= n;
}

bool kv_version_is_deleted(const struct kv_version *v, int64_t now_ns)
{
	return v->deletion_ns != 0 && v->deletion_ns <= now_ns;
}

json_t *kv_version_api_json(const struct kv_meta *m, const struct kv_version *v)
{
	char created[KV_TIME_LEN], deleted[KV_TIME_LEN];

	kv_format_time(v->created_ns, created, sizeof(created));
	kv_format_time(v->deletion_ns, deleted, sizeof(deleted));
	return json_pack("{s:s,s:O,s:s,s:b,s:I}", "created_time", created, "custom_metadata",
	                 m->custom_metadata != NULL ? m->custom_metadata : json_null(),
	                 "deletion_time", deleted, "destroyed", v->is_destroyed, "version",
	                 (json_int_t)v->version);
}

static json_t *kv_versions_api_json(const struct kv_meta *m)
{
	char created[KV_TIME_LEN], deleted[KV_TIME_LEN], key[24];
	json_t *o = json_object();
	const struct kv_version *v;
	size_t i;

	for (i = 0; o != NULL && i < m->n_versions; i++) {
		v = &m->versions[i];
		kv_format_time(v->created_ns, created, sizeof(created));
		kv_format_time(v->deletion_ns, deleted, sizeof(deleted));
		snprintf(key, sizeof(key), "%llu", (unsigned long long)v->version);
		if (json_object_set_new(o, key,
		                        json_pack("{s:s,s:s,s:b}", "created_time", created,
		                                  "deletion_time", deleted, "destroyed",
		                                  v->is_destroyed)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *kv_meta_api_json(const struct kv_meta *m)
{
	char created[KV_TIME_LEN], updated[KV_TIME_LEN], dva[48];

	kv_format_time(m->created_ns, created, sizeof(created));
	kv_format_time(m->updated_ns, updated, sizeof(updated));
	if (duration_format(m->delete_version_after_s, dva, sizeof(dva)) != 0)
		snprintf(dva, sizeof(dva), "0s");
	return json_pack("{s:b,s:s,s:I,s:s,s:I,s:I,s:s,s:O,s:o}", "cas_required", m->cas_required,
	                 "created_time", created, "current_version", (json_int_t)m->current_version,
	                 "delete_version_after", dva, "max_versions", (json_int_t)m->max_versions,
	                 "oldest_version", (json_int_t)m->oldest_version, "updated_time", updated,
	                 "custom_metadata",
	                 m->custom_metadata != NULL ? m->custom_metadata : json_null(), "versions",
	                 kv_versions_api_json(m));
}

int kv_config_from_json(const json_t *j, struct kv_config *cfg)
{
	json_int_t maxv = 0, dva = 0;
	int cas = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (json_unpack((json_t *)j, "{s:I,s:b,s:I}", "max_versions", &maxv, "cas_required", &cas,
	                "delete_version_after", &dva) != 0)
		return COFFER_ERR_INTEGRITY;
	cfg->max_versions = maxv;
	cfg->cas_required = cas != 0;
	cfg->delete_version_after_s = dva;
	return 0;
}

json_t *kv_config_to_json(const struct kv_config *cfg)
{
	return json_pack("{s:I,s:b,s:I}", "max_versions", (json_int_t)cfg->max_versions,
	                 "cas_required", cfg->cas_required, "delete_version_after",
	                 (json_int_t)cfg->delete_version_after_s);
}

json_t *kv_config_api_json(const struct kv_config *cfg)
{
	char dva[48];

	if (duration_format(cfg->delete_version_after_s, dva, sizeof(dva)) != 0)
		snprintf(dva, sizeof(dva), "0s");
	return json_pack("{s:I,s:b,s:s}", "max_versions", (json_int_t)cfg->max_versions,
	                 "cas_required", cfg->cas_required, "delete_version_after", dva);
}

int kv_parse_settings(const json_t *body, struct kv_config *out, bool *has_max, bool *has_cas,
                      bool *has_dva, char *msg, size_t msg_cap)
{
	int err;

	*has_max = *has_cas = *has_dva = false;
	err = coffer_json_get_int(body, "max_versions", &out->max_versions);
	if (err == COFFER_ERR_INVALID || (err == 0 && out->max_versions < 0)) {
		snprintf(msg, msg_cap, "max_versions must be a non-negative integer");
		return COFFER_ERR_INVALID;
	}
	*has_max = err == 0;
	err = coffer_json_get_bool(body, "cas_required", &out->cas_required);
	if (err == COFFER_ERR_INVALID) {
		snprintf(msg, msg_cap, "cas_required must be a boolean");
		return COFFER_ERR_INVALID;
	}
	*has_cas = err == 0;
	err = coffer_json_get_duration(body, "delete_version_after", &out->delete_version_after_s);
	if (err == COFFER_ERR_INVALID || (err == 0 && out->delete_version_after_s < 0)) {
		snprintf(msg, msg_cap, "delete_version_after must be a duration such as \"1h\"");
		return COFFER_ERR_INVALID;
	}
	*has_dva = err == 0;
	return 0;
}
