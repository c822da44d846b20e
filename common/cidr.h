/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cidr.h: IPv4 and IPv6 CIDR blocks for address binding (AppRole secret_id_bound_cidrs and
 * cidr_list, tokens' bound_cidrs). A bare address is a /32 or /128 block; an IPv4 address
 * written as IPv4-mapped IPv6 ("::ffff:10.0.0.1") matches IPv4 blocks. Malformed input never
 * matches.
 */
#ifndef COFFER_CIDR_H
#define COFFER_CIDR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, host bits cleared (4 bytes used for AF_INET) */
	unsigned prefix;  /* 0..32 or 0..128 */
};

/* Parse "10.0.0.0/8", "fd00::/8" or a bare address. Host bits are allowed and cleared (as Go's
 * net.ParseCIDR does). 0, or COFFER_ERR_INVALID with *out zeroed: spaces, zones ("%eth0"), a
 * prefix with a sign, leading zeros or out of range. */
int cidr_parse(const char *s, struct cidr *out) COFFER_WUR;
/* True when the address addr (bare, no prefix) is inside the block cidr; false when either is
 * malformed. */
bool cidr_contains_addr(const char *cidr, const char *addr);
/* True when addr is inside one of the blocks of list (an array of CIDR strings). NULL, an empty
 * list, or a non-array is false: callers decide what "no restriction" means. */
bool cidr_list_contains(const json_t *list, const char *addr);
/* 0 when list is NULL or an array of valid CIDR strings; COFFER_ERR_INVALID otherwise. */
int cidr_list_validate(const json_t *list) COFFER_WUR;

#endif
