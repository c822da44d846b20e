/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_entry.c: one token entry apart from the store: the clock and TTL arithmetic, the stored
 * JSON form, copies and reference counts, CIDR binding, and the auth and lookup views that the
 * routes and logins return; the text of new tokens. Used by token.c, token_routes.c, approle.c
 * and core.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "codec.h"
#include "json.h"
#include "secmem.h"
#include "identity/token_int.h"
#include "xmalloc.h"

#define TOKEN_ACCESSOR_CHARS 24

/* The exact expiry decides when a token is refused (to the millisecond, so a 2 s token is
 * refused right after 2 s); the whole-second expiry, rounded up, is what leases and lookups show.
 */
void token_set_expiry(struct token_entry *e, int64_t now_ms, int64_t ttl_s)
{
	if (ttl_s <= 0) {
		e->expire_ms = 0;
		e->expire_time = 0;
		return;
	}
	e->expire_ms = now_ms + ttl_s * 1000;
	e->expire_time = (e->expire_ms + 999) / 1000;
}

void token_format_time(int64_t t, char out[COFFER_TIME_LEN])
{
	coffer_time_format(t, 0, 9, out);
}

int64_t token_compute_ttl(int64_t ttl_s, int64_t max_ttl_s, int64_t explicit_max_ttl_s,
                          int64_t period_s, bool is_root)
{
	int64_t max = max_ttl_s > 0 ? max_ttl_s : TOKEN_SYSTEM_MAX_TTL_S;
	int64_t ttl;

	if (period_s > 0) {
		ttl = period_s; /* periodic tokens are not bound by the mount or system max */
	} else if (ttl_s <= 0 && is_root) {
		ttl = 0;
	} else {
		ttl = ttl_s > 0 ? ttl_s : max;
		if (ttl > max)
			ttl = max;
	}
	if (explicit_max_ttl_s > 0 && (ttl == 0 || ttl > explicit_max_ttl_s))
		ttl = explicit_max_ttl_s;
	return ttl;
}

int64_t token_compute_renewal(const struct token_entry *e, int64_t increment_s, int64_t now)
{
	int64_t max, limit = 0, exp;

	if (e->expire_time == 0)
		return 0;
	if (e->period_s > 0) {
		exp = now + e->period_s;
		if (e->explicit_max_ttl_s > 0)
			limit = e->creation_time + e->explicit_max_ttl_s;
	} else {
		exp = now + (increment_s > 0 ? increment_s : e->ttl_s);
		max = e->max_ttl_s > 0 ? e->max_ttl_s : TOKEN_SYSTEM_MAX_TTL_S;
		if (e->explicit_max_ttl_s > 0 && e->explicit_max_ttl_s < max)
			max = e->explicit_max_ttl_s;
		limit = e->creation_time + max;
	}
	if (limit != 0 && exp > limit)
		exp = limit;
	return exp;
}

int64_t token_ttl_left(const struct token_entry *e, int64_t now)
{
	int64_t left;

	if (e->expire_ms != 0) {
		/* From the exact expiry, rounded up: a fresh 3 s token shows 3, not 2. */
		left = e->expire_ms - coffer_clock_now_ms();
		left = left <= 0 ? 0 : (left + 999) / 1000;
	} else {
		if (e->expire_time == 0 || now >= e->expire_time)
			return 0;
		left = e->expire_time - now;
	}
	/* Never more than the lease period. */
	if (e->ttl_s > 0 && left > e->ttl_s)
		return e->ttl_s;
	return left;
}

bool token_is_expired(const struct token_entry *e, int64_t now)
{
	if (e->expire_ms != 0)
		return coffer_clock_now_ms() >= e->expire_ms;
	return e->expire_time != 0 && now >= e->expire_time;
}

void token_lease_id(const struct token_entry *e, char *out, size_t out_len)
{
	if (e->lease_nonce[0] == '\0') {
		if (out_len > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, out_len, "%s/%s", e->path != NULL ? e->path : "", e->lease_nonce);
}

/* The path part is public (the creating path); the nonce is what makes the id unguessable, so it
 * is compared in constant time. Lengths are fixed (TOKEN_LEASE_NONCE_CHARS) for valid nonces. */
bool token_owns_lease(const struct token_entry *e, const char *lease_id)
{
	const char *path = e->path != NULL ? e->path : "";
	size_t plen = strlen(path);

	if (lease_id == NULL || e->lease_nonce[0] == '\0' || strncmp(lease_id, path, plen) != 0 ||
	    lease_id[plen] != '/' || strlen(lease_id + plen + 1) != strlen(e->lease_nonce))
		return false;
	return sodium_memcmp(lease_id + plen + 1, e->lease_nonce, strlen(e->lease_nonce)) == 0;
}

/* ---- entries ---- */

void token_entry_ref(struct token_entry *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void token_entry_free(struct token_entry *e)
{
	json_decref(e->policies);
	json_decref(e->meta);
	json_decref(e->bound_cidrs);
	free(e->display_name);
	free(e->path);
	free(e->role);
	secmem_wipe(e, sizeof(*e));
	free(e);
}

void token_entry_release(struct token_entry *e)
{
	if (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		token_entry_free(e);
}

struct token_entry *token_entry_dup(const struct token_entry *e)
{
	struct token_entry *d = xmalloc(sizeof(*d));

	*d = *e;
	d->refs = 1;
	d->policies = json_deep_copy(e->policies);
	d->meta = json_deep_copy(e->meta);
	d->bound_cidrs = e->bound_cidrs != NULL ? json_deep_copy(e->bound_cidrs) : NULL;
	d->display_name = e->display_name != NULL ? xstrdup(e->display_name) : NULL;
	d->path = e->path != NULL ? xstrdup(e->path) : NULL;
	d->role = e->role != NULL ? xstrdup(e->role) : NULL;
	return d;
}

json_t *token_entry_to_json(const struct token_entry *e)
{
	return json_pack(
	    "{s:s,s:s,s:s,s:O,s:O,s:O?,s:s?,s:s?,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:b,s:b,s:b,s:I}",
	    "accessor", e->accessor, "lease_nonce", e->lease_nonce, "parent", e->parent_hex,
	    "policies", e->policies, "meta", e->meta, "bound_cidrs", e->bound_cidrs, "display_name",
	    e->display_name, "path", e->path, "role", e->role, "creation_time",
	    (json_int_t)e->creation_time, "creation_ttl", (json_int_t)e->creation_ttl_s, "ttl",
	    (json_int_t)e->ttl_s, "explicit_max_ttl", (json_int_t)e->explicit_max_ttl_s, "period",
	    (json_int_t)e->period_s, "expire_time", (json_int_t)e->expire_time, "last_renewal_time",
	    (json_int_t)e->last_renewal_time, "num_uses", (json_int_t)e->num_uses, "max_ttl",
	    (json_int_t)e->max_ttl_s, "renewable", e->is_renewable, "orphan", e->is_orphan, "root",
	    e->is_root, "expire_ms", (json_int_t)e->expire_ms);
}

/* Optional strings of a stored entry: absent stays NULL. */
static int token_json_strdup(const json_t *o, const char *key, char **out)
{
	const char *s = NULL;
	int err = coffer_json_get_string(o, key, &s);

	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0)
		return err;
	*out = xstrdup(s);
	return 0;
}

int token_entry_from_json(const json_t *o, struct token_entry *e)
{
	const char *acc = NULL, *parent = NULL, *nonce = "";
	json_int_t ct = 0, cttl = 0, ttl = 0, emax = 0, period = 0, exp = 0, lr = 0, uses = 0;
	json_int_t max = 0, exp_ms = 0;
	int renewable = 0, orphan = 0, root = 0;
	json_t *pol = NULL, *meta = NULL, *cidrs = NULL;
	json_error_t jerr;

	if (json_unpack_ex((json_t *)o, &jerr, 0,
	                   "{s:s,s?s,s:s,s:o,s:o,s?o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s?I,s:b,s:b,"
	                   "s:b,s?I}",
	                   "accessor", &acc, "lease_nonce", &nonce, "parent", &parent, "policies",
	                   &pol, "meta", &meta, "bound_cidrs", &cidrs, "creation_time", &ct,
	                   "creation_ttl", &cttl, "ttl", &ttl, "explicit_max_ttl", &emax, "period",
	                   &period, "expire_time", &exp, "last_renewal_time", &lr, "num_uses",
	                   &uses, "max_ttl", &max, "renewable", &renewable, "orphan", &orphan,
	                   "root", &root, "expire_ms", &exp_ms) != 0 ||
	    !json_is_array(pol) || !json_is_object(meta) || strlen(acc) >= sizeof(e->accessor) ||
	    strlen(parent) >= sizeof(e->parent_hex) ||
	    (nonce[0] != '\0' && !token_lease_nonce_is_valid(nonce)))
		return COFFER_ERR_INTEGRITY;
	snprintf(e->accessor, sizeof(e->accessor), "%s", acc);
	snprintf(e->lease_nonce, sizeof(e->lease_nonce), "%s", nonce);
	snprintf(e->parent_hex, sizeof(e->parent_hex), "%s", parent);
	e->policies = json_incref(pol);
	e->meta = json_incref(meta);
	e->bound_cidrs = json_is_array(cidrs) ? json_incref(cidrs) : NULL;
	e->creation_time = ct;
	e->creation_ttl_s = cttl;
	e->ttl_s = ttl;
	e->explicit_max_ttl_s = emax;
	e->period_s = period;
	e->expire_time = exp;
	e->expire_ms = exp_ms;
	e->last_renewal_time = lr;
	e->num_uses = uses;
	e->max_ttl_s = max;
	e->is_renewable = renewable;
	e->is_orphan = orphan;
	e->is_root = root;
	if (token_json_strdup(o, "display_name", &e->display_name) != 0 ||
	    token_json_strdup(o, "path", &e->path) != 0 ||
	    token_json_strdup(o, "role", &e->role) != 0)
		return COFFER_ERR_INTEGRITY;
	return 0;
}

#define TOKEN_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* Letters and digits only, like Vault's accessors: no '-' or '_', so an accessor never looks like
 * a flag to a command line (base64url ones started with '-' one time in 64). Uniform: bytes of
 * 248 and above are drawn again. Accessors take 24 (about 143 bits), lease nonces 32 (190). */
int token_random_alnum(char *out, size_t out_cap, size_t want)
{
	uint8_t raw[32];
	size_t n = 0;

	if (out_cap < want + 1)
		return COFFER_ERR_INVALID;
	while (n < want) {
		coffer_random(raw, sizeof(raw));
		for (size_t i = 0; i < sizeof(raw) && n < want; i++) {
			if (raw[i] < 248)
				out[n++] = TOKEN_ALNUM[raw[i] % 62];
		}
	}
	out[n] = '\0';
	secmem_wipe(raw, sizeof(raw));
	return 0;
}

bool token_lease_nonce_is_valid(const char *s)
{
	return s != NULL && strlen(s) == TOKEN_LEASE_NONCE_CHARS &&
	       strspn(s, TOKEN_ALNUM) == TOKEN_LEASE_NONCE_CHARS;
}

struct token_entry *token_entry_new(const uint8_t *hash, int64_t now)
{
	struct token_entry *e = xcalloc(1, sizeof(*e));

	e->refs = 1;
	e->creation_time = now;
	memcpy(e->hash, hash, COFFER_MAC_LEN);
	e->meta = json_object();
	if (codec_hex_encode(e->hash_hex, sizeof(e->hash_hex), hash, COFFER_MAC_LEN) != 0 ||
	    token_random_alnum(e->accessor, sizeof(e->accessor), TOKEN_ACCESSOR_CHARS) != 0 ||
	    token_random_alnum(e->lease_nonce, sizeof(e->lease_nonce), TOKEN_LEASE_NONCE_CHARS) !=
	        0) {
		token_entry_free(e);
		return NULL;
	}
	return e;
}

/* ---- CIDR binding ---- */

/* Parse "a.b.c.d[/n]" or "x::y[/n]" into the address bytes, their length and the prefix bits. */
static bool token_cidr_parse(const char *cidr, uint8_t net[16], size_t *len, int *bits)
{
	const char *slash = strchr(cidr, '/');
	size_t alen = slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
	char buf[INET6_ADDRSTRLEN];
	char *end;
	long v;

	if (alen == 0 || alen >= sizeof(buf))
		return false;
	memcpy(buf, cidr, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, net) == 1)
		*len = 4;
	else if (inet_pton(AF_INET6, buf, net) == 1)
		*len = 16;
	else
		return false;
	*bits = (int)(*len * 8);
	if (slash == NULL)
		return true;
	if (slash[1] < '0' || slash[1] > '9')
		return false;
	v = strtol(slash + 1, &end, 10);
	if (*end != '\0' || v < 0 || v > *bits)
		return false;
	*bits = (int)v;
	return true;
}

/* True when addr (an IPv4 or IPv6 address; IPv4-mapped IPv6 counts as IPv4) is inside cidr. */
static bool token_cidr_contains(const char *cidr, const char *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t net[16], ip[16];
	const uint8_t *p = ip;
	size_t net_len, ip_len;
	int bits, full;

	if (!token_cidr_parse(cidr, net, &net_len, &bits))
		return false;
	if (inet_pton(AF_INET, addr, ip) == 1)
		ip_len = 4;
	else if (inet_pton(AF_INET6, addr, ip) == 1)
		ip_len = 16;
	else
		return false;
	if (net_len == 4 && ip_len == 16 && memcmp(ip, mapped, sizeof(mapped)) == 0) {
		p = ip + 12;
		ip_len = 4;
	}
	if (net_len != ip_len)
		return false;
	full = bits / 8;
	if (memcmp(net, p, (size_t)full) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	return ((net[full] ^ p[full]) & (uint8_t)(0xff00 >> (bits % 8))) == 0;
}

bool token_cidrs_are_valid(const json_t *cidrs)
{
	uint8_t net[16];
	size_t i, len;
	json_t *v;
	int bits;

	if (!json_is_array(cidrs))
		return false;
	json_array_foreach(cidrs, i, v)
	{
		if (!json_is_string(v) || !token_cidr_parse(json_string_value(v), net, &len, &bits))
			return false;
	}
	return true;
}

bool token_addr_allowed(const struct token_entry *e, const char *remote_addr)
{
	size_t i;
	json_t *v;

	if (e->bound_cidrs == NULL || json_array_size(e->bound_cidrs) == 0)
		return true;
	if (remote_addr == NULL)
		return false;
	json_array_foreach(e->bound_cidrs, i, v)
	{
		if (json_is_string(v) && token_cidr_contains(json_string_value(v), remote_addr))
			return true;
	}
	return false;
}

bool token_accessor_is_valid(const char *a)
{
	size_t len = a != NULL ? strlen(a) : 0;

	if (len == 0 || len >= sizeof(((struct token_entry *)0)->accessor))
		return false;
	return strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

/* ---- views ---- */

/* Views copy what they show of an entry: an entry is shared between threads (the token cache,
 * the lease revoker) and jansson's reference counts do not order a reader's last use before
 * another thread's free, so a response never holds a reference into an entry. */

/* meta as Vault shows it: null when empty. */
static json_t *token_meta_view(const struct token_entry *e)
{
	return json_object_size(e->meta) > 0 ? json_deep_copy(e->meta) : json_null();
}

json_t *token_auth_json(const struct token_entry *e, const char *token_text)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:o,s:I,s:b,s:s,s:s,s:b,s:I}", "client_token",
	                 token_text != NULL ? token_text : "", "accessor", e->accessor, "policies",
	                 json_deep_copy(e->policies), "token_policies", json_deep_copy(e->policies),
	                 "metadata", token_meta_view(e), "lease_duration",
	                 (json_int_t)token_ttl_left(e, coffer_clock_now_s()), "renewable",
	                 e->is_renewable, "entity_id", "", "token_type", "service", "orphan",
	                 e->is_orphan, "num_uses", (json_int_t)e->num_uses);
}

/* Fields Vault shows only when set. */
static void token_lookup_optional(const struct token_entry *e, json_t *o)
{
	char when[COFFER_TIME_LEN];

	if (e->period_s > 0)
		json_object_set_new(o, "period", json_integer(e->period_s));
	if (e->last_renewal_time != 0) {
		token_format_time(e->last_renewal_time, when);
		json_object_set_new(o, "last_renewal", json_string(when));
		json_object_set_new(o, "last_renewal_time", json_integer(e->last_renewal_time));
	}
	if (e->role != NULL)
		json_object_set_new(o, "role", json_string(e->role));
	if (e->bound_cidrs != NULL && json_array_size(e->bound_cidrs) > 0)
		json_object_set_new(o, "bound_cidrs", json_deep_copy(e->bound_cidrs));
	/* Not in Vault's view: how the token (or a sudo caller) learns the id of its lease for
	 * sys/leases/lookup|renew|revoke. Audit devices HMAC it with the rest of the data. */
	if (e->expire_time != 0 && e->lease_nonce[0] != '\0') {
		char lease_id[TOKEN_PATH_CAP];

		token_lease_id(e, lease_id, sizeof(lease_id));
		json_object_set_new(o, "lease_id", json_string(lease_id));
	}
}

json_t *token_lookup_json(const struct token_entry *e, const char *id_text)
{
	char issue[COFFER_TIME_LEN], expire[COFFER_TIME_LEN];
	json_t *o;

	token_format_time(e->creation_time, issue);
	if (e->expire_time != 0)
		token_format_time(e->expire_time, expire);
	o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s?,s:I,s:s,s:s,s:o,s:I,s:b,s:s,s:o,s:b,s:I,s:s}",
	              "accessor", e->accessor, "creation_time", (json_int_t)e->creation_time,
	              "creation_ttl", (json_int_t)e->creation_ttl_s, "display_name",
	              e->display_name != NULL ? e->display_name : "", "entity_id", "",
	              "expire_time", e->expire_time != 0 ? expire : NULL, "explicit_max_ttl",
	              (json_int_t)e->explicit_max_ttl_s, "id", id_text != NULL ? id_text : "",
	              "issue_time", issue, "meta", token_meta_view(e), "num_uses",
	              (json_int_t)e->num_uses, "orphan", e->is_orphan, "path",
	              e->path != NULL ? e->path : "", "policies", json_deep_copy(e->policies),
	              "renewable", e->is_renewable, "ttl",
	              (json_int_t)token_ttl_left(e, coffer_clock_now_s()), "type", "service");
	if (o != NULL)
		token_lookup_optional(e, o);
	return o;
}

char *token_text_generate(void)
{
	uint8_t raw[TOKEN_RANDOM_LEN];
	size_t enc_len = codec_b64_len(sizeof(raw), CODEC_B64_URL);
	size_t prefix_len = strlen(TOKEN_TEXT_PREFIX);
	char *text = xsecmem_alloc(prefix_len + enc_len + 1);

	coffer_random(raw, sizeof(raw));
	memcpy(text, TOKEN_TEXT_PREFIX, prefix_len);
	if (codec_b64_encode(text + prefix_len, enc_len + 1, raw, sizeof(raw), CODEC_B64_URL) !=
	    0) {
		secmem_free(text);
		text = NULL;
	}
	secmem_wipe(raw, sizeof(raw));
	return text;
}
