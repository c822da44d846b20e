/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_path.c: finding the KV mount of a path, as the Vault CLI does: GET
 * sys/internal/ui/mounts/<path> answers the mount ("secret/") and its version, and the API path
 * follows (v2 "secret/data/app/db", v1 "secret/app/db"). Used by the kv commands.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Join a mount flag ("secret" or "secret/") and a path relative to it. NULL on no memory. */
static char *cli_kv_path_join(const char *mount_flag, const char *path)
{
	size_t len = strlen(mount_flag);
	char *out = NULL;

	while (len > 0 && mount_flag[len - 1] == '/')
		len--;
	while (path[0] == '/')
		path++;
	if (asprintf(&out, "%.*s/%s", (int)len, mount_flag, path) < 0)
		return NULL;
	return out;
}

/* Fill out from the data of sys/internal/ui/mounts for full (mount + relative path). */
static int cli_kv_path_from_mount(const json_t *data, const char *full, struct cli_kv_path *out)
{
	const char *mount = json_string_value(json_object_get(data, "path"));
	const char *type = json_string_value(json_object_get(data, "type"));
	const char *ver =
	    json_string_value(json_object_get(json_object_get(data, "options"), "version"));
	size_t mlen;

	if (mount == NULL || type == NULL ||
	    (strcmp(type, "kv") != 0 && strcmp(type, "generic") != 0)) {
		fprintf(stderr, "Error: %s is not in a KV secrets engine\n", full);
		return CLI_EXIT_ERROR;
	}
	mlen = strlen(mount);
	out->mount = strdup(mount);
	/* full starts with the mount, with or without its trailing '/'. */
	out->rel = strdup(strlen(full) >= mlen ? full + mlen : "");
	out->version = ver != NULL && strcmp(ver, "2") == 0 ? 2 : 1;
	if (out->mount == NULL || out->rel == NULL) {
		fprintf(stderr, "Error: out of memory\n");
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

/* Check the version and fill in out->api and out->text. An exit code. */
static int cli_kv_path_finish(struct cli_kv_path *out, const char *segment, const char *v2_op)
{
	if (v2_op != NULL && out->version != 2) {
		fprintf(stderr, "Error: %s needs a KV version 2 mount; %s is version 1\n", v2_op,
		        out->mount);
		return CLI_EXIT_ERROR;
	}
	out->api = cli_kv_path_api(out, segment);
	if (out->api == NULL || asprintf(&out->text, "%s%s", out->mount, out->rel) < 0) {
		out->text = NULL;
		fprintf(stderr, "Error: out of memory\n");
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

int cli_kv_path_resolve(const char *mount_flag, const char *path, const char *segment,
                        const char *v2_op, struct cli_kv_path *out)
{
	char *full, *ui = NULL;
	json_t *resp = NULL;
	int rc = CLI_EXIT_ERROR;

	memset(out, 0, sizeof(*out));
	while (path[0] == '/')
		path++;
	full = mount_flag != NULL ? cli_kv_path_join(mount_flag, path) : strdup(path);
	if (full == NULL || asprintf(&ui, "sys/internal/ui/mounts/%s", full) < 0) {
		ui = NULL;
		fprintf(stderr, "Error: out of memory\n");
		goto out;
	}
	rc = cli_client_call("GET", ui, NULL, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_kv_path_from_mount(json_object_get(resp, "data"), full, out);
	if (rc == CLI_EXIT_OK)
		rc = cli_kv_path_finish(out, segment, v2_op);
out:
	if (rc != CLI_EXIT_OK)
		cli_kv_path_free(out);
	json_decref(resp);
	free(ui);
	free(full);
	return rc;
}

char *cli_kv_path_api(const struct cli_kv_path *p, const char *segment)
{
	char *out = NULL;
	int n;

	if (p->version == 2)
		n = asprintf(&out, "%s%s/%s", p->mount, segment, p->rel);
	else
		n = asprintf(&out, "%s%s", p->mount, p->rel);
	if (n < 0) {
		fprintf(stderr, "Error: out of memory\n");
		return NULL;
	}
	return out;
}

void cli_kv_path_free(struct cli_kv_path *p)
{
	free(p->mount);
	free(p->rel);
	free(p->api);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

int cli_kv_path_missing(const struct cli_kv_path *p, const json_t *resp)
{
	const json_t *meta = json_object_get(json_object_get(resp, "data"), "metadata");
	json_int_t version = json_integer_value(json_object_get(meta, "version"));

	if (json_is_true(json_object_get(meta, "destroyed")))
		fprintf(stderr, "Version %lld of %s is destroyed\n", (long long)version, p->text);
	else if (json_is_object(meta))
		fprintf(stderr, "Version %lld of %s is deleted (kv undelete brings it back)\n",
		        (long long)version, p->text);
	else
		fprintf(stderr, "No value found at %s\n", p->text);
	return CLI_EXIT_USAGE;
}

json_t *cli_kv_versions_parse(const char *name, const char *text)
{
	json_t *arr = json_array();
	const char *s = text;
	long long v;
	char item[32];
	size_t len;

	while (arr != NULL && *s != '\0') {
		len = strcspn(s, ",");
		snprintf(item, sizeof(item), "%.*s", (int)(len < sizeof(item) ? len : 0), s);
		if (cli_args_int(name, "versions", item, 1, 1LL << 53, &v) != 0) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_integer(v));
		s += len + (s[len] == ',');
	}
	if (arr != NULL && json_array_size(arr) == 0) {
		fprintf(stderr, "%s: -versions needs at least one version number\n", name);
		json_decref(arr);
		return NULL;
	}
	return arr;
}
