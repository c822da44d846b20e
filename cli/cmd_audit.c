/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c: the `coffer audit` commands. verify checks a file audit device's hash chain and its
 * signed checkpoints with common/audit_chain.c, against a key given or fetched from the server and
 * the head the server recorded; key prints that key; enable, disable and list go to sys/audit
 * through mounts.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_chain.h"
#include "cli.h"

/* What verify trusts and where it came from. */
struct cmd_audit_trust {
	uint8_t pk[AUDIT_PK_LEN];
	bool has_key;
	const char *key_source; /* "flag" or "server" */
	struct audit_verify_opts opts;
	char head_device[AUDIT_CKPT_FIELD_MAX]; /* the device whose head was checked ("" none) */
	char note[320];                         /* why the head was not checked */
};

/* The result as one JSON object; file, line and reason are null when the log verifies. */
static void cmd_audit_verify_print_json(const struct audit_verify_result *res, int n_files,
                                        const struct cmd_audit_trust *t)
{
	json_t *obj, *warnings = json_array();
	bool is_ok = res->is_ok;

	for (int i = 0; warnings != NULL && i < res->n_warnings; i++)
		json_array_append_new(warnings, json_string(res->warnings[i]));
	if (warnings != NULL && t->note[0] != '\0')
		json_array_append_new(warnings, json_string(t->note));
	obj = json_pack(
	    "{s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o*}", "ok", is_ok, "files", n_files,
	    "lines", (json_int_t)res->n_lines, "first_seq", (json_int_t)res->first_seq, "last_seq",
	    (json_int_t)res->last_seq, "checkpoints", (json_int_t)res->n_checkpoints, "signed_seq",
	    (json_int_t)res->signed_seq, "unsigned_lines", (json_int_t)res->unsigned_lines,
	    "closed", res->is_closed, "warnings", warnings);
	if (obj == NULL) {
		fprintf(stderr, "coffer: out of memory\n");
		return;
	}
	json_object_set_new(obj, "key_source",
	                    t->has_key ? json_string(t->key_source) : json_null());
	json_object_set_new(obj, "head_seq",
	                    t->opts.has_head ? json_integer((json_int_t)t->opts.head_seq)
	                                     : json_null());
	json_object_set_new(obj, "file", is_ok ? json_null() : json_string(res->file));
	json_object_set_new(obj, "line",
	                    is_ok || res->line == 0 ? json_null()
	                                            : json_integer((json_int_t)res->line));
	json_object_set_new(obj, "reason", is_ok ? json_null() : json_string(res->reason));
	json_dumpf(obj, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(obj);
}

static void cmd_audit_verify_print_table(const struct audit_verify_result *res, int n_files,
                                         const struct cmd_audit_trust *t)
{
	if (!res->is_ok) {
		if (res->line == 0)
			fprintf(stderr, "%s: %s\n", res->file, res->reason);
		else
			fprintf(stderr, "%s:%llu: %s\n", res->file, (unsigned long long)res->line,
			        res->reason);
		return;
	}
	for (int i = 0; i < res->n_warnings; i++)
		fprintf(stderr, "warning: %s\n", res->warnings[i]);
	if (t->note[0] != '\0')
		fprintf(stderr, "warning: %s\n", t->note);
	printf("ok: %d file%s, %llu line%s", n_files, n_files == 1 ? "" : "s",
	       (unsigned long long)res->n_lines, res->n_lines == 1 ? "" : "s");
	if (res->n_lines > 0)
		printf(", seq %llu..%llu", (unsigned long long)res->first_seq,
		       (unsigned long long)res->last_seq);
	printf(", %llu signed checkpoint%s", (unsigned long long)res->n_checkpoints,
	       res->n_checkpoints == 1 ? "" : "s");
	if (t->opts.has_head)
		printf(", reaches the head %s recorded (seq %llu)", t->head_device,
		       (unsigned long long)t->opts.head_seq);
	printf("\n");
}

/* -key=BASE64 or -key=@FILE into t. An exit code (CLI_EXIT_USAGE after a message) or 0. */
static int cmd_audit_key_flag(const char *name, const char *arg, struct cmd_audit_trust *t)
{
	char text[256];
	size_t n = 0;
	FILE *fp;

	if (arg[0] == '@') {
		fp = fopen(arg + 1, "re");
		if (fp == NULL) {
			fprintf(stderr, "%s: -key: cannot read %s: %s\n", name, arg + 1,
			        strerror(errno));
			return CLI_EXIT_ERROR;
		}
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
		text[n] = '\0';
		arg = text;
	}
	if (audit_pk_decode(arg, t->pk) != 0) {
		fprintf(stderr,
		        "%s: -key: not an Ed25519 public key in base64 (coffer audit key "
		        "prints it)\n",
		        name);
		return CLI_EXIT_USAGE;
	}
	t->has_key = true;
	t->key_source = "flag";
	return 0;
}

/* The device of sys/audit whose file is path (or whose name is device), or NULL. */
static const char *cmd_audit_find_device(json_t *devices, const char *device, const char *path,
                                         json_t **entry)
{
	char want[PATH_MAX], have[PATH_MAX];
	const char *key;
	json_t *e;

	if (device == NULL && realpath(path, want) == NULL)
		return NULL;
	json_object_foreach(devices, key, e)
	{
		const char *fp =
		    json_string_value(json_object_get(json_object_get(e, "options"), "file_path"));

		if (!json_is_object(e))
			continue;
		if (device != NULL
		        ? strncmp(key, device, strcspn(device, "/")) == 0 &&
		              key[strcspn(device, "/")] == '/'
		        : fp != NULL && realpath(fp, have) != NULL && strcmp(want, have) == 0) {
			*entry = e;
			return key;
		}
	}
	return NULL;
}

/* The head the server recorded for the device that writes last_file (or -device). */
static void cmd_audit_server_head(struct cmd_audit_trust *t, const char *device,
                                  const char *last_file)
{
	json_t *resp = NULL, *entry = NULL, *head;
	const char *name, *hash;
	long status = 0;

	if (cli_client_send("GET", "sys/audit", NULL, &status, &resp) != CLI_EXIT_OK ||
	    status != 200) {
		snprintf(t->note, sizeof(t->note),
		         "the server did not list its audit devices (HTTP %ld; sys/audit needs "
		         "sudo): the log's end was not checked against the head it recorded",
		         status);
		goto out;
	}
	name = cmd_audit_find_device(json_object_get(resp, "data"), device, last_file, &entry);
	if (name == NULL) {
		snprintf(t->note, sizeof(t->note),
		         "%s is not the file of %s on this server: the log's end was not checked "
		         "against the head it recorded",
		         last_file, device != NULL ? device : "any audit device");
		goto out;
	}
	head = json_object_get(entry, "head");
	hash = json_string_value(json_object_get(head, "hash"));
	if (!json_is_object(head) || hash == NULL ||
	    audit_prev_parse(hash, strlen(hash), &t->opts.head_alg, t->opts.head_hash) != 0) {
		snprintf(t->note, sizeof(t->note), "%s has recorded no head yet", name);
		goto out;
	}
	t->opts.has_head = true;
	t->opts.head_seq = (uint64_t)json_integer_value(json_object_get(head, "seq"));
	snprintf(t->head_device, sizeof(t->head_device), "%s", name);
out:
	json_decref(resp);
}

/* Ask the server for its key (unless -key gave one) and for the head of the device. False when
 * it could not be reached (a message was printed). */
static bool cmd_audit_ask_server(struct cmd_audit_trust *t, const char *device,
                                 const char *last_file)
{
	json_t *resp = NULL;
	const char *pk;
	long status = 0;

	if (cli_client_send("GET", "sys/audit-key", NULL, &status, &resp) != CLI_EXIT_OK)
		return false;
	pk = json_string_value(json_object_get(json_object_get(resp, "data"), "public_key"));
	if (!t->has_key && status == 200 && pk != NULL && audit_pk_decode(pk, t->pk) == 0) {
		t->has_key = true;
		t->key_source = "server";
	}
	json_decref(resp);
	/* The head first, the files after: a head read later could be past what was read. */
	cmd_audit_server_head(t, device, last_file);
	return true;
}

/*
 * coffer audit verify [-key=K] [-offline] [-device=D] [-format=table|json] FILE...: 0 verified
 * (warnings aside), 1 broken, unreadable or no key to trust, 2 usage.
 */
static int cmd_audit_verify(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *key = NULL, *device = NULL;
	bool is_offline = false;
	const struct cli_flag flags[] = {
	    {"key", CLI_FLAG_STRING, &key, "BASE64|@FILE",
	     "The server's public key (coffer audit key) to check the signatures with."},
	    {"offline", CLI_FLAG_BOOL, &is_offline, NULL,
	     "Do not ask the server (COFFER_ADDR) for its key and its recorded head."},
	    {"device", CLI_FLAG_STRING, &device, "PATH",
	     "The audit device (e.g. file/) whose head the last FILE must reach (default: the "
	     "device that writes to it)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END};
	struct cmd_audit_trust t = {0};
	struct audit_verify_result res;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (n_args == 0)
		return cli_usage_error(cmd, name, flags, "no FILE given");
	if (key != NULL && (rc = cmd_audit_key_flag(name, key, &t)) != 0)
		return rc;
	if (!is_offline && !cmd_audit_ask_server(&t, device, argv[n_args]))
		fprintf(stderr, "%s: the server cannot be reached: verifying offline\n", name);
	if (!t.has_key) {
		fprintf(stderr,
		        "%s: no key to trust: give -key=BASE64|@FILE (coffer audit key "
		        "prints it), or let the server be reached (COFFER_ADDR, a token)\n",
		        name);
		return CLI_EXIT_ERROR;
	}
	t.opts.public_key = t.pk;
	rc = audit_verify_files_signed((const char *const *)(argv + 1), (size_t)n_args, &t.opts,
	                               &res);
	if (rc != 0) {
		/* The check could not run: a file is unreadable, or memory ran out. */
		fprintf(stderr, "%s: %s: %s\n", name, res.file[0] ? res.file : "(none)",
		        res.reason[0] ? res.reason : "verification failed");
		res.is_ok = false;
	}
	if (cli_output_is_json())
		cmd_audit_verify_print_json(&res, n_args, &t);
	else if (rc == 0)
		cmd_audit_verify_print_table(&res, n_args, &t);
	return res.is_ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* coffer audit key: the public key that verifies the logs' checkpoints. */
static int cmd_audit_key(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("GET", "sys/audit-key", NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_output_is_json())
		cli_print_json(resp);
	else if (json_is_string(json_object_get(json_object_get(resp, "data"), "public_key")))
		printf("%s\n", json_string_value(
		                   json_object_get(json_object_get(resp, "data"), "public_key")));
	else
		rc = CLI_EXIT_ERROR;
	json_decref(resp);
	return rc;
}

static int cmd_audit_enable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_enable(cmd, name, argc, argv, "sys/audit");
}

static int cmd_audit_disable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_disable(cmd, name, argc, argv, "sys/audit");
}

static int cmd_audit_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	static const char *const cols[] = {"type", "description", "options", NULL};

	return cli_mounts_list(cmd, name, argc, argv, "sys/audit", cols);
}

const struct cli_cmd cli_audit_cmds[] = {
    {"enable", cmd_audit_enable, NULL, "TYPE [file_path=PATH]", "Enable an audit device",
     "Enable an audit device of TYPE (file) at -path (default: TYPE), e.g.\n"
     "  coffer audit enable file file_path=/var/log/coffer/audit.log\n"
     "The server allows this only with \"allow_api_audit\" and inside its \"audit_dir\";\n"
     "devices are usually declared in its config file."},
    {"disable", cmd_audit_disable, NULL, "PATH", "Disable an audit device", NULL},
    {"list", cmd_audit_list, NULL, NULL, "List the audit devices", NULL},
    {"key", cmd_audit_key, NULL, NULL, "Print the public key that signs the audit logs",
     "Print the server's Ed25519 public key (base64) from sys/audit-key: give it to\n"
     "`coffer audit verify -key=...` where the server cannot be reached. Keep a copy\n"
     "from a source you trust: a log is only as trustworthy as the key it is checked with."},
    {"verify", cmd_audit_verify, NULL, "FILE...", "Check audit log files: chain and signatures",
     "Check a file audit device's log: every line must follow the one before it by seq and\n"
     "by BLAKE2b hash, the first line of every file must be a header signed by the server,\n"
     "and every signed checkpoint must verify with the trusted key (-key, else the one the\n"
     "server gives). Unless -offline, the server is also asked for the head it recorded for\n"
     "the device that writes to the last FILE: a log that ends before it was cut. Give\n"
     "rotated files oldest first; the chain continues across them. The first problem is\n"
     "printed to stderr as FILE:LINE: reason and the exit code is 1 (also when no key can\n"
     "be trusted). An intact log exits 0; lines after the last checkpoint (a live file's\n"
     "last second) or a log not ended by a closing checkpoint are warnings."},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
