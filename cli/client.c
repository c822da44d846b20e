/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c: the coffer CLI's connection to the server: COFFER_ADDR and COFFER_CACERT, the token
 * (COFFER_TOKEN, else the token file), the mapping of answers to exit codes and messages, and
 * the calls that print their answer through output.c (run, list); output.c never calls back.
 * One client per process, made on first use and wiped at exit.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http_client.h"
#include "secmem.h"

#define CLI_DEFAULT_ADDR "http://127.0.0.1:8200"
#define CLI_TIMEOUT_MS 60000L

static struct coffer_http *cli_http;
static char *cli_token;       /* secmem; NULL: no token */
static bool cli_token_is_set; /* cli_token was loaded or set */

static void cli_client_close(void)
{
	coffer_http_free(cli_http);
	cli_http = NULL;
	secmem_free(cli_token);
	cli_token = NULL;
}

/* The client, made on first use. NULL after a message. */
static struct coffer_http *cli_client_get(void)
{
	const char *addr = getenv("COFFER_ADDR"), *ca = getenv("COFFER_CACERT");
	char err[256];

	if (cli_http != NULL)
		return cli_http;
	if (addr == NULL || addr[0] == '\0')
		addr = CLI_DEFAULT_ADDR;
	cli_http = coffer_http_new(addr, ca != NULL && ca[0] != '\0' ? ca : NULL, CLI_TIMEOUT_MS,
	                           err, sizeof(err));
	if (cli_http == NULL) {
		fprintf(stderr, "Error: COFFER_ADDR \"%s\": %s\n", addr, err);
		return NULL;
	}
	atexit(cli_client_close);
	return cli_http;
}

int cli_client_set_token(const char *token)
{
	char *copy = secmem_strdup(token);

	if (copy == NULL) {
		fprintf(stderr, "Error: out of memory\n");
		return -1;
	}
	secmem_free(cli_token);
	cli_token = copy;
	cli_token_is_set = true;
	return 0;
}

int cli_client_send(const char *method, const char *path, const json_t *body, long *status,
                    json_t **resp)
{
	struct coffer_http *h = cli_client_get();

	*resp = NULL;
	if (h == NULL)
		return CLI_EXIT_ERROR;
	if (!cli_token_is_set) {
		cli_token = cli_token_load();
		cli_token_is_set = true;
	}
	if (coffer_http_request(h, method, path, cli_token, body, status, resp) != 0) {
		fprintf(stderr, "Error: %s %s: %s\n", method, path, coffer_http_error(h));
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

/* The server's error messages, "; "-separated, or a description of the status. */
static void cli_client_print_errors(const json_t *resp, long status)
{
	const json_t *errors = json_object_get(resp, "errors");
	size_t i;
	json_t *e;

	if (json_array_size(errors) == 0) {
		fprintf(stderr, "HTTP status %ld", status);
		return;
	}
	json_array_foreach(errors, i, e)
	{
		if (i > 0)
			fputs("; ", stderr);
		cli_print_value(stderr, e);
	}
}

int cli_client_status_exit(const char *method, const char *path, long status, const json_t *resp)
{
	if (status >= 200 && status < 300)
		return CLI_EXIT_OK;
	/* An empty LIST and a missing entry: 404 without messages (API.md). */
	if (status == 404 && json_array_size(json_object_get(resp, "errors")) == 0) {
		fprintf(stderr, "No value found at %s\n", path);
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr, "Error: %s %s: ", method, path);
	cli_client_print_errors(resp, status);
	fprintf(stderr, " (HTTP %ld)\n", status);
	if (status == 403 && cli_token == NULL)
		fprintf(stderr, "Hint: no token: run \"coffer login\" or set COFFER_TOKEN.\n");
	return status == 404 ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
}

int cli_client_call(const char *method, const char *path, const json_t *body, json_t **resp)
{
	json_t *r = NULL;
	long status;
	int rc;

	*resp = NULL;
	rc = cli_client_send(method, path, body, &status, &r);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = cli_client_status_exit(method, path, status, r);
	if (rc == CLI_EXIT_OK)
		*resp = r;
	else
		json_decref(r);
	return rc;
}

bool cli_client_is_cas_error(long status, const json_t *resp)
{
	const char *msg = json_string_value(json_array_get(json_object_get(resp, "errors"), 0));

	return status == 400 && msg != NULL && strstr(msg, "check-and-set") != NULL;
}

int cli_client_run(const char *method, const char *path, const json_t *body, const char *field,
                   const char *success_msg)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_client_call(method, path, body, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, field, success_msg);
	json_decref(resp);
	return rc;
}

int cli_client_list(const char *path, const char *shown)
{
	json_t *resp = NULL;
	long status;
	int rc;

	rc = cli_client_send("LIST", path, NULL, &status, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_client_status_exit("LIST", shown, status, resp);
	if (rc == CLI_EXIT_OK && cli_output_is_json())
		cli_print_json(json_object_get(json_object_get(resp, "data"), "keys"));
	else if (rc == CLI_EXIT_OK)
		cli_print_keys(resp);
	json_decref(resp);
	return rc;
}
