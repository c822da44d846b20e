/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: cofferd's configuration file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "/tmp/coffer-fuzz-config-XXXXXX";
	static int fd = -1;
	struct config cfg;
	char err[512];

	if (fd < 0) {
		coffer_json_init();
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		unlink(path); /* reached through /proc/self/fd below */
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_init(&cfg);
	if (config_load_file(&cfg, path, err, sizeof(err)) == 0)
		(void)config_validate(&cfg, err, sizeof(err));
	config_free(&cfg);
	return 0;
}
