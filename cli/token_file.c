/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_file.c: where the CLI keeps its token between runs: $COFFER_TOKEN wins, else
 * ~/.coffer-token, which `coffer login` writes with mode 0600 through a temp file and rename, so
 * that no reader ever sees a partial or world-readable token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "secmem.h"

#define CLI_TOKEN_FILE ".coffer-token"
#define CLI_TOKEN_MAX 4096

int cli_token_file_path(char *buf, size_t len)
{
	const char *home = getenv("HOME");
	int n;

	if (home == NULL || home[0] == '\0')
		return -1;
	n = snprintf(buf, len, "%s/%s", home, CLI_TOKEN_FILE);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The token file's first line, in secmem; NULL when there is none or the file cannot be used
 * (said on stderr, unless it is absent). */
static char *cli_token_file_read(const char *path)
{
	uint8_t *text = NULL;
	char err[4200];
	size_t len;
	int rc;

	rc = coffer_read_secret_file(path, 0, CLI_TOKEN_MAX, COFFER_SECRET_FILE_NOFOLLOW, &text,
	                             &len, err, sizeof(err));
	if (rc != 0) {
		if (rc != COFFER_ERR_NOT_FOUND)
			fprintf(stderr, "Warning: the token file is not used: %s\n", err);
		return NULL;
	}
	if (err[0] != '\0')
		fprintf(stderr, "Warning: %s\n", err);
	text[strcspn((char *)text, "\r\n")] = '\0';
	if (text[0] == '\0') {
		secmem_free(text);
		return NULL;
	}
	return (char *)text;
}

char *cli_token_load(void)
{
	const char *env = getenv("COFFER_TOKEN");
	char path[4096];

	if (env != NULL && env[0] != '\0')
		return secmem_strdup(env);
	if (cli_token_file_path(path, sizeof(path)) != 0)
		return NULL;
	return cli_token_file_read(path);
}

int cli_token_save(const char *token)
{
	char path[4096], tmp[4200];
	int fd = -1, rc = -1;

	if (cli_token_file_path(path, sizeof(path)) != 0) {
		fprintf(stderr, "Error: HOME is not set: cannot store the token\n");
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	/* mkstemp creates the file 0600: the mode is right before the first byte is written. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "Error: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) != 0 || coffer_write_all(fd, token, strlen(token)) != 0 ||
	    coffer_write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		fprintf(stderr, "Error: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc == 0)
		rc = rename(tmp, path);
	if (rc != 0)
		fprintf(stderr, "Error: cannot replace %s: %s\n", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}
