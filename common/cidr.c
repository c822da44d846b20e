/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cidr.c: parsing CIDR blocks and matching client addresses against them, for AppRole's CIDR
 * binding and tokens' bound_cidrs (server/identity/approle/approle.c, server/identity/token.c).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"

static const uint8_t cidr_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The prefix length after '/': decimal digits without a sign or leading zeros, at most max. */
static int cidr_parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i, len = strlen(s);

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return COFFER_ERR_INVALID;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return COFFER_ERR_INVALID;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return COFFER_ERR_INVALID;
	*out = v;
	return 0;
}

/* An IPv4-mapped IPv6 block (prefix >= 96) becomes the IPv4 block it denotes. */
static void cidr_unmap(struct cidr *c)
{
	if (c->family != AF_INET6 || c->prefix < 96 ||
	    memcmp(c->addr, cidr_v4_mapped, sizeof(cidr_v4_mapped)) != 0)
		return;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->family = AF_INET;
	c->prefix -= 96;
}

static void cidr_mask(struct cidr *c)
{
	size_t n = c->family == AF_INET ? 4 : 16;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned bits = c->prefix > 8 * i ? c->prefix - 8 * (unsigned)i : 0;

		if (bits < 8)
			c->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

int cidr_parse(const char *s, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash;
	size_t alen;
	int rc = COFFER_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		goto out;
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		goto out;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	out->family = memchr(buf, ':', alen) != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(out->family, buf, out->addr) != 1)
		goto out;
	out->prefix = out->family == AF_INET ? 32 : 128;
	if (slash != NULL && cidr_parse_prefix(slash + 1, out->prefix, &out->prefix) != 0)
		goto out;
	cidr_unmap(out);
	cidr_mask(out);
	rc = 0;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static bool cidr_match(const struct cidr *block, const struct cidr *addr)
{
	struct cidr a = *addr;

	if (block->family != a.family)
		return false;
	a.prefix = block->prefix;
	cidr_mask(&a);
	return memcmp(a.addr, block->addr, sizeof(a.addr)) == 0;
}

/* A bare address (no '/') as a host block. */
static int cidr_parse_addr(const char *addr, struct cidr *out)
{
	if (addr == NULL || strchr(addr, '/') != NULL) {
		memset(out, 0, sizeof(*out));
		return COFFER_ERR_INVALID;
	}
	return cidr_parse(addr, out);
}

bool cidr_contains_addr(const char *cidr, const char *addr)
{
	struct cidr block, a;

	if (cidr_parse(cidr, &block) != 0 || cidr_parse_addr(addr, &a) != 0)
		return false;
	return cidr_match(&block, &a);
}

bool cidr_list_contains(const json_t *list, const char *addr)
{
	struct cidr block, a;
	const json_t *item;
	size_t i;

	if (!json_is_array(list) || cidr_parse_addr(addr, &a) != 0)
		return false;
	json_array_foreach(list, i, item)
	{
		if (cidr_parse(json_string_value(item), &block) == 0 && cidr_match(&block, &a))
			return true;
	}
	return false;
}

int cidr_list_validate(const json_t *list)
{
	struct cidr block;
	const json_t *item;
	size_t i;

	if (list == NULL)
		return 0;
	if (!json_is_array(list))
		return COFFER_ERR_INVALID;
	json_array_foreach(list, i, item)
	{
		if (cidr_parse(json_string_value(item), &block) != 0)
			return COFFER_ERR_INVALID;
	}
	return 0;
}
