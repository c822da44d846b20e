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
	enum audit_hash_alg alg; /* the chain's, from its first line */
	uint64_t prev_seq;
	uint8_t prev_hash[AUDIT_HASH_LEN];
	const char *prev_path; /* file of the previous line, for messages */
	uint64_t prev_line;
	bool is_broken;                       /* a problem was recorded in the result; stop */
	const struct audit_verify_opts *opts; /* NULL: the chain only */
	bool saw_head;                        /* the line at opts->head_seq was seen */
};

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* SHA-NI (CPUID leaf 7, EBX bit 29), which nettle uses when the CPU has it. */
static bool audit_cpu_has_sha(void)
{
	unsigned a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b >> 29 & 1) != 0;
}
#else
/* Elsewhere nettle (3.8) hashes SHA-256 without special instructions. */
static bool audit_cpu_has_sha(void)
{
	return false;
}
#endif

enum audit_hash_alg audit_hash_preferred(void)
{
	return audit_cpu_has_sha() ? AUDIT_HASH_SHA256 : AUDIT_HASH_BLAKE2B;
}

const char *audit_hash_name(enum audit_hash_alg alg)
{
	return alg == AUDIT_HASH_SHA256 ? "sha256" : "blake2b";
}

void audit_hash_init(struct audit_hash *h, enum audit_hash_alg alg)
{
	h->alg = alg;
	if (alg == AUDIT_HASH_SHA256)
		sha256_init(&h->u.sha256);
	else
		crypto_generichash_init(&h->u.blake2b, NULL, 0, AUDIT_HASH_LEN);
}

void audit_hash_update(struct audit_hash *h, const void *data, size_t len)
{
	if (h->alg == AUDIT_HASH_SHA256)
		sha256_update(&h->u.sha256, len, data);
	else
		crypto_generichash_update(&h->u.blake2b, data, len);
}

void audit_hash_final(struct audit_hash *h, uint8_t out[AUDIT_HASH_LEN])
{
	if (h->alg == AUDIT_HASH_SHA256)
		sha256_digest(&h->u.sha256, AUDIT_HASH_LEN, out);
	else
		crypto_generichash_final(&h->u.blake2b, out, AUDIT_HASH_LEN);
}

void audit_line_hash(enum audit_hash_alg alg, const char *line, size_t len,
                     uint8_t out[AUDIT_HASH_LEN])
{
	struct audit_hash h;

	audit_hash_init(&h, alg);
	audit_hash_update(&h, line, len);
	audit_hash_final(&h, out);
}

size_t audit_prev_text(enum audit_hash_alg alg, const uint8_t hash[AUDIT_HASH_LEN],
                       char out[AUDIT_PREV_TEXT_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	const char *name = audit_hash_name(alg);
	size_t n = strlen(name);
	char *p = out + n + 1;

	/* A table, not sodium_bin2hex: a line's hash is no secret, and the server formats it under
	 * the chain's lock. */
	memcpy(out, name, n);
	out[n] = ':';
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
		*p++ = hex[hash[i] >> 4];
		*p++ = hex[hash[i] & 15];
	}
	*p = '\0';
	return (size_t)(p - out);
}

int audit_prev_parse(const char *text, size_t len, enum audit_hash_alg *alg,
                     uint8_t hash[AUDIT_HASH_LEN])
{
	static const enum audit_hash_alg algs[] = {AUDIT_HASH_SHA256, AUDIT_HASH_BLAKE2B};
	const char *name, *hex;
	size_t n, i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		name = audit_hash_name(algs[i]);
		n = strlen(name);
		if (len == n + 1 + 2 * AUDIT_HASH_LEN && memcmp(text, name, n) == 0 &&
		    text[n] == ':')
			break;
	}
	if (i == sizeof(algs) / sizeof(algs[0]))
		return COFFER_ERR_INVALID;
	hex = text + n + 1;
	for (size_t k = 0; k < 2 * AUDIT_HASH_LEN; k++) {
		if (!((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f')))
			return COFFER_ERR_INVALID;
	}
	if (hash != NULL &&
	    codec_hex_decode(hash, AUDIT_HASH_LEN, &n, hex, 2 * AUDIT_HASH_LEN) != 0)
		return COFFER_ERR_INVALID;
	*alg = algs[i];
	return 0;
}

/* What the chain needs of one line. */
struct audit_link {
	uint64_t seq;
	enum audit_hash_alg alg;                 /* the one prev names */
	uint8_t prev[AUDIT_HASH_LEN];            /* prev, decoded */
	char prev_text[AUDIT_PREV_TEXT_MAX + 1]; /* prev as written (checkpoints sign it) */
};

/*
 * Parse one line (without its newline) down to its link. COFFER_ERR_INVALID with a message in
 * reason when the line is not a JSON object with an integer seq >= 1 and a well-formed prev string.
 */
static int audit_parse_line(const char *line, size_t len, struct audit_link *link, char *reason,
                            size_t reason_len, json_t **root_out)
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
	link->seq = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "prev");
	if (!json_is_string(v) || audit_prev_parse(json_string_value(v), json_string_length(v),
	                                           &link->alg, link->prev) != 0) {
		snprintf(reason, reason_len,
		         "prev is missing or not \"sha256:\" or \"blake2b:\" and 64 lowercase hex");
		goto out;
	}
	memcpy(link->prev_text, json_string_value(v), json_string_length(v) + 1);
	rc = 0;
	if (root_out != NULL) {
		*root_out = root;
		root = NULL;
	}
out:
	json_decref(root);
	return rc;
}

int audit_chain_link(const char *line, size_t len, uint64_t *seq, enum audit_hash_alg *alg,
                     uint8_t prev[AUDIT_HASH_LEN])
{
	struct audit_link link;
	char reason[128];

	if (audit_parse_line(line, len, &link, reason, sizeof(reason), NULL) != 0)
		return COFFER_ERR_INVALID;
	*seq = link.seq;
	*alg = link.alg;
	memcpy(prev, link.prev, AUDIT_HASH_LEN);
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

/* Whether s is a field a checkpoint may carry: 1..AUDIT_CKPT_FIELD_MAX printable characters,
 * none that JSON would escape (the server writes them as they are). */
static bool audit_ckpt_field_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > AUDIT_CKPT_FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
			return false;
	}
	return true;
}

static bool audit_ckpt_kind_ok(const char *kind)
{
	static const char *const kinds[] = {AUDIT_CKPT_HEADER, AUDIT_CKPT_PERIODIC,
	                                    AUDIT_CKPT_REOPEN, AUDIT_CKPT_SEAL,
	                                    AUDIT_CKPT_SHUTDOWN};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	}
	return false;
}

size_t audit_ckpt_message(char *out, const char *kind, const char *device, const char *time,
                          uint64_t seq, const char *prev_text)
{
	enum audit_hash_alg alg;
	int n;

	if (!audit_ckpt_kind_ok(kind) || !audit_ckpt_field_ok(device) ||
	    !audit_ckpt_field_ok(time) ||
	    audit_prev_parse(prev_text, strlen(prev_text), &alg, NULL) != 0)
		return 0;
	n = snprintf(out, AUDIT_CKPT_MSG_MAX,
	             "coffer-audit-checkpoint-v1\n%s\n%s\n%s\n%" PRIu64 "\n%s\n", kind, device,
	             time, seq, prev_text);
	return n > 0 && n < AUDIT_CKPT_MSG_MAX ? (size_t)n : 0;
}

size_t audit_ckpt_line(char *out, const uint8_t sk[AUDIT_SK_LEN], const char *kind,
                       const char *device, const char *time, uint64_t seq, const char *prev_text)
{
	char msg[AUDIT_CKPT_MSG_MAX], sig_text[AUDIT_SIG_TEXT_LEN + 1];
	uint8_t sig[AUDIT_SIG_LEN];
	size_t msg_len = audit_ckpt_message(msg, kind, device, time, seq, prev_text);
	int n;

	if (msg_len == 0)
		return 0;
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, msg_len, sk);
	memcpy(sig_text, AUDIT_SIG_PREFIX, sizeof(AUDIT_SIG_PREFIX) - 1);
	codec_b64_encode(sig_text + sizeof(AUDIT_SIG_PREFIX) - 1,
	                 sizeof(sig_text) - (sizeof(AUDIT_SIG_PREFIX) - 1), sig, sizeof(sig),
	                 CODEC_B64_STD);
	n = snprintf(out, AUDIT_CKPT_LINE_MAX,
	             "{\"time\":\"%s\",\"type\":\"checkpoint\",\"kind\":\"%s\",\"device\":\"%s\","
	             "\"sig\":\"%s\",\"seq\":%" PRIu64 ",\"prev\":\"%s\"}\n",
	             time, kind, device, sig_text, seq, prev_text);
	return n > 0 && n < AUDIT_CKPT_LINE_MAX ? (size_t)n : 0;
}

void audit_pk_encode(const uint8_t pk[AUDIT_PK_LEN], char out[AUDIT_PK_TEXT_LEN + 1])
{
	codec_b64_encode(out, AUDIT_PK_TEXT_LEN + 1, pk, AUDIT_PK_LEN, CODEC_B64_STD);
}

int audit_pk_decode(const char *text, uint8_t pk[AUDIT_PK_LEN])
{
	size_t len, n = 0;

	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	if (strncmp(text, AUDIT_SIG_PREFIX, sizeof(AUDIT_SIG_PREFIX) - 1) == 0)
		text += sizeof(AUDIT_SIG_PREFIX) - 1;
	len = strlen(text);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		len--;
	if (codec_b64_decode(pk, AUDIT_PK_LEN, &n, text, len, CODEC_B64_STD) != 0 ||
	    n != AUDIT_PK_LEN)
		return COFFER_ERR_INVALID;
	return 0;
}

/*
 * The checkpoint in root, if it is one: 1 when its signature verifies with pk (its kind into
 * kind), 0 when the line is no checkpoint, -1 with a reason when it claims to be one and does
 * not verify.
 */
static int audit_check_ckpt(const json_t *root, uint64_t seq, const char *prev_text,
                            const uint8_t *pk, char kind[16], char *reason, size_t reason_len)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	const char *k = json_string_value(json_object_get(root, "kind"));
	const char *dev = json_string_value(json_object_get(root, "device"));
	const char *time = json_string_value(json_object_get(root, "time"));
	const char *sig_text = json_string_value(json_object_get(root, "sig"));
	char msg[AUDIT_CKPT_MSG_MAX];
	uint8_t sig[AUDIT_SIG_LEN];
	size_t msg_len = 0, n = 0;

	if (type == NULL || strcmp(type, "checkpoint") != 0)
		return 0;
	if (k != NULL && dev != NULL && time != NULL)
		msg_len = audit_ckpt_message(msg, k, dev, time, seq, prev_text);
	if (msg_len == 0 || sig_text == NULL ||
	    strncmp(sig_text, AUDIT_SIG_PREFIX, sizeof(AUDIT_SIG_PREFIX) - 1) != 0 ||
	    codec_b64_decode(sig, sizeof(sig), &n, sig_text + sizeof(AUDIT_SIG_PREFIX) - 1,
	                     strlen(sig_text) - (sizeof(AUDIT_SIG_PREFIX) - 1),
	                     CODEC_B64_STD) != 0 ||
	    n != sizeof(sig)) {
		snprintf(reason, reason_len, "malformed checkpoint (kind, device, time or sig)");
		return -1;
	}
	if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, msg_len, pk) != 0) {
		snprintf(reason, reason_len,
		         "the %s checkpoint's signature does not verify with the trusted key", k);
		return -1;
	}
	snprintf(kind, 16, "%s", k);
	return 1;
}

/* Signed verification of one line that passed the chain check: a file's first line is a
 * header, every checkpoint's signature verifies, and the line at the server's head is the one it
 * recorded. False after recording the problem in out. */
static bool audit_check_signed(struct audit_walk *w, const char *path, uint64_t line_no,
                               const json_t *root, uint64_t seq, const char *prev,
                               const uint8_t hash[AUDIT_HASH_LEN], struct audit_verify_result *out)
{
	const struct audit_verify_opts *o = w->opts;
	char kind[16] = "", reason[sizeof(out->reason)];
	int rc = audit_check_ckpt(root, seq, prev, o->public_key, kind, reason, sizeof(reason));

	if (rc < 0) {
		audit_fail(out, path, line_no, "%s", reason);
		return false;
	}
	if (line_no == 1 && (rc == 0 || strcmp(kind, AUDIT_CKPT_HEADER) != 0)) {
		audit_fail(
		    out, path, line_no,
		    "the first line is not a signed header: the head of the file was cut, or "
		    "it was not written by the server with this key");
		return false;
	}
	if (o->has_head && seq == o->head_seq) {
		if (o->head_alg != w->alg ||
		    sodium_memcmp(hash, o->head_hash, AUDIT_HASH_LEN) != 0) {
			audit_fail(
			    out, path, line_no,
			    "seq %" PRIu64 " is not the line the server recorded as its head", seq);
			return false;
		}
		w->saw_head = true;
	}
	if (rc == 1) {
		out->n_checkpoints++;
		out->signed_seq = seq;
		out->unsigned_lines = 0;
		out->is_closed = strcmp(kind, AUDIT_CKPT_REOPEN) == 0 ||
		                 strcmp(kind, AUDIT_CKPT_SEAL) == 0 ||
		                 strcmp(kind, AUDIT_CKPT_SHUTDOWN) == 0;
	} else {
		out->unsigned_lines++;
		out->is_closed = false;
	}
	return true;
}

/* The chain's rule for one parsed line: seq and prev follow the line before, under the chain's
 * hash function (its first line's). */
static bool audit_check_link(struct audit_walk *w, const char *path, uint64_t line_no,
                             const struct audit_link *link, struct audit_verify_result *out)
{
	static const uint8_t zero[AUDIT_HASH_LEN] = {0};
	uint64_t seq = link->seq;

	if (w->has_prev && link->alg != w->alg) {
		audit_fail(
		    out, path, line_no,
		    "prev is a %s hash but the chain uses %s (a chain never changes its hash "
		    "function)",
		    audit_hash_name(link->alg), audit_hash_name(w->alg));
		return false;
	}
	if (!w->has_prev)
		w->alg = link->alg;

	if (w->has_prev && seq != w->prev_seq + 1) {
		audit_fail(out, path, line_no, "seq %" PRIu64 " follows seq %" PRIu64 " (%s)", seq,
		           w->prev_seq,
		           seq > w->prev_seq ? "a line is missing or moved"
		                             : "a line is repeated or moved");
		return false;
	}
	if (w->has_prev || seq == 1) {
		if (sodium_memcmp(link->prev, w->has_prev ? w->prev_hash : zero, AUDIT_HASH_LEN) !=
		    0) {
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
			return false;
		}
	}
	return true;
}

/*
 * Check one complete line (len bytes, newline removed) against the walk so far and advance the
 * walk. On a problem, record it in out and mark the walk broken.
 */
static void audit_check_line(struct audit_walk *w, const char *path, uint64_t line_no,
                             const char *line, size_t len, struct audit_verify_result *out)
{
	char reason[sizeof(out->reason)];
	uint8_t hash[AUDIT_HASH_LEN];
	struct audit_link link;
	json_t *root = NULL;
	uint64_t seq;
	bool is_ok;

	if (audit_parse_line(line, len, &link, reason, sizeof(reason), &root) != 0) {
		audit_fail(out, path, line_no, "%s", reason);
		w->is_broken = true;
		return;
	}
	seq = link.seq;
	is_ok = audit_check_link(w, path, line_no, &link, out);
	if (is_ok)
		audit_line_hash(w->alg, line, len, hash);
	is_ok = is_ok && (w->opts == NULL || audit_check_signed(w, path, line_no, root, seq,
	                                                        link.prev_text, hash, out));
	json_decref(root);
	if (!is_ok) {
		w->is_broken = true;
		return;
	}
	memcpy(w->prev_hash, hash, sizeof(hash));
	w->prev_seq = seq;
	w->prev_path = path;
	w->prev_line = line_no;
	if (!w->has_prev)
		out->first_seq = seq;
	w->has_prev = true;
	out->last_seq = seq;
	out->n_lines++;
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

__attribute__((format(printf, 2, 3))) static void audit_warn(struct audit_verify_result *out,
                                                             const char *fmt, ...)
{
	va_list ap;

	if (out->n_warnings >= 2)
		return;
	va_start(ap, fmt);
	vsnprintf(out->warnings[out->n_warnings++], sizeof(out->warnings[0]), fmt, ap);
	va_end(ap);
}

/* After an intact signed walk: a tail cut before the server's head is an error; what the log
 * cannot prove by itself is a warning. */
static void audit_check_end(const struct audit_walk *w, const char *last_path,
                            struct audit_verify_result *out)
{
	const struct audit_verify_opts *o = w->opts;

	if (o->has_head && !w->saw_head && (out->n_lines == 0 || out->last_seq < o->head_seq)) {
		audit_fail(out, last_path, 0,
		           "the log ends at seq %" PRIu64 ", before the head the server recorded "
		           "(seq %" PRIu64 "): its tail was cut",
		           out->last_seq, o->head_seq);
		return;
	}
	if (out->n_lines == 0) {
		audit_warn(out, "no lines: nothing was verified");
		return;
	}
	if (out->unsigned_lines > 0)
		audit_warn(out,
		           "the last %" PRIu64 " line%s (after seq %" PRIu64
		           ") %s not covered by a "
		           "signed checkpoint yet: a live file's last second, or a server that "
		           "stopped without one",
		           out->unsigned_lines, out->unsigned_lines == 1 ? "" : "s",
		           out->signed_seq, out->unsigned_lines == 1 ? "is" : "are");
	else if (!out->is_closed && !o->has_head)
		audit_warn(out,
		           "the log ends at a periodic checkpoint (seq %" PRIu64 "), not at a "
		           "closing one: it is live, or its tail may have been cut; verify "
		           "against the server to know",
		           out->signed_seq);
}

int audit_verify_files_signed(const char *const *paths, size_t n_paths,
                              const struct audit_verify_opts *opts, struct audit_verify_result *out)
{
	struct audit_walk w = {0};
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n_paths == 0 || (opts != NULL && opts->public_key == NULL))
		return COFFER_ERR_INVALID;
	w.opts = opts;
	for (i = 0; i < n_paths && !w.is_broken; i++) {
		rc = audit_verify_file(&w, paths[i], out);
		if (rc != 0)
			return rc;
	}
	out->is_ok = !w.is_broken;
	if (out->is_ok && opts != NULL)
		audit_check_end(&w, paths[n_paths - 1], out);
	return 0;
}

int audit_verify_files(const char *const *paths, size_t n_paths, struct audit_verify_result *out)
{
	return audit_verify_files_signed(paths, n_paths, NULL, out);
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

int audit_chain_tail(const char *path, uint64_t *seq, enum audit_hash_alg *alg,
                     uint8_t hash[AUDIT_HASH_LEN])
{
	struct audit_link link;
	char reason[128];
	struct stat st;
	off_t last_nl, prev_nl, start;
	char *line = NULL;
	size_t len;
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
	if (audit_parse_line(line, len, &link, reason, sizeof(reason), NULL) != 0) {
		rc = COFFER_ERR_INTEGRITY;
		goto out;
	}
	audit_line_hash(link.alg, line, len, hash);
	*seq = link.seq;
	*alg = link.alg;
out:
	free(line);
	close(fd);
	return rc;
}
