/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_kv.c: `coffer kv` for the KV engine, versions 1 and 2 (API.md "KV"): put, get, patch, list,
 * delete, undelete, destroy, rollback; metadata lives in cmd_kv_meta.c and rotate in
 * cmd_kv_rotate.c. Paths are resolved to their mount by kv_path.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The write body of KV v2 ({"data":..., "options":{"cas":N}}), or the data itself on v1. */
static json_t *cmd_kv_write_body(const struct cli_kv_path *p, json_t *data, const char *cas,
                                 const char *name)
{
	long long n;

	if (p->version == 1)
		return json_incref(data);
	if (cas == NULL)
		return json_pack("{s:O}", "data", data);
	if (cli_args_int(name, "cas", cas, 0, 1LL << 53, &n) != 0)
		return NULL;
	return json_pack("{s:O, s:{s:I}}", "data", data, "options", "cas", (json_int_t)n);
}

/* put and patch: write k=v data with method; patch needs v2. */
static int cmd_kv_write(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                        const char *method)
{
	const char *mount = NULL, *cas = NULL;
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"cas", CLI_FLAG_STRING, &cas, "VERSION",
	     "Check-and-set: write only if VERSION is the current version (0: only if absent)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	json_t *data = NULL, *body = NULL, *resp = NULL;
	char msg[600];
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 2, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_kv_path_resolve(mount, argv[1], "data",
	                         strcmp(method, "PATCH") == 0 ? "kv patch" : NULL, &p);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = CLI_EXIT_USAGE;
	data = cli_values_parse(n_args - 1, argv + 2);
	if (data == NULL || (body = cmd_kv_write_body(&p, data, cas, name)) == NULL)
		goto out;
	rc = cli_client_call(method, p.api, body, &resp);
	snprintf(msg, sizeof(msg), "Data written to: %s", p.text);
	if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, NULL, msg);
out:
	json_decref(resp);
	json_decref(body);
	json_decref(data);
	cli_kv_path_free(&p);
	return rc;
}

static int cmd_kv_put(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_kv_write(cmd, name, argc, argv, "POST");
}

static int cmd_kv_patch(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_kv_write(cmd, name, argc, argv, "PATCH");
}

/* Print a read secret: data (v1: the whole data) and, on v2, its metadata. */
static int cmd_kv_get_print(const struct cli_kv_path *p, const json_t *resp, const char *field)
{
	const json_t *data = json_object_get(resp, "data");
	const json_t *secret = p->version == 2 ? json_object_get(data, "data") : data;

	if (field != NULL)
		return cli_print_field(secret, field);
	if (cli_output_is_json()) {
		cli_print_json(resp);
		return CLI_EXIT_OK;
	}
	if (p->version == 2) {
		cli_print_section("Metadata");
		cli_print_table(json_object_get(data, "metadata"));
	}
	cli_print_section("Data");
	cli_print_table(secret);
	return CLI_EXIT_OK;
}

static int cmd_kv_get(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *mount = NULL, *version = NULL, *field = NULL;
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"version", CLI_FLAG_STRING, &version, "N",
	     "Read version N (v2; default: the latest)."},
	    {"field", CLI_FLAG_STRING, &field, "KEY", "Print only the value of KEY, raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	json_t *resp = NULL;
	char *path = NULL;
	long long v = 0;
	long status;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (version != NULL && cli_args_int(name, "version", version, 0, 1LL << 53, &v) != 0)
		return CLI_EXIT_USAGE;
	rc = cli_kv_path_resolve(mount, argv[1], "data", version ? "kv get -version" : NULL, &p);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (asprintf(&path, "%s?version=%lld", p.api, v) < 0) {
		path = NULL;
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	rc = cli_client_send("GET", p.version == 2 ? path : p.api, NULL, &status, &resp);
	if (rc == CLI_EXIT_OK && status == 404)
		rc = cli_kv_path_missing(&p, resp);
	else if (rc == CLI_EXIT_OK)
		rc = cli_client_status_exit("GET", p.api, status, resp);
	if (rc == CLI_EXIT_OK)
		rc = cmd_kv_get_print(&p, resp, field);
out:
	json_decref(resp);
	free(path);
	cli_kv_path_free(&p);
	return rc;
}

static int cmd_kv_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *mount = NULL;
	const struct cli_flag flags[] = {CLI_FLAG_KV_MOUNT(&mount), CLI_FLAG_FORMAT, CLI_FLAG_END};
	struct cli_kv_path p;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_kv_path_resolve(mount, argv[1], "metadata", NULL, &p);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = cli_client_list(p.api, p.text);
	cli_kv_path_free(&p);
	return rc;
}

/*
 * delete, undelete and destroy. route is the v2 route for a list of versions ("delete", ...);
 * is_versions_required when -versions must be given. delete without -versions soft-deletes the
 * latest version (v2) or removes the secret (v1).
 */
static int cmd_kv_versions_op(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                              const char *route, bool is_versions_required, const char *done)
{
	const char *mount = NULL, *versions = NULL;
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"versions", CLI_FLAG_STRING, &versions, "N,M,...", "The versions (v2)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	json_t *body = NULL, *list, *resp = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (is_versions_required && versions == NULL)
		return cli_usage_error(cmd, name, flags, "-versions is required");
	rc = cli_kv_path_resolve(mount, argv[1], versions ? route : "data",
	                         versions ? name + strlen("coffer ") : NULL, &p);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (versions != NULL) {
		list = cli_kv_versions_parse(name, versions);
		body = list ? json_pack("{s:o}", "versions", list) : NULL;
		rc = body ? cli_client_call("POST", p.api, body, &resp) : CLI_EXIT_USAGE;
	} else {
		rc = cli_client_call("DELETE", p.api, NULL, &resp);
	}
	if (rc == CLI_EXIT_OK)
		cli_print_success("%s %s", done, p.text);
	json_decref(resp);
	json_decref(body);
	cli_kv_path_free(&p);
	return rc;
}

static int cmd_kv_delete(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_kv_versions_op(cmd, name, argc, argv, "delete", false,
	                          "Data deleted (if it existed) at:");
}

static int cmd_kv_undelete(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_kv_versions_op(cmd, name, argc, argv, "undelete", true, "Data undeleted at:");
}

static int cmd_kv_destroy(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_kv_versions_op(cmd, name, argc, argv, "destroy", true, "Data destroyed at:");
}

/* The data of a live version and the current version of the secret at p; an exit code. */
static int cmd_kv_rollback_read(const struct cli_kv_path *p, long long version, json_t **data,
                                json_int_t *current)
{
	json_t *resp = NULL, *meta = NULL;
	char *path = NULL, *meta_path = cli_kv_path_api(p, "metadata");
	int rc = CLI_EXIT_ERROR;

	if (meta_path == NULL || asprintf(&path, "%s?version=%lld", p->api, version) < 0) {
		path = NULL;
		goto out;
	}
	rc = cli_client_call("GET", path, NULL, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_client_call("GET", meta_path, NULL, &meta);
	if (rc == CLI_EXIT_OK) {
		*data = json_incref(json_object_get(json_object_get(resp, "data"), "data"));
		*current = json_integer_value(
		    json_object_get(json_object_get(meta, "data"), "current_version"));
	}
out:
	json_decref(meta);
	json_decref(resp);
	free(meta_path);
	free(path);
	return rc;
}

/* rollback: write the data of an older version as a new version, check-and-set on the current. */
static int cmd_kv_rollback(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *mount = NULL, *version = NULL;
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"version", CLI_FLAG_STRING, &version, "N", "The version to roll back to (required)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	json_t *data = NULL, *body = NULL, *resp = NULL;
	json_int_t current = 0;
	long long v;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (version == NULL)
		return cli_usage_error(cmd, name, flags, "-version is required");
	if (cli_args_int(name, "version", version, 1, 1LL << 53, &v) != 0)
		return CLI_EXIT_USAGE;
	rc = cli_kv_path_resolve(mount, argv[1], "data", "kv rollback", &p);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = cmd_kv_rollback_read(&p, v, &data, &current);
	if (rc == CLI_EXIT_OK) {
		body = json_pack("{s:O, s:{s:I}}", "data", data, "options", "cas", current);
		rc = cli_client_call("POST", p.api, body, &resp);
	}
	if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, NULL, NULL);
	json_decref(resp);
	json_decref(body);
	json_decref(data);
	cli_kv_path_free(&p);
	return rc;
}

const struct cli_cmd cli_kv_cmds[] = {
    {"put", cmd_kv_put, NULL, "PATH KEY=VALUE...", "Write a secret (a new version on v2)",
     "Write the KEY=VALUE pairs as the secret at PATH, replacing its data. A VALUE of @FILE\n"
     "reads a file and - reads stdin (a prompt without echo on a terminal), so that secrets\n"
     "stay out of the shell history; a lone - reads a JSON object from stdin."},
    {"get", cmd_kv_get, NULL, "PATH", "Read a secret",
     "Read the secret at PATH. Exit code 2 when there is none (or the version is deleted)."},
    {"patch", cmd_kv_patch, NULL, "PATH KEY=VALUE...", "Change some keys of a secret (v2)",
     "Write a new version with the given keys changed and the others kept (JSON merge patch)."},
    {"list", cmd_kv_list, NULL, "PATH", "List the keys under a path", NULL},
    {"delete", cmd_kv_delete, NULL, "PATH", "Delete the latest version, or -versions",
     "v2: soft-delete the latest version, or the -versions given (undelete brings them\n"
     "back). v1: remove the secret."},
    {"undelete", cmd_kv_undelete, NULL, "PATH", "Undelete -versions (v2)", NULL},
    {"destroy", cmd_kv_destroy, NULL, "PATH", "Destroy -versions for good (v2)", NULL},
    {"rollback", cmd_kv_rollback, NULL, "PATH", "Write an older -version as the newest (v2)",
     "Read -version and write its data as a new version, with check-and-set on the version\n"
     "that was current, so a concurrent write is never overwritten."},
    {"rotate", cmd_kv_rotate, NULL, "PATH KEY", "Set KEY to a new random value (v2)",
     "Read the latest version, set KEY to -length random characters from -charset (the\n"
     "other keys kept) and write a new version with check-and-set on the version read. If\n"
     "someone else wrote in between, nothing is written: the conflict is reported with exit\n"
     "code 1, or with -retries=N the secret is read again and the rotation retried up to N\n"
     "times. The new value is never printed: read it with kv get -field=KEY."},
    {"metadata", NULL, cli_kv_meta_cmds, NULL, "Read and change the metadata of a secret (v2)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
