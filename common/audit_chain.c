/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_chain.c: hashing, verification and the restart tail of the audit hash chain (see
 * audit_chain.h for the line format). server/audit*.c writes chains with it; cli/cmd_audit.c
 * verifies them. Files are streamed line by line, so neither a file nor a line has a size limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit_chain.h"
#include "codec.h"

/* Chunk size for reading a file backwards from its end (audit_chain_tail). */
#define AUDIT_TAIL_CHUNK 4096

/* Where a walk through the chain is: the last line that passed, for the next one to follow. */
struct audit_walk {
	bool has_prev;
	uint64_t prev_seq;
	uint8_t prev_hash[AUDIT_HASH_LEN];
	const char *prev_path; /* file of the previous line, for messages */
	uint64_t prev_line;
	bool is_broken; /* a problem was recorded in the result; stop */
};

void audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
	crypto_generichash(out, AUDIT_HASH_LEN, (const unsigned char *)line, len, NULL, 0);
}

void audit_prev_text(const uint8_t hash[AUDIT_HASH_LEN], char out[AUDIT_PREV_TEXT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out + sizeof(AUDIT_PREV_PREFIX) - 1;

	/* A table, not sodium_bin2hex: a line's hash is no secret, and the server formats it under
	 * the chain's lock. */
	memcpy(out, AUDIT_PREV_PREFIX, sizeof(AUDIT_PREV_PREFIX) - 1);
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
		*p++ = hex[hash[i] >> 4];
		*p++ = hex[hash[i] & 15];
	}
	*p = '\0';
}

/* "blake2b:" and exactly 64 lowercase hex digits: the one spelling the server writes. */
static bool audit_prev_is_wellformed(const char *s, size_t len)
{
	size_t i;

	if (len != AUDIT_PREV_TEXT_LEN ||
	    memcmp(s, AUDIT_PREV_PREFIX, sizeof(AUDIT_PREV_PREFIX) - 1) != 0)
		return false;
	for (i = sizeof(AUDIT_PREV_PREFIX) - 1; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/*
 * Parse one line (without its newline) down to what the chain needs: its seq, and its prev text
 * into prev when prev is not NULL. COFFER_ERR_INVALID with a message in reason when the line is not
 * a JSON object with an integer seq >= 1 and a well-formed prev string.
 */
static int audit_parse_line(const char *line, size_t len, uint64_t *seq,
                            char prev[AUDIT_PREV_TEXT_LEN + 1], char *reason, size_t reason_len)
{
	json_error_t jerr;
	json_t *root, *v;
	int rc = COFFER_ERR_INVALID;

	/* The server serialises with jansson, so any line it wrote parses back with these flags. */
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (root == NULL || !json_is_object(root)) {
		snprintf(reason, reason_len, "not a JSON object");
		goto out;
	}
	v = json_object_get(root, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		snprintf(reason, reason_len, "seq is missing or not an integer >= 1");
		goto out;
	}
	*seq = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "prev");
	if (!json_is_string(v) ||
	    !audit_prev_is_wellformed(json_string_value(v), json_string_length(v))) {
		snprintf(reason, reason_len,
		         "prev is missing or not \"blake2b:<64 lowercase hex>\"");
		goto out;
	}
	if (prev != NULL)
		memcpy(prev, json_string_value(v), AUDIT_PREV_TEXT_LEN + 1);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int audit_chain_link(const char *line, size_t len, uint64_t *seq, uint8_t prev[AUDIT_HASH_LEN])
{
	char text[AUDIT_PREV_TEXT_LEN + 1], reason[64];
	const char *hex = text + sizeof(AUDIT_PREV_PREFIX) - 1;
	size_t n = 0;

	if (audit_parse_line(line, len, seq, text, reason, sizeof(reason)) != 0)
		return COFFER_ERR_INVALID;
	if (codec_hex_decode(prev, AUDIT_HASH_LEN, &n, hex, strlen(hex)) != 0 ||
	    n != AUDIT_HASH_LEN)
		return COFFER_ERR_INVALID;
	return 0;
}

/* Record the first problem: where it is and why. */
__attribute__((format(printf, 4, 5))) static void
audit_fail(struct audit_verify_result *out, const char *path, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	out->is_ok = false;
	snprintf(out->file, sizeof(out->file), "%s", path);
	out->line = line;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/*
 * Check one complete line (len bytes, newline removed) against the walk so far and advance the
 * walk. On a problem, record it in out and mark the walk broken.
 */
static void audit_check_line(struct audit_walk *w, const char *path, uint64_t line_no,
                             const char *line, size_t len, struct audit_verify_result *out)
{
	char prev[AUDIT_PREV_TEXT_LEN + 1], want[AUDIT_PREV_TEXT_LEN + 1];
	char reason[sizeof(out->reason)];
	uint8_t zero[AUDIT_HASH_LEN] = {0};
	uint64_t seq;

	if (audit_parse_line(line, len, &seq, prev, reason, sizeof(reason)) != 0) {
		audit_fail(out, path, line_no, "%s", reason);
		goto broken;
	}
	if (w->has_prev && seq != w->prev_seq + 1) {
		audit_fail(out, path, line_no, "seq %" PRIu64 " follows seq %" PRIu64 " (%s)", seq,
		           w->prev_seq,
		           seq > w->prev_seq ? "a line is missing or moved"
		                             : "a line is repeated or moved");
		goto broken;
	}
	if (w->has_prev || seq == 1) {
		audit_prev_text(w->has_prev ? w->prev_hash : zero, want);
		if (strcmp(prev, want) != 0) {
			if (!w->has_prev)
				audit_fail(out, path, line_no,
				           "seq 1 starts the chain but prev is not zero");
			else if (w->prev_path == path)
				audit_fail(out, path, line_no,
				           "prev hash does not match line %" PRIu64, w->prev_line);
			else
				audit_fail(out, path, line_no,
				           "prev hash does not match line %" PRIu64 " of %s",
				           w->prev_line, w->prev_path);
			goto broken;
		}
	}
	audit_line_hash(line, len, w->prev_hash);
	w->prev_seq = seq;
	w->prev_path = path;
	w->prev_line = line_no;
	if (!w->has_prev)
		out->first_seq = seq;
	w->has_prev = true;
	out->last_seq = seq;
	out->n_lines++;
	return;
broken:
	w->is_broken = true;
}

/* Stream one file through the walk. 0 (see w->is_broken), or COFFER_ERR_IO / COFFER_ERR_NOMEM. */
static int audit_verify_file(struct audit_walk *w, const char *path,
                             struct audit_verify_result *out)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t line_no = 0;
	int rc = 0;

	fp = fopen(path, "re");
	if (fp == NULL) {
		audit_fail(out, path, 0, "cannot open: %s", strerror(errno));
		return COFFER_ERR_IO;
	}
	while (!w->is_broken && (n = getline(&line, &cap, fp)) > 0) {
		line_no++;
		if (line[n - 1] != '\n') {
			audit_fail(out, path, line_no, "last line is incomplete (truncated)");
			w->is_broken = true;
			break;
		}
		audit_check_line(w, path, line_no, line, (size_t)n - 1, out);
	}
	if (!w->is_broken && ferror(fp)) {
		rc = errno == ENOMEM ? COFFER_ERR_NOMEM : COFFER_ERR_IO;
		audit_fail(out, path, line_no + 1, "cannot read: %s", strerror(errno));
	}
	free(line);
	fclose(fp);
	return rc;
}

int audit_verify_files(const char *const *paths, size_t n_paths, struct audit_verify_result *out)
{
	struct audit_walk w = {0};
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n_paths == 0)
		return COFFER_ERR_INVALID;
	for (i = 0; i < n_paths && !w.is_broken; i++) {
		rc = audit_verify_file(&w, paths[i], out);
		if (rc != 0)
			return rc;
	}
	out->is_ok = !w.is_broken;
	return 0;
}

/* Read exactly len bytes at off. A short read means the file shrank under us: an I/O error. */
static int audit_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return COFFER_ERR_IO;
		done += (size_t)n;
	}
	return 0;
}

/* The offset of the last '\n' before offset end into *pos; COFFER_ERR_NOT_FOUND if none. */
static int audit_find_nl_back(int fd, off_t end, off_t *pos)
{
	char buf[AUDIT_TAIL_CHUNK];
	const char *nl;
	size_t len;
	int rc;

	while (end > 0) {
		len = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
		end -= (off_t)len;
		rc = audit_pread_full(fd, buf, len, end);
		if (rc != 0)
			return rc;
		nl = memrchr(buf, '\n', len);
		if (nl != NULL) {
			*pos = end + (nl - buf);
			return 0;
		}
	}
	return COFFER_ERR_NOT_FOUND;
}

int audit_chain_tail(const char *path, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
	char reason[128];
	struct stat st;
	off_t last_nl, prev_nl, start;
	char *line = NULL;
	size_t len;
	uint64_t s;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? COFFER_ERR_NOT_FOUND : COFFER_ERR_IO;
	if (fstat(fd, &st) != 0) {
		rc = COFFER_ERR_IO;
		goto out;
	}
	/* The last complete line runs from just after the second-to-last '\n' to the last one. */
	rc = audit_find_nl_back(fd, st.st_size, &last_nl);
	if (rc != 0)
		goto out;
	rc = audit_find_nl_back(fd, last_nl, &prev_nl);
	if (rc == COFFER_ERR_NOT_FOUND)
		start = 0;
	else if (rc == 0)
		start = prev_nl + 1;
	else
		goto out;
	len = (size_t)(last_nl - start);
	line = malloc(len + 1);
	if (line == NULL) {
		rc = COFFER_ERR_NOMEM;
		goto out;
	}
	rc = audit_pread_full(fd, line, len, start);
	if (rc != 0)
		goto out;
	if (audit_parse_line(line, len, &s, NULL, reason, sizeof(reason)) != 0) {
		rc = COFFER_ERR_INTEGRITY;
		goto out;
	}
	audit_line_hash(line, len, hash);
	*seq = s;
out:
	free(line);
	close(fd);
	return rc;
}
