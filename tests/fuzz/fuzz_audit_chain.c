/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: audit log files as `coffer audit verify` and the server's restart read them. A
 * log that verifies must have a tail with its last sequence number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_result res;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t seq = 0;
	char path[64];
	const char *paths[1] = {path};
	int fd = memfd_create("audit", MFD_CLOEXEC), rc;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = audit_verify_files(paths, 1, &res);
	if (rc == 0 && res.is_ok && res.n_lines > 0 &&
	    (audit_chain_tail(path, &seq, hash) != 0 || seq != res.last_seq))
		abort();
	close(fd);
	return 0;
}
