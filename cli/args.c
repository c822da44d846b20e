/* SPDX-License-Identifier: Apache-2.0 */
/*
 * args.c: the checks that follow flag parsing in every command (argument count, -format), and
 * number flags, so that handlers start with one call.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

int cli_args_parse(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                   int argc, char **argv, int min_args, int max_args, int *n_args)
{
	int rc;

	rc = cli_flags_parse(cmd, name, flags, argc, argv, n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_output_check() != 0)
		return cli_usage_error(cmd, name, flags,
		                       "-format (or COFFER_FORMAT) must be table or json");
	if (*n_args < min_args || (max_args >= 0 && *n_args > max_args)) {
		if (max_args == 0)
			return cli_usage_error(cmd, name, flags, "takes no arguments");
		if (min_args == max_args)
			return cli_usage_error(cmd, name, flags, "takes %d argument%s, not %d",
			                       min_args, min_args == 1 ? "" : "s", *n_args);
		if (*n_args < min_args)
			return cli_usage_error(cmd, name, flags, "needs at least %d argument%s",
			                       min_args, min_args == 1 ? "" : "s");
		return cli_usage_error(cmd, name, flags, "takes at most %d argument%s", max_args,
		                       max_args == 1 ? "" : "s");
	}
	return CLI_CONTINUE;
}

int cli_args_plain(const struct cli_cmd *cmd, const char *name, int argc, char **argv, int min_args,
                   int max_args)
{
	const struct cli_flag flags[] = {CLI_FLAG_FORMAT, CLI_FLAG_END};
	int n_args;

	return cli_args_parse(cmd, name, flags, argc, argv, min_args, max_args, &n_args);
}

int cli_args_int(const char *name, const char *flag, const char *value, long long min,
                 long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: -%s must be a whole number from %lld to %lld, not \"%s\"\n",
		        name, flag, min, max, value);
		return -1;
	}
	*out = v;
	return 0;
}
