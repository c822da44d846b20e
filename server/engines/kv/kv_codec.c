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
#include "engines/kv/kv_int.h"
#include "xmalloc.h"

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

static void kv_meta_reserve(struct kv_meta *m, size_t n)
{
	size_t cap;

	if (n <= m->cap_versions)
		return;
	cap = m->cap_versions != 0 ? m->cap_versions : 4;
	while (cap < n)
		cap *= 2;
	m->versions = xreallocarray(m->versions, cap, sizeof(*m->versions));
	m->cap_versions = cap;
}

/*
 * Stored form of a metadata row: fixed-width little-endian fields, so that the hot read decodes it
 * without a JSON parser: 'M' 1 | cas_required (1) | max_versions, delete_version_after, created,
 * updated, current_version, oldest_version (8 each) | n (4) | n x (version, created, deletion (8
 * each), destroyed (1)) | custom metadata length (4) | custom metadata as JSON text (0 = none).
 */
#define KV_META_MAGIC 'M'
#define KV_META_FORMAT 1
#define KV_META_HEAD (2 + 1 + 6 * 8 + 4)
#define KV_META_VERSION_LEN (3 * 8 + 1)

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int kv_meta_encode(const struct kv_meta *m, uint8_t **out, size_t *out_len)
{
	char *cm = NULL;
	size_t cm_len = 0, len;
	uint8_t *buf, *p;

	*out = NULL;
	*out_len = 0;
	if (m->custom_metadata != NULL) {
		cm = coffer_json_dump(m->custom_metadata);
		cm_len = strlen(cm);
	}
	/* Neither count fits its 4 bytes only past every limit (max_versions, custom metadata). */
	if (m->n_versions > UINT32_MAX || cm_len > UINT32_MAX) {
		coffer_json_free_text(cm);
		return COFFER_ERR_TOO_LARGE;
	}
	len = KV_META_HEAD + m->n_versions * KV_META_VERSION_LEN + 4 + cm_len;
	buf = xmalloc(len);
	p = buf;
	*p++ = KV_META_MAGIC;
	*p++ = KV_META_FORMAT;
	*p++ = m->cas_required;
	p = put_u64(p, (uint64_t)m->max_versions);
	p = put_u64(p, (uint64_t)m->delete_version_after_s);
	p = put_u64(p, (uint64_t)m->created_ns);
	p = put_u64(p, (uint64_t)m->updated_ns);
	p = put_u64(p, m->current_version);
	p = put_u64(p, m->oldest_version);
	p = put_u32(p, (uint32_t)m->n_versions);
	for (size_t i = 0; i < m->n_versions; i++) {
		p = put_u64(p, m->versions[i].version);
		p = put_u64(p, (uint64_t)m->versions[i].created_ns);
		p = put_u64(p, (uint64_t)m->versions[i].deletion_ns);
		*p++ = m->versions[i].is_destroyed;
	}
	p = put_u32(p, (uint32_t)cm_len);
	if (cm_len > 0)
		memcpy(p, cm, cm_len);
	coffer_json_free_text(cm);
	*out = buf;
	*out_len = len;
	return 0;
}

int kv_meta_decode(const uint8_t *buf, size_t len, struct kv_meta *m)
{
	const uint8_t *p = buf, *end = buf + len;
	size_t n, cm_len;

	memset(m, 0, sizeof(*m));
	if (len < KV_META_HEAD || p[0] != KV_META_MAGIC || p[1] != KV_META_FORMAT || p[2] > 1)
		return COFFER_ERR_INTEGRITY;
	m->cas_required = p[2] != 0;
	p += 3;
	m->max_versions = (int64_t)get_u64(p);
	m->delete_version_after_s = (int64_t)get_u64(p + 8);
	m->created_ns = (int64_t)get_u64(p + 16);
	m->updated_ns = (int64_t)get_u64(p + 24);
	m->current_version = get_u64(p + 32);
	m->oldest_version = get_u64(p + 40);
	n = get_u32(p + 48);
	p += 52;
	if ((size_t)(end - p) < 4 || n > ((size_t)(end - p) - 4) / KV_META_VERSION_LEN)
		return COFFER_ERR_INTEGRITY;
	kv_meta_reserve(m, n);
	for (size_t i = 0; i < n; i++, p += KV_META_VERSION_LEN) {
		struct kv_version *v = &m->versions[i];

		if (p[24] > 1)
			goto bad;
		v->version = get_u64(p);
		v->created_ns = (int64_t)get_u64(p + 8);
		v->deletion_ns = (int64_t)get_u64(p + 16);
		v->is_destroyed = p[24] != 0;
		m->n_versions++;
	}
	cm_len = get_u32(p);
	p += 4;
	if (cm_len != (size_t)(end - p))
		goto bad;
	if (cm_len > 0) {
		m->custom_metadata = json_loadb((const char *)p, cm_len, 0, NULL);
		if (!json_is_object(m->custom_metadata))
			goto bad;
	}
	return 0;
bad:
	kv_meta_clear(m);
	return COFFER_ERR_INTEGRITY;
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

	kv_meta_reserve(m, m->n_versions + 1);
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

char *kv_version_api_text(const struct kv_meta *m, const struct kv_version *v)
{
	char created[KV_TIME_LEN], deleted[KV_TIME_LEN], *cm = NULL, *out;

	if (m->custom_metadata != NULL)
		cm = coffer_json_dump(m->custom_metadata);
	kv_format_time(v->created_ns, created);
	kv_format_time(v->deletion_ns, deleted);
	/* Times are digits and punctuation only: nothing to escape. */
	xasprintf(&out,
	          "{\"created_time\":\"%s\",\"custom_metadata\":%s,\"deletion_time\":\"%s\","
	          "\"destroyed\":%s,\"version\":%llu}",
	          created, cm != NULL ? cm : "null", deleted, v->is_destroyed ? "true" : "false",
	          (unsigned long long)v->version);
	coffer_json_free_text(cm);
	return out;
}

json_t *kv_version_api_json(const struct kv_meta *m, const struct kv_version *v)
{
	char created[KV_TIME_LEN], deleted[KV_TIME_LEN];

	kv_format_time(v->created_ns, created);
	kv_format_time(v->deletion_ns, deleted);
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

	for (i = 0; i < m->n_versions; i++) {
		v = &m->versions[i];
		kv_format_time(v->created_ns, created);
		kv_format_time(v->deletion_ns, deleted);
		snprintf(key, sizeof(key), "%llu", (unsigned long long)v->version);
		json_object_set_new(o, key,
		                    json_pack("{s:s,s:s,s:b}", "created_time", created,
		                              "deletion_time", deleted, "destroyed",
		                              v->is_destroyed));
	}
	return o;
}

json_t *kv_meta_api_json(const struct kv_meta *m)
{
	char created[KV_TIME_LEN], updated[KV_TIME_LEN], dva[48];

	kv_format_time(m->created_ns, created);
	kv_format_time(m->updated_ns, updated);
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
