/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c: ACL policies (DESIGN.md §4): compiles a policy document into exact rules (a hash
 * table) and wildcard rules (sorted most specific first) and evaluates ACLs. The policy store
 * (policy_store.c) and policy_routes.c call it; core.c evaluates the ACLs on every request.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "identity/policy.h"
#include "identity/policy_int.h"
#include "xmalloc.h"

struct policy_rule {
	char *pattern;     /* as written minus a leading '/'; a trailing '*' is kept */
	size_t match_len;  /* the pattern without its trailing '*' */
	size_t first_wild; /* offset of the first '+' segment or of the '*' */
	unsigned n_plus;   /* '+' segments */
	unsigned caps;
	bool is_prefix; /* ends in '*' */
};

/* Immutable once parsed; shared by the store's cache and the ACLs built from it. */
struct policy {
	int refs; /* atomic */
	struct policy_rule *exact;
	size_t n_exact;
	size_t *slots; /* open addressing over exact: index + 1, 0 = empty; a power of two */
	size_t n_slots;
	struct policy_rule *wild; /* most specific first */
	size_t n_wild;
};

struct acl {
	int refs; /* atomic */
	bool is_root;
	size_t n;
	struct policy *policies[];
};

/* A deny anywhere in a rule (or in merged rules of one pattern) denies. */
static unsigned policy_caps_merge(unsigned a, unsigned b)
{
	return ((a | b) & ACL_CAP_DENY) ? ACL_CAP_DENY : (a | b);
}

/* Fill r from pattern; r->pattern owns a copy. */
static void policy_rule_init(struct policy_rule *r, const char *pattern, unsigned caps)
{
	size_t len, seg, end;

	if (pattern[0] == '/')
		pattern++;
	memset(r, 0, sizeof(*r));
	r->pattern = xstrdup(pattern);
	len = strlen(pattern);
	r->is_prefix = len > 0 && pattern[len - 1] == '*';
	r->match_len = r->is_prefix ? len - 1 : len;
	r->first_wild = r->is_prefix ? r->match_len : SIZE_MAX;
	r->caps = caps;
	/* Only a whole segment "+" is a wildcard; "a+b" is literal, as in Vault. */
	for (seg = 0; seg <= r->match_len; seg = end + 1) {
		end = seg;
		while (end < r->match_len && pattern[end] != '/')
			end++;
		if (end - seg == 1 && pattern[seg] == '+') {
			if (r->n_plus++ == 0)
				r->first_wild = seg;
		}
	}
}

/* qsort: by pattern, to merge duplicates. */
static int policy_rule_cmp_pattern(const void *pa, const void *pb)
{
	return strcmp(((const struct policy_rule *)pa)->pattern,
	              ((const struct policy_rule *)pb)->pattern);
}

/* qsort: Vault's priority order, most specific first. */
static int policy_rule_cmp_priority(const void *pa, const void *pb)
{
	const struct policy_rule *a = pa, *b = pb;
	size_t la = strlen(a->pattern), lb = strlen(b->pattern);
	int c;

	if (a->first_wild != b->first_wild)
		return a->first_wild > b->first_wild ? -1 : 1;
	if (a->is_prefix != b->is_prefix)
		return a->is_prefix ? 1 : -1;
	if (a->n_plus != b->n_plus)
		return a->n_plus < b->n_plus ? -1 : 1;
	if (la != lb)
		return la > lb ? -1 : 1;
	c = strcmp(a->pattern, b->pattern);
	return c > 0 ? -1 : (c < 0 ? 1 : 0);
}

/* Segment-wise match of a wildcard rule: '+' takes one non-empty segment; with a trailing '*' the
 * last pattern segment is a prefix of the rest of the path. */
static bool policy_rule_match(const struct policy_rule *r, const char *path, size_t len)
{
	const char *pat = r->pattern;
	size_t pi = 0, si = 0, pend, send;

	if (r->n_plus == 0)
		return len >= r->match_len && memcmp(path, pat, r->match_len) == 0;
	for (;;) {
		pend = pi;
		while (pend < r->match_len && pat[pend] != '/')
			pend++;
		send = si;
		while (send < len && path[send] != '/')
			send++;
		if (pend - pi == 1 && pat[pi] == '+') {
			if (send == si)
				return false;
		} else if (pend == r->match_len && r->is_prefix) {
			return len - si >= pend - pi && memcmp(path + si, pat + pi, pend - pi) == 0;
		} else if (send - si != pend - pi || memcmp(path + si, pat + pi, pend - pi) != 0) {
			return false;
		}
		si = send;
		if (pend == r->match_len)
			return r->is_prefix || si == len;
		if (si == len)
			return false;
		pi = pend + 1;
		si++;
	}
}

/* The best rule of p for path: the exact rule, else the most specific wildcard rule. */
static const struct policy_rule *policy_match(const struct policy *p, const char *path, size_t len)
{
	size_t i, mask, idx;

	if (p->n_slots > 0) {
		mask = p->n_slots - 1;
		for (i = coffer_fnv1a_add(COFFER_FNV1A_INIT, path, len) & mask;
		     (idx = p->slots[i]) != 0; i = (i + 1) & mask) {
			const struct policy_rule *r = &p->exact[idx - 1];

			if (r->match_len == len && memcmp(r->pattern, path, len) == 0)
				return r;
		}
	}
	for (i = 0; i < p->n_wild; i++) {
		if (policy_rule_match(&p->wild[i], path, len))
			return &p->wild[i];
	}
	return NULL;
}

void policy_ref(struct policy *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < p->n_exact; i++)
		free(p->exact[i].pattern);
	for (i = 0; i < p->n_wild; i++)
		free(p->wild[i].pattern);
	free(p->exact);
	free(p->wild);
	free(p->slots);
	free(p);
}

/* The capabilities of one path rule object ({"capabilities":[...]} and/or {"policy":"..."}). */
static int policy_rule_caps(const char *pattern, const json_t *rule, unsigned *caps, char *err,
                            size_t err_len)
{
	const char *key;
	json_t *v, *item;
	size_t i;
	unsigned c;

	*caps = 0;
	if (!json_is_object(rule)) {
		coffer_errf(err, err_len, "path \"%s\": the rule must be an object", pattern);
		return COFFER_ERR_INVALID;
	}
	json_object_foreach((json_t *)rule, key, v)
	{
		if (strcmp(key, "capabilities") == 0) {
			if (!json_is_array(v)) {
				coffer_errf(err, err_len,
				            "path \"%s\": capabilities must be a list of strings",
				            pattern);
				return COFFER_ERR_INVALID;
			}
			json_array_foreach(v, i, item)
			{
				c = json_is_string(item)
				        ? acl_cap_from_name(json_string_value(item))
				        : 0;
				if (c == 0) {
					coffer_errf(err, err_len,
					            "unknown capability \"%s\" in path \"%s\"",
					            json_is_string(item) ? json_string_value(item)
					                                 : "(not a string)",
					            pattern);
					return COFFER_ERR_INVALID;
				}
				*caps = policy_caps_merge(*caps, c);
			}
		} else if (strcmp(key, "policy") == 0) {
			c = json_is_string(v) ? acl_cap_from_legacy(json_string_value(v)) : 0;
			if (c == 0) {
				coffer_errf(err, err_len,
				            "path \"%s\": policy must be \"read\", \"write\", "
				            "\"deny\" or \"sudo\"",
				            pattern);
				return COFFER_ERR_INVALID;
			}
			*caps = policy_caps_merge(*caps, c);
		} else if (!policy_rule_key_is_ignored(key)) {
			coffer_errf(err, err_len, "unknown key \"%s\" in path \"%s\"", key,
			            pattern);
			return COFFER_ERR_INVALID;
		}
	}
	return 0;
}

/* Sort rules by pattern and merge duplicates ("/a" and "a" are one pattern); returns the count. */
static size_t policy_rules_merge(struct policy_rule *rules, size_t n)
{
	size_t i, out = 0;

	if (n == 0)
		return 0;
	qsort(rules, n, sizeof(*rules), policy_rule_cmp_pattern);
	for (i = 1; i < n; i++) {
		if (strcmp(rules[out].pattern, rules[i].pattern) == 0) {
			rules[out].caps = policy_caps_merge(rules[out].caps, rules[i].caps);
			free(rules[i].pattern);
		} else {
			rules[++out] = rules[i];
		}
	}
	return out + 1;
}

/* Move merged rules into p: exact ones into the hash table, the rest sorted by priority. */
static void policy_index(struct policy *p, struct policy_rule *rules, size_t n)
{
	size_t i, j, mask;

	p->exact = xcalloc(n + 1, sizeof(*p->exact));
	p->wild = xcalloc(n + 1, sizeof(*p->wild));
	for (i = 0; i < n; i++) {
		if (rules[i].is_prefix || rules[i].n_plus > 0)
			p->wild[p->n_wild++] = rules[i];
		else
			p->exact[p->n_exact++] = rules[i];
	}
	qsort(p->wild, p->n_wild, sizeof(*p->wild), policy_rule_cmp_priority);
	if (p->n_exact == 0)
		return;
	for (p->n_slots = 4; p->n_slots < 2 * p->n_exact; p->n_slots *= 2)
		;
	p->slots = xcalloc(p->n_slots, sizeof(*p->slots));
	mask = p->n_slots - 1;
	for (i = 0; i < p->n_exact; i++) {
		j = coffer_fnv1a_add(COFFER_FNV1A_INIT, p->exact[i].pattern,
		                     p->exact[i].match_len) &
		    mask;
		while (p->slots[j] != 0)
			j = (j + 1) & mask;
		p->slots[j] = i + 1;
	}
}

/* Compile the JSON form {"path":{"<pattern>":{...}}} into a policy. */
static int policy_compile(const json_t *doc, struct policy **out, char *err, size_t err_len)
{
	struct policy_rule *rules = NULL;
	struct policy *p = NULL;
	const json_t *paths = NULL;
	const char *key;
	json_t *v;
	size_t n = 0, i;
	unsigned caps;
	int rc = COFFER_ERR_INVALID;

	if (!json_is_object(doc)) {
		coffer_errf(err, err_len, "a policy must be an object");
		goto out;
	}
	json_object_foreach((json_t *)doc, key, v)
	{
		if (strcmp(key, "path") == 0) {
			if (!json_is_object(v)) {
				coffer_errf(err, err_len, "\"path\" must be an object of rules");
				goto out;
			}
			paths = v;
		} else if (strcmp(key, "name") != 0) {
			coffer_errf(err, err_len, "unexpected key \"%s\"; expected \"path\"", key);
			goto out;
		}
	}
	p = xcalloc(1, sizeof(*p));
	rules = xcalloc(json_object_size(paths) + 1, sizeof(*rules));
	p->refs = 1;
	json_object_foreach((json_t *)paths, key, v)
	{
		rc = policy_rule_caps(key, v, &caps, err, err_len);
		if (rc != 0)
			goto out;
		policy_rule_init(&rules[n], key, caps);
		n++;
	}
	n = policy_rules_merge(rules, n);
	policy_index(p, rules, n);
	n = 0; /* the patterns belong to p now */
	*out = p;
	p = NULL;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(rules[i].pattern);
	free(rules);
	policy_free(p);
	return rc;
}

int policy_parse(const char *name, const char *text, size_t len, struct policy **out, char *err,
                 size_t err_len)
{
	json_error_t jerr;
	json_t *doc = NULL;
	size_t i = 0;
	int rc;

	(void)name; /* the store keys policies by name; a policy does not need its own */
	*out = NULL;
	coffer_errf(err, err_len, "%s", "");
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i < len && text[i] == '{') {
		doc = json_loadb(text, len, 0, &jerr);
		if (doc == NULL) {
			coffer_errf(err, err_len, "line %d column %d: %s", jerr.line, jerr.column,
			            jerr.text);
			rc = COFFER_ERR_INVALID;
			goto out;
		}
	} else {
		rc = policy_hcl_to_json(text, len, &doc, err, err_len);
		if (rc != 0)
			goto out;
	}
	rc = policy_compile(doc, out, err, err_len);
out:
	json_decref(doc);
	return rc;
}

struct acl *acl_build(struct policy *const *policies, size_t n, bool is_root)
{
	struct acl *acl = xcalloc(1, sizeof(*acl) + n * sizeof(acl->policies[0]));
	size_t i;

	acl->refs = 1;
	acl->is_root = is_root;
	for (i = 0; i < n; i++) {
		if (policies[i] == NULL)
			continue;
		__atomic_add_fetch(&policies[i]->refs, 1, __ATOMIC_RELAXED);
		acl->policies[acl->n++] = policies[i];
	}
	return acl;
}

void acl_ref(struct acl *acl)
{
	__atomic_add_fetch(&acl->refs, 1, __ATOMIC_RELAXED);
}

void acl_release(struct acl *acl)
{
	size_t i;

	if (acl == NULL || __atomic_sub_fetch(&acl->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < acl->n; i++)
		policy_free(acl->policies[i]);
	free(acl);
}

bool acl_is_root(const struct acl *acl)
{
	return acl != NULL && acl->is_root;
}

unsigned acl_capabilities(const struct acl *acl, const char *path)
{
	const struct policy_rule *r;
	size_t len, i;
	unsigned caps = 0;

	if (acl == NULL)
		return 0;
	if (acl->is_root)
		return ACL_CAP_ALL;
	len = strlen(path);
	for (i = 0; i < acl->n; i++) {
		r = policy_match(acl->policies[i], path, len);
		if (r == NULL)
			continue;
		if (r->caps & ACL_CAP_DENY)
			return ACL_CAP_DENY;
		caps |= r->caps;
	}
	return caps;
}
