/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_operator.c: `coffer status` and `coffer operator init|unseal|seal|rotate|key-status`, over
 * the raw seal routes and sys/rotate, sys/key-status (API.md "Seal and status"). Unseal keys are
 * read from stdin or a prompt without echo, never needed on the command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "secmem.h"

/* The seal status fields in the Vault CLI's order and words. */
static const struct {
	const char *label, *key;
} cmd_seal_fields[] = {
    {"Seal Type", "type"},
    {"Initialized", "initialized"},
    {"Sealed", "sealed"},
    {"Total Shares", "n"},
    {"Threshold", "t"},
    {"Unseal Progress", "progress"},
    {"Unseal Nonce", "nonce"},
    {"Version", "version"},
    {"Storage Type", "storage_type"},
    {"Cluster Name", "cluster_name"},
    {"Cluster ID", "cluster_id"},
    {"HA Enabled", "ha_enabled"},
    {"HA Cluster", "ha_cluster"},
    {"HA Mode", "ha_mode"},
    {"Active Since", "active_time"},
    {"Active Node Address", "leader_address"},
};

/* A seal status (raw route, no envelope) in the output format. */
static void cmd_seal_status_print(const json_t *st)
{
	const size_t n = sizeof(cmd_seal_fields) / sizeof(cmd_seal_fields[0]);
	const json_t *v;
	int width = 16;
	size_t i;

	if (cli_output_is_json()) {
		cli_print_json(st);
		return;
	}
	for (i = 0; i < n; i++)
		if (json_object_get(st, cmd_seal_fields[i].key) != NULL &&
		    (int)strlen(cmd_seal_fields[i].label) > width)
			width = (int)strlen(cmd_seal_fields[i].label);
	printf("%-*s    Value\n%-*s    -----\n", width, "Key", width, "---");
	for (i = 0; i < n; i++) {
		v = json_object_get(st, cmd_seal_fields[i].key);
		if (v == NULL)
			continue;
		printf("%-*s    ", width, cmd_seal_fields[i].label);
		cli_print_value(stdout, v);
		putchar('\n');
	}
}

/* Add what sys/leader says to an unsealed node's status, as the Vault CLI shows it: HA Enabled,
 * and with HA the mode (active or standby), the cluster address, since when the active node is
 * active and, on a standby, where it is. */
static void cmd_status_add_ha(json_t *st)
{
	json_t *l = NULL, *v;
	bool is_self;

	if (!json_is_false(json_object_get(st, "sealed")) ||
	    cli_client_call("GET", "sys/leader", NULL, &l) != CLI_EXIT_OK || !json_is_object(l)) {
		json_decref(l);
		return;
	}
	json_object_set(st, "ha_enabled", json_object_get(l, "ha_enabled"));
	if (json_is_true(json_object_get(l, "ha_enabled"))) {
		is_self = json_is_true(json_object_get(l, "is_self"));
		json_object_set_new(st, "ha_mode", json_string(is_self ? "active" : "standby"));
		if ((v = json_object_get(l, "leader_cluster_address")) != NULL &&
		    json_string_length(v) > 0)
			json_object_set(st, "ha_cluster", v);
		if (is_self && (v = json_object_get(l, "active_time")) != NULL)
			json_object_set(st, "active_time", v);
		if (!is_self && (v = json_object_get(l, "leader_address")) != NULL)
			json_object_set(st, "leader_address", v);
	}
	json_decref(l);
}

/* status: 0 unsealed, 2 sealed, 1 error (the Vault CLI's codes). */
int cmd_status(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("GET", "sys/seal-status", NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return CLI_EXIT_ERROR;
	if (!json_is_object(resp)) {
		fprintf(stderr, "Error: sys/seal-status: the answer is not JSON\n");
		json_decref(resp);
		return CLI_EXIT_ERROR;
	}
	cmd_status_add_ha(resp);
	cmd_seal_status_print(resp);
	rc = json_is_false(json_object_get(resp, "sealed")) ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	json_decref(resp);
	return rc;
}

/* The shares and root token of sys/init, for people. */
static void cmd_operator_init_print(const json_t *resp, long long shares, long long threshold)
{
	const json_t *keys = json_object_get(resp, "keys");
	size_t i;
	json_t *k;

	json_array_foreach(keys, i, k)
	{
		printf("Unseal Key %zu: ", i + 1);
		cli_print_value(stdout, k);
		putchar('\n');
	}
	printf("\nInitial Root Token: ");
	cli_print_value(stdout, json_object_get(resp, "root_token"));
	printf(
	    "\n\nCoffer is initialized with %lld key share%s and a key threshold of %lld. It is\n"
	    "sealed: run \"coffer operator unseal\" with %lld of these keys. Keep the keys and "
	    "the\n"
	    "root token apart and safe; the server never shows them again.\n",
	    shares, shares == 1 ? "" : "s", threshold, threshold);
}

static int cmd_operator_init(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *shares_s = NULL, *threshold_s = NULL;
	const struct cli_flag flags[] = {
	    {"key-shares", CLI_FLAG_STRING, &shares_s, "N",
	     "Unseal key shares to make (default 5)."},
	    {"key-threshold", CLI_FLAG_STRING, &threshold_s, "T",
	     "Shares needed to unseal (default 3)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	long long shares = 5, threshold = 3;
	json_t *body, *resp = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, 0, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((shares_s && cli_args_int(name, "key-shares", shares_s, 1, 255, &shares) != 0) ||
	    (threshold_s && cli_args_int(name, "key-threshold", threshold_s, 1, 255, &threshold)))
		return CLI_EXIT_USAGE;
	body = json_pack("{s:I, s:I}", "secret_shares", (json_int_t)shares, "secret_threshold",
	                 (json_int_t)threshold);
	rc = cli_client_call("PUT", "sys/init", body, &resp);
	if (rc == CLI_EXIT_OK && cli_output_is_json())
		cli_print_json(resp);
	else if (rc == CLI_EXIT_OK)
		cmd_operator_init_print(resp, shares, threshold);
	json_decref(resp);
	json_decref(body);
	return rc;
}

static int cmd_operator_unseal(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	bool is_reset = false;
	const struct cli_flag flags[] = {
	    {"reset", CLI_FLAG_BOOL, &is_reset, NULL, "Forget the shares given so far."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *key = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (is_reset) {
		body = json_pack("{s:b}", "reset", 1);
	} else {
		key = cli_values_secret(n_args ? argv[1] : NULL, "unseal key",
		                        "Unseal Key (will be hidden): ");
		if (key == NULL)
			return CLI_EXIT_ERROR;
		body = json_pack("{s:s}", "key", key);
		secmem_free(key);
	}
	rc = cli_client_call("PUT", "sys/unseal", body, &resp);
	if (rc == CLI_EXIT_OK)
		cmd_seal_status_print(resp);
	json_decref(resp);
	json_decref(body);
	return rc;
}

/* seal and rotate: a PUT with no answer, a line, then (show may be NULL) the answer of GET show. */
static int cmd_operator_put(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                            const char *path, const char *done, const char *show)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("PUT", path, NULL, &resp);
	if (rc == CLI_EXIT_OK)
		cli_print_success("%s", done);
	json_decref(resp);
	resp = NULL;
	if (rc == CLI_EXIT_OK && show != NULL)
		rc = cli_client_call("GET", show, NULL, &resp);
	if (rc == CLI_EXIT_OK && show != NULL)
		rc = cli_print_response(resp, NULL, NULL);
	json_decref(resp);
	return rc;
}

static int cmd_operator_seal(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_operator_put(cmd, name, argc, argv, "sys/seal", "Coffer is sealed.", NULL);
}

static int cmd_operator_rotate(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_operator_put(cmd, name, argc, argv, "sys/rotate",
	                        "Rotated the encryption key; new writes use the new term.",
	                        "sys/key-status");
}

static int cmd_operator_key_status(const struct cli_cmd *cmd, const char *name, int argc,
                                   char **argv)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("GET", "sys/key-status", NULL, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, NULL, NULL);
	json_decref(resp);
	return rc;
}

const struct cli_cmd cli_operator_cmds[] = {
    {"init", cmd_operator_init, NULL, NULL, "Initialize a new server",
     "Make the root key and split the unseal key into -key-shares shares, any\n"
     "-key-threshold of which unseal. Prints the shares and the initial root token once."},
    {"unseal", cmd_operator_unseal, NULL, "[KEY|-|@FILE]", "Give one unseal key share",
     "Send one share. Without KEY (or with -) the share is read from stdin, with a prompt\n"
     "and no echo on a terminal; a KEY on the command line would stay in the shell history."},
    {"seal", cmd_operator_seal, NULL, NULL, "Seal the server (needs sudo)", NULL},
    {"rotate", cmd_operator_rotate, NULL, NULL, "Add a new encryption key term (needs sudo)", NULL},
    {"key-status", cmd_operator_key_status, NULL, NULL, "Show the current key term", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
