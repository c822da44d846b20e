/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_kv_meta.c: `coffer kv metadata get|put|delete` over KV v2's metadata routes (API.md): the
 * versions of a secret and its settings (max_versions, cas_required, delete_version_after,
 * custom_metadata).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Print metadata: its settings, then one section per version. */
static void cmd_kv_meta_print(const json_t *data)
{
	json_t *settings = json_deep_copy(data), *v;
	const json_t *versions = json_object_get(data, "versions");
	const char *key;
	char title[64];

	json_object_del(settings, "versions");
	cli_print_section("Metadata");
	cli_print_table(settings);
	json_object_foreach((json_t *)versions, key, v)
	{
		snprintf(title, sizeof(title), "Version %s", key);
		cli_print_section(title);
		cli_print_table(v);
	}
	json_decref(settings);
}

/* [-mount M] PATH: send method to PATH's metadata. CLI_CONTINUE when it was answered (the
 * answer in *resp, the resolved path in p), else the exit code (the help, or an error already
 * reported). The caller frees *resp and p, whatever the result. */
static int cmd_kv_meta_send(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                            const char *method, struct cli_kv_path *p, json_t **resp)
{
	const char *mount = NULL;
	const struct cli_flag flags[] = {CLI_FLAG_KV_MOUNT(&mount), CLI_FLAG_FORMAT, CLI_FLAG_END};
	int n_args, rc;

	memset(p, 0, sizeof(*p));
	*resp = NULL;
	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_kv_path_resolve(mount, argv[1], "metadata", "kv metadata", p);
	if (rc == CLI_EXIT_OK)
		rc = cli_client_call(method, p->api, NULL, resp);
	return rc == CLI_EXIT_OK ? CLI_CONTINUE : rc;
}

static int cmd_kv_meta_get(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	struct cli_kv_path p;
	json_t *resp;
	int rc = cmd_kv_meta_send(cmd, name, argc, argv, "GET", &p, &resp);

	if (rc == CLI_CONTINUE) {
		if (cli_output_is_json())
			cli_print_json(resp);
		else
			cmd_kv_meta_print(json_object_get(resp, "data"));
		rc = CLI_EXIT_OK;
	}
	json_decref(resp);
	cli_kv_path_free(&p);
	return rc;
}

/* Add the integer setting value (a flag, may be NULL) to body; -1 after a message. */
static int cmd_kv_meta_int(json_t *body, const char *name, const char *key, const char *value)
{
	long long n;

	if (value == NULL)
		return 0;
	if (cli_args_int(name, key, value, 0, 1LL << 31, &n) != 0)
		return -1;
	return json_object_set_new(body, key, json_integer(n));
}

/* The body of metadata put from its flags; NULL after a message. */
static json_t *cmd_kv_meta_body(const char *name, const char *max_versions, const char *cas_req,
                                const char *delete_after, const struct cli_flag_list *custom)
{
	json_t *body = json_object(), *cm = json_object();
	const char *eq;
	char key[256];
	int i;

	if (cmd_kv_meta_int(body, name, "max_versions", max_versions) != 0)
		goto fail;
	if (cas_req != NULL && strcmp(cas_req, "true") != 0 && strcmp(cas_req, "false") != 0) {
		fprintf(stderr, "%s: -cas-required takes true or false\n", name);
		goto fail;
	}
	if (cas_req != NULL)
		json_object_set_new(body, "cas_required",
		                    json_boolean(strcmp(cas_req, "true") == 0));
	if (delete_after != NULL)
		json_object_set_new(body, "delete_version_after", json_string(delete_after));
	for (i = 0; i < custom->n; i++) {
		eq = strchr(custom->items[i], '=');
		if (eq == NULL || eq == custom->items[i] ||
		    (size_t)(eq - custom->items[i]) >= sizeof(key)) {
			fprintf(stderr, "%s: -custom-metadata takes KEY=VALUE\n", name);
			goto fail;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - custom->items[i]), custom->items[i]);
		json_object_set_new(cm, key, json_string(eq + 1));
	}
	if (custom->n > 0)
		json_object_set(body, "custom_metadata", cm);
	json_decref(cm);
	return body;
fail:
	json_decref(cm);
	json_decref(body);
	return NULL;
}

static int cmd_kv_meta_put(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *mount = NULL, *max_versions = NULL, *cas_req = NULL, *delete_after = NULL;
	struct cli_flag_list custom = {{NULL}, 0};
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"max-versions", CLI_FLAG_STRING, &max_versions, "N",
	     "Versions to keep (0: the mount's setting)."},
	    {"cas-required", CLI_FLAG_STRING, &cas_req, "true|false",
	     "Require check-and-set on every write."},
	    {"delete-version-after", CLI_FLAG_STRING, &delete_after, "DURATION",
	     "Delete versions this long after they are written (\"0s\": never)."},
	    {"custom-metadata", CLI_FLAG_LIST, &custom, "KEY=VALUE",
	     "Custom metadata; replaces all of it."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	json_t *body, *resp = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	body = cmd_kv_meta_body(name, max_versions, cas_req, delete_after, &custom);
	if (body == NULL)
		return CLI_EXIT_USAGE;
	rc = cli_kv_path_resolve(mount, argv[1], "metadata", "kv metadata", &p);
	if (rc == CLI_EXIT_OK)
		rc = cli_client_call("POST", p.api, body, &resp);
	if (rc == CLI_EXIT_OK)
		cli_print_success("Metadata written to: %s", p.text);
	json_decref(resp);
	json_decref(body);
	cli_kv_path_free(&p);
	return rc;
}

static int cmd_kv_meta_delete(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	struct cli_kv_path p;
	json_t *resp;
	int rc = cmd_kv_meta_send(cmd, name, argc, argv, "DELETE", &p, &resp);

	if (rc == CLI_CONTINUE) {
		cli_print_success("All versions and metadata deleted at: %s", p.text);
		rc = CLI_EXIT_OK;
	}
	json_decref(resp);
	cli_kv_path_free(&p);
	return rc;
}

const struct cli_cmd cli_kv_meta_cmds[] = {
    {"get", cmd_kv_meta_get, NULL, "PATH", "Show the versions and settings of a secret", NULL},
    {"put", cmd_kv_meta_put, NULL, "PATH", "Change the settings of a secret", NULL},
    {"delete", cmd_kv_meta_delete, NULL, "PATH", "Delete a secret with all its versions", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
