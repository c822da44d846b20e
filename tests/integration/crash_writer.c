/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crash_writer.c: helper of test_storage_crash.py. "crash_writer DBPATH" writes keys from 8 threads
 * forever and prints each key once storage_put has acknowledged it; "crash_writer --verify DBPATH
 * FILE" checks that every key listed in FILE survived (run after kill -9).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/storage.h"

#define CRASH_THREADS 8

static pthread_mutex_t crash_stdout_lock = PTHREAD_MUTEX_INITIALIZER;

struct crash_thread {
	struct storage *st;
	int id;
};

/* The value stored under key: derived from it so that --verify needs only the key. */
static int crash_value(const char *key, char *buf, size_t len)
{
	return snprintf(buf, len, "value-of-%s-%08zx", key, strlen(key) * 2654435761u);
}

static void *crash_thread_main(void *arg)
{
	struct crash_thread *t = arg;
	char key[64], value[128];
	unsigned long long seq;
	int value_len;

	for (seq = 0;; seq++) {
		snprintf(key, sizeof(key), "t%d-%llu", t->id, seq);
		value_len = crash_value(key, value, sizeof(value));
		if (storage_put(t->st, (const uint8_t *)key, strlen(key), (const uint8_t *)value,
		                (size_t)value_len) != 0) {
			fprintf(stderr, "crash_writer: put %s failed\n", key);
			exit(1);
		}
		pthread_mutex_lock(&crash_stdout_lock);
		printf("%s\n", key);
		fflush(stdout);
		pthread_mutex_unlock(&crash_stdout_lock);
	}
	return NULL;
}

static int crash_write(const char *db_path)
{
	struct crash_thread threads[CRASH_THREADS];
	pthread_t tids[CRASH_THREADS];
	struct storage *st = NULL;
	int i;

	if (storage_sqlite_open(db_path, &st) != 0) {
		fprintf(stderr, "crash_writer: cannot open %s\n", db_path);
		return 1;
	}
	for (i = 0; i < CRASH_THREADS; i++) {
		threads[i] = (struct crash_thread){.st = st, .id = i};
		if (pthread_create(&tids[i], NULL, crash_thread_main, &threads[i]) != 0) {
			fprintf(stderr, "crash_writer: pthread_create failed\n");
			return 1;
		}
	}
	/* The threads never return; the test ends this process with SIGKILL. */
	for (i = 0; i < CRASH_THREADS; i++)
		pthread_join(tids[i], NULL);
	storage_close(st);
	return 1;
}

/* 1 when key holds its derived value, 0 otherwise. */
static int crash_check_key(struct storage *st, const char *key)
{
	char want[128];
	uint8_t *got = NULL;
	size_t got_len = 0;
	int want_len = crash_value(key, want, sizeof(want)), ok;

	ok = storage_get(st, (const uint8_t *)key, strlen(key), &got, &got_len) == 0 &&
	     got_len == (size_t)want_len && memcmp(got, want, got_len) == 0;
	free(got);
	return ok;
}

static int crash_verify(const char *db_path, const char *list_path)
{
	struct storage *st = NULL;
	char line[128];
	long n_passed = 0, n_failed = 0;
	FILE *f = NULL;
	int ret = 1;

	f = fopen(list_path, "r");
	if (f == NULL || storage_sqlite_open(db_path, &st) != 0) {
		fprintf(stderr, "crash_writer: cannot open %s or %s\n", list_path, db_path);
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (crash_check_key(st, line)) {
			n_passed++;
		} else {
			n_failed++;
			fprintf(stderr, "crash_writer: lost or wrong: %s\n", line);
		}
	}
	printf("%ld passed, %ld failed\n", n_passed, n_failed);
	ret = n_failed == 0 ? 0 : 1;
out:
	storage_close(st);
	if (f != NULL)
		fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 2)
		return crash_write(argv[1]);
	if (argc == 4 && strcmp(argv[1], "--verify") == 0)
		return crash_verify(argv[2], argv[3]);
	fprintf(stderr, "usage: crash_writer DBPATH | crash_writer --verify DBPATH FILE\n");
	return 2;
}
