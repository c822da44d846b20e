/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c: text and JSON log lines on stderr, the level threshold, level names and fatal().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "test.h"

static int saved_fd = -1;
static FILE *capture_file;

static int capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	if (capture_file == NULL)
		return -1;
	saved_fd = dup(STDERR_FILENO);
	if (saved_fd < 0 || dup2(fileno(capture_file), STDERR_FILENO) < 0)
		return -1;
	return 0;
}

/* Restore stderr and return what was written (caller frees), or NULL. */
static char *capture_end(void)
{
	char *text = NULL;
	long len;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	saved_fd = -1;
	len = ftell(capture_file);
	if (len >= 0 && (text = calloc(1, (size_t)len + 1)) != NULL) {
		rewind(capture_file);
		if (fread(text, 1, (size_t)len, capture_file) != (size_t)len)
			text[0] = '\0';
	}
	fclose(capture_file);
	capture_file = NULL;
	return text;
}

/* For out: paths: end a capture still running, whatever failed, dropping its text. */
static void capture_cancel(void)
{
	if (capture_file != NULL)
		free(capture_end());
}

/* "2026-11-29T01:02:03.123Z" */
static int is_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	}
	return 1;
}

static void test_log_text_line_format(void)
{
	char *out = NULL;

	log_init(LOG_LEVEL_INFO, false);
	CHECK_EQ_OUT(capture_begin(), 0);
	log_info("core: %s %d", "unsealed", 3);
	log_error("storage: failed");
	out = capture_end();
	CHECK_OUT(out != NULL);
	CHECK_OUT(is_timestamp(out));
	CHECK_OUT(strncmp(out + 24, " [INFO]  core: unsealed 3\n", 26) == 0);
	CHECK_OUT(is_timestamp(out + 50));
	CHECK_OUT(strcmp(out + 74, " [ERROR] storage: failed\n") == 0);
out:
	free(out);
	capture_cancel();
}

static void test_log_threshold_filters_lower_levels(void)
{
	char *out = NULL;

	log_init(LOG_LEVEL_WARN, false);
	CHECK_EQ_OUT(capture_begin(), 0);
	log_debug("no");
	log_info("no");
	log_warn("yes");
	out = capture_end();
	log_init(LOG_LEVEL_INFO, false);
	CHECK_OUT(out != NULL);
	CHECK_OUT(strstr(out, "no") == NULL);
	CHECK_OUT(strstr(out, " [WARN]  yes\n") != NULL);
out:
	free(out);
	capture_cancel();
	log_init(LOG_LEVEL_INFO, false);
}

static void test_log_text_escapes_control_characters(void)
{
	char *out = NULL;

	log_init(LOG_LEVEL_DEBUG, false);
	CHECK_EQ_OUT(capture_begin(), 0);
	log_debug("a\nb\x01"
	          "c\xff");
	out = capture_end();
	log_init(LOG_LEVEL_INFO, false);
	CHECK_OUT(out != NULL);
	CHECK_OUT(strcmp(out + 24, " [DEBUG] a\\nb\\x01c\\xff\n") == 0);
out:
	free(out);
	capture_cancel();
	log_init(LOG_LEVEL_INFO, false);
}

static void test_log_json_line_is_valid_json(void)
{
	static const char msg[] = "quote\" back\\ nl\n tab\t ctl\x02 caf\xc3\xa9 bad\xc3(";
	json_error_t err;
	json_t *v = NULL;
	char *out = NULL, *nl;
	const char *ts = "", *level = "", *text = "";
	int rc;

	log_init(LOG_LEVEL_INFO, true);
	CHECK_EQ_OUT(capture_begin(), 0);
	log_warn("%s", msg);
	out = capture_end();
	log_init(LOG_LEVEL_INFO, false);
	CHECK_OUT(out != NULL);
	nl = strchr(out, '\n');
	CHECK_OUT(nl != NULL && nl[1] == '\0');
	CHECK_OUT(strncmp(out, "{\"@timestamp\":", 14) == 0);
	v = json_loads(out, 0, &err);
	free(out);
	out = NULL;
	CHECK_OUT(v != NULL);
	rc = json_unpack(v, "{s:s, s:s, s:s}", "@timestamp", &ts, "@level", &level, "@message",
	                 &text);
	if (rc == 0)
		rc = !is_timestamp(ts) || strcmp(level, "warn") != 0 ||
		     strcmp(text,
		            "quote\" back\\ nl\n tab\t ctl\x02 caf\xc3\xa9 bad\xef\xbf\xbd(") != 0;
	json_decref(v);
	v = NULL;
	CHECK_EQ_OUT(rc, 0);
out:
	json_decref(v);
	free(out);
	capture_cancel();
	log_init(LOG_LEVEL_INFO, false);
}

static void test_log_truncates_long_messages(void)
{
	char *big = malloc(20000), *out = NULL;

	CHECK_OUT(big != NULL);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	log_init(LOG_LEVEL_INFO, false);
	CHECK_EQ_OUT(capture_begin(), 0);
	log_info("%s", big);
	out = capture_end();
	free(big);
	big = NULL;
	CHECK_OUT(out != NULL);
	CHECK_OUT(strlen(out) < 9000);
	CHECK_OUT(out[strlen(out) - 1] == '\n');
out:
	free(out);
	capture_cancel();
	free(big);
}

static void test_log_parse_level_names(void)
{
	enum log_level level = LOG_LEVEL_ERROR;

	CHECK_EQ(log_parse_level("debug", &level), 0);
	CHECK_EQ(level, LOG_LEVEL_DEBUG);
	CHECK_EQ(log_parse_level("info", &level), 0);
	CHECK_EQ(level, LOG_LEVEL_INFO);
	CHECK_EQ(log_parse_level("warn", &level), 0);
	CHECK_EQ(level, LOG_LEVEL_WARN);
	CHECK_EQ(log_parse_level("warning", &level), 0);
	CHECK_EQ(level, LOG_LEVEL_WARN);
	CHECK_EQ(log_parse_level("ERROR", &level), 0);
	CHECK_EQ(level, LOG_LEVEL_ERROR);
	CHECK_EQ(log_parse_level("verbose", &level), COFFER_ERR_INVALID);
	CHECK_EQ(log_parse_level("", &level), COFFER_ERR_INVALID);
	CHECK_EQ(log_parse_level(NULL, &level), COFFER_ERR_INVALID);
	CHECK_EQ(level, LOG_LEVEL_ERROR);
}

static void test_log_fatal_logs_and_exits_1(void)
{
	int status = 0;
	char *out = NULL;
	pid_t pid;

	CHECK_EQ_OUT(capture_begin(), 0);
	pid = fork();
	if (pid == 0) {
		log_init(LOG_LEVEL_ERROR, false);
		fatal("cannot open %s", "config");
	}
	waitpid(pid, &status, 0);
	out = capture_end();
	CHECK_OUT(pid > 0);
	CHECK_OUT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	CHECK_OUT(out != NULL);
	CHECK_OUT(strstr(out, " [ERROR] cannot open config\n") != NULL);
out:
	free(out);
	capture_cancel();
}

int main(void)
{
	RUN(test_log_text_line_format);
	RUN(test_log_threshold_filters_lower_levels);
	RUN(test_log_text_escapes_control_characters);
	RUN(test_log_json_line_is_valid_json);
	RUN(test_log_truncates_long_messages);
	RUN(test_log_parse_level_names);
	RUN(test_log_fatal_logs_and_exits_1);
	return test_summary();
}
