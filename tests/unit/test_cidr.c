/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cidr.c: unit tests of common/cidr.c: IPv4 and IPv6 blocks, bare addresses as host blocks,
 * IPv4-mapped addresses, lists, and rejection of malformed blocks and addresses.
 */
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "test.h"

static void test_parse_accepts_ipv4_block_and_clears_host_bits(void)
{
	static const uint8_t want[4] = {10, 0, 0, 0};
	struct cidr c;

	CHECK_EQ(cidr_parse("10.1.2.3/8", &c), 0);
	CHECK_EQ(c.family, AF_INET);
	CHECK_EQ(c.prefix, 8);
	CHECK(memcmp(c.addr, want, 4) == 0);
}

static void test_parse_bare_addresses_are_host_blocks(void)
{
	struct cidr c;

	CHECK_EQ(cidr_parse("192.168.1.7", &c), 0);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(cidr_parse("2001:db8::1", &c), 0);
	CHECK_EQ(c.family, AF_INET6);
	CHECK_EQ(c.prefix, 128);
}

static void test_parse_rejects_malformed_blocks(void)
{
	static const char *const bad[] = {"",
	                                  "/8",
	                                  "10.0.0.0/",
	                                  "10.0.0.0/33",
	                                  "10.0.0.0/-1",
	                                  "10.0.0.0/+8",
	                                  "10.0.0.0/08",
	                                  "10.0.0.0/8/8",
	                                  " 10.0.0.0/8",
	                                  "10.0.0.0/8 ",
	                                  "10.0.0/8",
	                                  "10.0.0.256",
	                                  "01.2.3.4",
	                                  "fe80::1%eth0",
	                                  "2001:db8::/129",
	                                  "2001:db8:::1",
	                                  "host.example",
	                                  "10.0.0.0/1000",
	                                  "1.2.3.4.5"};
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cidr_parse(bad[i], &c) == 0)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK_EQ(cidr_parse(bad[i], &c), COFFER_ERR_INVALID);
		CHECK_EQ(c.family, 0);
	}
	CHECK_EQ(cidr_parse(NULL, &c), COFFER_ERR_INVALID);
}

static void test_contains_matches_ipv4_prefixes(void)
{
	CHECK(cidr_contains_addr("10.0.0.0/8", "10.255.1.2"));
	CHECK(!cidr_contains_addr("10.0.0.0/8", "11.0.0.1"));
	CHECK(cidr_contains_addr("192.168.1.0/25", "192.168.1.127"));
	CHECK(!cidr_contains_addr("192.168.1.0/25", "192.168.1.128"));
	CHECK(cidr_contains_addr("0.0.0.0/0", "203.0.113.9"));
	CHECK(cidr_contains_addr("127.0.0.1", "127.0.0.1"));
	CHECK(!cidr_contains_addr("127.0.0.1", "127.0.0.2"));
	CHECK(cidr_contains_addr("172.16.0.0/12", "172.31.255.255"));
	CHECK(!cidr_contains_addr("172.16.0.0/12", "172.32.0.0"));
}

static void test_contains_matches_ipv6_prefixes(void)
{
	CHECK(cidr_contains_addr("2001:db8::/32", "2001:db8:ffff::1"));
	CHECK(!cidr_contains_addr("2001:db8::/32", "2001:db9::1"));
	CHECK(cidr_contains_addr("fd00::/7", "fdff::1"));
	CHECK(!cidr_contains_addr("fd00::/8", "fe00::1"));
	CHECK(cidr_contains_addr("::1", "::1"));
	CHECK(cidr_contains_addr("::/0", "2001:db8::5"));
}

static void test_contains_never_mixes_families_except_mapped(void)
{
	CHECK(!cidr_contains_addr("0.0.0.0/0", "::1"));
	CHECK(!cidr_contains_addr("::/0", "127.0.0.1"));
	CHECK(cidr_contains_addr("127.0.0.0/8", "::ffff:127.0.0.1"));
	CHECK(cidr_contains_addr("::ffff:10.0.0.0/104", "10.9.8.7"));
	CHECK(!cidr_contains_addr("::ffff:10.0.0.0/104", "11.9.8.7"));
}

static void test_contains_rejects_malformed_address(void)
{
	CHECK(!cidr_contains_addr("10.0.0.0/8", "10.0.0.1/32"));
	CHECK(!cidr_contains_addr("10.0.0.0/8", "unknown"));
	CHECK(!cidr_contains_addr("10.0.0.0/8", ""));
	CHECK(!cidr_contains_addr("10.0.0.0/8", NULL));
	CHECK(!cidr_contains_addr("bogus", "10.0.0.1"));
	CHECK(!cidr_contains_addr(NULL, "10.0.0.1"));
}

static void test_list_contains_any_member(void)
{
	json_t *list = json_pack("[s,s]", "10.0.0.0/8", "2001:db8::/32");

	CHECK_OUT(list != NULL);
	CHECK_OUT(cidr_list_contains(list, "10.1.1.1"));
	CHECK_OUT(cidr_list_contains(list, "2001:db8::9"));
	CHECK_OUT(!cidr_list_contains(list, "192.168.0.1"));
	CHECK_OUT(!cidr_list_contains(NULL, "10.1.1.1"));
	json_decref(list);
	list = json_array();
	CHECK_OUT(!cidr_list_contains(list, "10.1.1.1"));
out:
	json_decref(list);
}

static void test_list_skips_malformed_members(void)
{
	json_t *list = json_pack("[s,i,s]", "garbage", 5, "10.0.0.0/8");

	CHECK_OUT(list != NULL);
	CHECK_OUT(cidr_list_contains(list, "10.0.0.1"));
	CHECK_OUT(!cidr_list_contains(list, "11.0.0.1"));
out:
	json_decref(list);
}

static void test_list_validate_rejects_bad_members(void)
{
	json_t *good = json_pack("[s,s]", "10.0.0.0/8", "::1");
	json_t *bad = json_pack("[s,s]", "10.0.0.0/8", "10.0.0.0/40");
	json_t *not_str = json_pack("[i]", 1);
	json_t *obj = json_object();

	CHECK_OUT(good != NULL && bad != NULL && not_str != NULL && obj != NULL);
	CHECK_EQ_OUT(cidr_list_validate(NULL), 0);
	CHECK_EQ_OUT(cidr_list_validate(good), 0);
	CHECK_EQ_OUT(cidr_list_validate(bad), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(cidr_list_validate(not_str), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(cidr_list_validate(obj), COFFER_ERR_INVALID);
out:
	json_decref(obj);
	json_decref(not_str);
	json_decref(bad);
	json_decref(good);
}

int main(void)
{
	RUN(test_parse_accepts_ipv4_block_and_clears_host_bits);
	RUN(test_parse_bare_addresses_are_host_blocks);
	RUN(test_parse_rejects_malformed_blocks);
	RUN(test_contains_matches_ipv4_prefixes);
	RUN(test_contains_matches_ipv6_prefixes);
	RUN(test_contains_never_mixes_families_except_mapped);
	RUN(test_contains_rejects_malformed_address);
	RUN(test_list_contains_any_member);
	RUN(test_list_skips_malformed_members);
	RUN(test_list_validate_rejects_bad_members);
	return test_summary();
}
