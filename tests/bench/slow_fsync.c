/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slow_fsync.c: an LD_PRELOAD module that makes every fdatasync() of the process take
 * BENCH_FSYNC_DELAY_US microseconds longer (default 1000). pg_kv.sh preloads it into PostgreSQL
 * when PG_FSYNC_DELAY_US is set, to measure group commit against a disk whose flush costs what a
 * network block device's does, on a machine whose own disk flushes in about 150 us.
 * PostgreSQL flushes its WAL with fdatasync (wal_sync_method's default on Linux), so the delay
 * falls on every commit's flush, and on nothing else that a benchmark round waits for.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int fdatasync(int fd);

int fdatasync(int fd)
{
	static int (*real)(int);
	static long delay_us = -1;
	struct timespec ts;
	int r;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	if (delay_us < 0) {
		const char *e = getenv("BENCH_FSYNC_DELAY_US");

		delay_us = e != NULL ? atol(e) : 1000;
	}
	r = real(fd);
	ts.tv_sec = delay_us / 1000000;
	ts.tv_nsec = delay_us % 1000000 * 1000;
	nanosleep(&ts, NULL);
	return r;
}
