/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_audit_stage.c: the audit staging ring (server/audit/audit_stage.c): records come out in the
 * order they went in over many laps of the ring, whatever their sizes; a full ring refuses more;
 * what was staged and not consumed is handed to recovery after a reopen, once; a damaged header
 * gives nothing to recover and no crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_stage.h"
#include "test.h"

/* CHECK for helpers that return a value: records the failure and goes on. */
#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			test_cur_failed = 1;                                               \
		}                                                                          \
	} while (0)

static char dir[] = "/tmp/coffer-test-stage-XXXXXX";
static char path[64];

/* Line number i: between 1 and ~3000 bytes, ending in a newline, its number in front. */
static size_t make_line(char *buf, size_t cap, unsigned i)
{
	size_t len = 1 + (i * 7919u) % 3000u;
	int n = snprintf(buf, cap, "%u:", i);

	if (len < (size_t)n + 1)
		len = (size_t)n + 1;
	memset(buf + n, 'a' + (int)(i % 26), len - (size_t)n - 1);
	buf[len - 1] = '\n';
	return len;
}

/* Consume everything staged, checking it is lines next..; returns the next line number due. */
static unsigned drain(struct audit_stage *st, unsigned next)
{
	struct iovec iov[16];
	char want[4096];
	uint64_t after;
	int n;

	while ((n = audit_stage_collect(st, iov, 16, &after)) > 0 || after != st->head) {
		for (int i = 0; i < n; i++) {
			size_t len = make_line(want, sizeof(want), next++);

			EXPECT(iov[i].iov_len == len && memcmp(iov[i].iov_base, want, len) == 0);
		}
		audit_stage_consumed(st, after);
	}
	return next;
}

static int discard(const char *line, size_t len, void *arg)
{
	(void)line;
	(void)len;
	(void)arg;
	return 0;
}

/* For out: paths: close st and leave the stage file, which the tests share, with nothing staged,
 * so that the next test opens an empty ring whatever this one left in it. */
static void stage_close_empty(struct audit_stage *st)
{
	char err[200];

	audit_stage_close(st);
	if (audit_stage_open(st, path, true, err, sizeof(err)) == 0)
		audit_stage_recover(st, discard, NULL);
	audit_stage_close(st);
}

static void test_records_come_out_in_order_over_many_laps(void)
{
	struct audit_stage st = {.fd = -1};
	char line[4096], err[200];
	unsigned put = 0, got = 0;

	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	CHECK_EQ_OUT(audit_stage_recover(&st, NULL, NULL), 0); /* fresh: nothing to recover */
	/* Bursts of varying length, so the ring wraps at every kind of position. */
	for (unsigned burst = 1; st.tail <= 4 * AUDIT_STAGE_CAP; burst++) {
		for (unsigned k = 0; k < burst % 37 + 1; k++) {
			size_t len = make_line(line, sizeof(line), put);

			if (!audit_stage_has_room(&st, 1, len))
				break;
			audit_stage_put(&st, line, len);
			put++;
		}
		audit_stage_publish(&st);
		CHECK_OUT(audit_stage_is_pending(&st));
		got = drain(&st, got);
		CHECK_EQ_OUT(got, put);
		CHECK_OUT(!audit_stage_is_pending(&st));
	}
	CHECK_OUT(st.tail > 4 * AUDIT_STAGE_CAP); /* several laps */
out:
	stage_close_empty(&st);
}

static void test_a_full_ring_refuses_and_long_lines_never_fit(void)
{
	struct audit_stage st = {.fd = -1};
	char line[4096], err[200];
	unsigned put = 0;
	size_t len;

	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	CHECK_EQ_OUT(audit_stage_recover(&st, NULL, NULL), 0);
	while (audit_stage_has_room(&st, 1, (len = make_line(line, sizeof(line), put)))) {
		audit_stage_put(&st, line, len);
		put++;
	}
	audit_stage_publish(&st);
	CHECK_OUT(st.tail - st.head <= AUDIT_STAGE_CAP);
	CHECK_OUT(st.tail - st.head > AUDIT_STAGE_CAP - 4096);
	CHECK_EQ_OUT(drain(&st, 0), put);
	CHECK_OUT(audit_stage_has_room(&st, 2, 3000));
	CHECK_OUT(!audit_stage_has_room(&st, 1, AUDIT_STAGE_CAP / 2));
out:
	stage_close_empty(&st);
}

struct seen {
	unsigned next;
	unsigned n;
};

static int recovered(const char *got, size_t len, void *arg)
{
	struct seen *s = arg;
	char want[4096];
	size_t want_len = make_line(want, sizeof(want), s->next++);

	EXPECT(len == want_len && memcmp(got, want, len) == 0);
	s->n++;
	return 0;
}

static void test_unconsumed_records_are_recovered_once(void)
{
	struct audit_stage st = {.fd = -1};
	struct seen s = {0, 0};
	char line[4096], err[200];
	unsigned put = 0;
	size_t len;

	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	CHECK_EQ_OUT(audit_stage_recover(&st, NULL, NULL), 0);
	/* Consume a first part (over a lap: lines average 1.5 KB), leave the rest staged. */
	const unsigned first = (unsigned)(AUDIT_STAGE_CAP / 1000) / 50 * 50;

	for (; put < first; put++) {
		len = make_line(line, sizeof(line), put);
		CHECK_OUT(audit_stage_has_room(&st, 1, len));
		audit_stage_put(&st, line, len);
		audit_stage_publish(&st);
		if (put % 50 == 49)
			CHECK_EQ_OUT(drain(&st, put - 49), put + 1);
	}
	for (; put < first + 20; put++) {
		len = make_line(line, sizeof(line), put);
		audit_stage_put(&st, line, len);
	}
	audit_stage_publish(&st);
	/* One more put but not published: torn, never recovered. */
	len = make_line(line, sizeof(line), put);
	audit_stage_put(&st, line, len);
	audit_stage_close(&st);

	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	s.next = first;
	CHECK_EQ_OUT(audit_stage_recover(&st, recovered, &s), 0);
	CHECK_EQ_OUT(s.n, 20);
	CHECK_EQ_OUT(s.next, first + 20);
	audit_stage_close(&st);
	/* Recovered once: the ring is empty now. */
	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	s.n = 0;
	CHECK_EQ_OUT(audit_stage_recover(&st, recovered, &s), 0);
	CHECK_EQ_OUT(s.n, 0);
out:
	stage_close_empty(&st);
}

static int count(const char *got, size_t len, void *arg)
{
	(void)got;
	(void)len;
	(*(unsigned *)arg)++;
	return 0;
}

static void test_a_damaged_header_recovers_nothing(void)
{
	struct audit_stage st = {.fd = -1};
	char err[200];
	unsigned n = 0;
	FILE *f = NULL;
	/* magic ok, cap ok, head 0, tail far beyond the ring */
	uint64_t bad[3] = {AUDIT_STAGE_CAP, 0, 10 * AUDIT_STAGE_CAP};

	f = fopen(path, "r+b");
	CHECK_OUT(f != NULL);
	CHECK_EQ_OUT(fseek(f, 8, SEEK_SET), 0);
	CHECK_EQ_OUT(fwrite(bad, sizeof(bad), 1, f), 1);
	fclose(f);
	f = NULL;
	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	CHECK_EQ_OUT(audit_stage_recover(&st, count, &n), 0);
	CHECK_EQ_OUT(n, 0);
	audit_stage_close(&st);
	/* Garbage records inside a plausible range: stopped at, not followed. */
	f = fopen(path, "r+b");
	CHECK_OUT(f != NULL);
	bad[2] = 4096;
	CHECK_EQ_OUT(fseek(f, 8, SEEK_SET), 0);
	CHECK_EQ_OUT(fwrite(bad, sizeof(bad), 1, f), 1);
	CHECK_EQ_OUT(fseek(f, 4096, SEEK_SET), 0);
	for (int i = 0; i < 4096; i++)
		fputc(0xee, f);
	fclose(f);
	f = NULL;
	CHECK_EQ_OUT(audit_stage_open(&st, path, true, err, sizeof(err)), 0);
	CHECK_EQ_OUT(audit_stage_recover(&st, count, &n), 0);
	CHECK_EQ_OUT(n, 0);
out:
	audit_stage_close(&st);
	if (f != NULL)
		fclose(f);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/audit.log.stage", dir);
	RUN(test_records_come_out_in_order_over_many_laps);
	RUN(test_a_full_ring_refuses_and_long_lines_never_fit);
	RUN(test_unconsumed_records_are_recovered_once);
	RUN(test_a_damaged_header_recovers_nothing);
	unlink(path);
	rmdir(dir);
	return test_summary();
}
