/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_sign.c: what makes an audit log impossible to rebuild without the server (DESIGN.md §6,
 * §10.10): the Ed25519 key in the barrier, the signed checkpoint lines in every device's chain
 * (a header first in every file, a periodic one within about a second of any line, one at
 * reopen, seal and shutdown), and the head each device recorded in the barrier, against which
 * `coffer audit verify` finds a cut tail.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "audit/audit_int.h"
#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

#define AUDIT_SIGN_KEY_PATH "core/audit/signing-key"
/* seq (big-endian), hash, and the chain's hash function (1 byte; a record without it is from
 * before chains had a choice: BLAKE2b). */
#define AUDIT_HEAD_LEN (8 + AUDIT_HASH_LEN + 1)
#define AUDIT_CKPT_INTERVAL_NS 1000000000LL /* sign lines at most this long after they went */

int audit_sign_key_load(struct barrier *b, uint8_t **out)
{
	uint8_t pk[AUDIT_PK_LEN], *stored = NULL, *sk;
	size_t len = 0;
	int rc;

	*out = NULL;
	sk = xsecmem_alloc(AUDIT_SK_LEN);
	rc = barrier_get(b, AUDIT_SIGN_KEY_PATH, &stored, &len);
	if (rc == COFFER_ERR_NOT_FOUND) {
		crypto_sign_keypair(pk, sk);
		rc = barrier_put(b, AUDIT_SIGN_KEY_PATH, sk, AUDIT_SK_LEN);
		if (rc == 0)
			log_info("audit: made the signing key of the audit logs");
	} else if (rc == 0 && len != AUDIT_SK_LEN) {
		rc = COFFER_ERR_INTEGRITY;
	} else if (rc == 0) {
		memcpy(sk, stored, AUDIT_SK_LEN);
	}
	if (stored != NULL)
		secmem_freezero(stored, len);
	if (rc != 0) {
		secmem_free(sk);
		return rc;
	}
	*out = sk;
	return 0;
}

/* "core/audit/<name>/head" for the device path "<name>/". */
static void audit_head_path(const struct audit_device *d, char *out, size_t cap)
{
	snprintf(out, cap, "core/audit/%.*s/head", (int)(strlen(d->path) - 1), d->path);
}

/* The head recorded for d: 0, COFFER_ERR_NOT_FOUND, or a barrier error. */
static int audit_head_load(struct audit_device *d, struct barrier *b, uint64_t *seq,
                           enum audit_hash_alg *alg, uint8_t hash[AUDIT_HASH_LEN])
{
	char path[AUDIT_NAME_MAX + 32];
	uint8_t *buf = NULL, tag;
	size_t len = 0;
	uint64_t s = 0;
	int rc;

	audit_head_path(d, path, sizeof(path));
	rc = barrier_get(b, path, &buf, &len);
	if (rc != 0)
		return rc;
	tag = len == AUDIT_HEAD_LEN ? buf[AUDIT_HEAD_LEN - 1] : AUDIT_HASH_BLAKE2B;
	if ((len != AUDIT_HEAD_LEN && len != AUDIT_HEAD_LEN - 1) ||
	    (tag != AUDIT_HASH_BLAKE2B && tag != AUDIT_HASH_SHA256)) {
		rc = COFFER_ERR_INTEGRITY;
	} else {
		for (int i = 0; i < 8; i++)
			s = s << 8 | buf[i];
		*seq = s;
		memcpy(hash, buf + 8, AUDIT_HASH_LEN);
		*alg = (enum audit_hash_alg)tag;
	}
	secmem_freezero(buf, len);
	return rc;
}

void audit_head_record(struct audit_device *d)
{
	uint8_t buf[AUDIT_HEAD_LEN], hash[AUDIT_HASH_LEN];
	char path[AUDIT_NAME_MAX + 32];
	enum audit_hash_alg alg;
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&d->mu);
	seq = d->ckpt_seq;
	alg = d->ckpt_alg;
	memcpy(hash, d->ckpt_hash, sizeof(hash));
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_lock(&d->head_mu);
	if (d->barrier != NULL && seq > d->head_seq) {
		for (int i = 0; i < 8; i++)
			buf[i] = (uint8_t)(seq >> (56 - 8 * i));
		memcpy(buf + 8, hash, sizeof(hash));
		buf[AUDIT_HEAD_LEN - 1] = (uint8_t)alg;
		audit_head_path(d, path, sizeof(path));
		/* Sealed (a seal checkpoint comes after the barrier closed): the file has it. */
		rc = barrier_put(d->barrier, path, buf, sizeof(buf));
		if (rc == 0) {
			d->head_seq = seq;
			d->head_alg = alg;
			memcpy(d->head_hash, hash, sizeof(hash));
		} else if (rc != COFFER_ERR_SEALED) {
			log_error("audit %s: cannot record the head (seq %" PRIu64 "): %s", d->path,
			          seq, coffer_strerror(rc));
		}
	}
	pthread_mutex_unlock(&d->head_mu);
}

/* The head thread: records the periodic heads the flusher posts (a barrier write waits for the
 * disk; the flusher meanwhile copies staged lines on). */
static void *audit_head_main(void *arg)
{
	struct audit_device *d = arg;

	pthread_mutex_lock(&d->head_mu);
	for (;;) {
		while (!d->is_head_pending && !d->is_head_stopping)
			pthread_cond_wait(&d->head_wake, &d->head_mu);
		if (d->is_head_stopping)
			break;
		d->is_head_pending = false;
		pthread_mutex_unlock(&d->head_mu);
		audit_head_record(d);
		pthread_mutex_lock(&d->head_mu);
	}
	pthread_mutex_unlock(&d->head_mu);
	return NULL;
}

/* Start the head thread once (at the first unseal); without one, heads are recorded inline. */
static void audit_head_thread_start(struct audit_device *d)
{
	pthread_mutex_lock(&d->head_mu);
	if (!d->has_head_thread) {
		pthread_cond_init(&d->head_wake, NULL);
		if (pthread_create(&d->head_thread, NULL, audit_head_main, d) == 0) {
			pthread_setname_np(d->head_thread, "audit-head");
			d->has_head_thread = true;
		} else {
			pthread_cond_destroy(&d->head_wake);
		}
	}
	pthread_mutex_unlock(&d->head_mu);
}

void audit_sign_stop(struct audit_device *d)
{
	bool has;

	pthread_mutex_lock(&d->head_mu);
	has = d->has_head_thread;
	d->is_head_stopping = true;
	if (has)
		pthread_cond_signal(&d->head_wake);
	pthread_mutex_unlock(&d->head_mu);
	if (!has)
		return;
	pthread_join(d->head_thread, NULL);
	pthread_cond_destroy(&d->head_wake);
	d->has_head_thread = false;
}

/* Record the head from the head thread when there is one, else now. */
static void audit_head_post(struct audit_device *d)
{
	bool is_async;

	pthread_mutex_lock(&d->head_mu);
	is_async = d->has_head_thread && !d->is_head_stopping;
	if (is_async) {
		d->is_head_pending = true;
		pthread_cond_signal(&d->head_wake);
	}
	pthread_mutex_unlock(&d->head_mu);
	if (!is_async)
		audit_head_record(d);
}

json_t *audit_device_head_json(struct audit_device *d)
{
	char text[AUDIT_PREV_TEXT_MAX + 1];
	json_t *out;

	pthread_mutex_lock(&d->head_mu);
	if (d->head_seq == 0) {
		out = json_null();
	} else {
		audit_prev_text(d->head_alg, d->head_hash, text);
		out = json_pack("{s:I,s:s}", "seq", (json_int_t)d->head_seq, "hash", text);
	}
	pthread_mutex_unlock(&d->head_mu);
	return out;
}

int audit_ckpt_write_locked(struct audit_device *d, const char *kind, char *err, size_t err_len)
{
	char line[AUDIT_CKPT_LINE_MAX], time_text[COFFER_TIME_LEN];
	struct iovec iov;
	size_t len;
	int rc;

	if (d->sign_sk == NULL) {
		snprintf(err, err_len, "%s: no signing key (sealed)", d->path);
		return COFFER_ERR_SEALED;
	}
	audit_format_now(time_text);
	len = audit_ckpt_line(line, d->sign_sk, kind, d->path, time_text, d->seq + 1, d->prev_text);
	if (len == 0) {
		snprintf(err, err_len, "%s: cannot build a checkpoint", d->path);
		return COFFER_ERR_INTERNAL;
	}
	iov.iov_base = line;
	iov.iov_len = len;
	rc = audit_write_lines(d, &iov, 1, err, err_len);
	if (rc != 0)
		return rc;
	d->seq++;
	audit_line_hash(d->alg, line, len - 1, d->prev);
	audit_prev_text(d->alg, d->prev, d->prev_text);
	d->ckpt_seq = d->seq;
	d->ckpt_alg = d->alg;
	memcpy(d->ckpt_hash, d->prev, sizeof(d->prev));
	if (strcmp(kind, AUDIT_CKPT_HEADER) == 0)
		d->needs_header = false;
	return 0;
}

int audit_header_write_locked(struct audit_device *d, char *err, size_t err_len)
{
	if (!d->needs_header)
		return 0;
	return audit_ckpt_write_locked(d, AUDIT_CKPT_HEADER, err, err_len);
}

int audit_device_checkpoint(struct audit_device *d, const char *kind)
{
	bool is_periodic = strcmp(kind, AUDIT_CKPT_PERIODIC) == 0, is_done = false;
	char err[300];
	int rc;

	pthread_mutex_lock(&d->file_mu);
	rc = audit_flush_hold_chain(d, err, sizeof(err));
	/* Nothing to sign: no key, a file without a line, or (periodic) nothing new. */
	if (rc == 0 && d->sign_sk != NULL && d->fd >= 0 && !d->needs_header &&
	    (!is_periodic || d->seq != d->ckpt_seq)) {
		rc = audit_ckpt_write_locked(d, kind, err, sizeof(err));
		is_done = rc == 0;
	}
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_unlock(&d->file_mu);
	if (rc != 0)
		log_error("audit %s: no %s checkpoint: %s", d->path, kind, err);
	if (is_done && is_periodic)
		audit_head_post(d); /* from the flusher: it must not wait for the disk */
	else if (is_done)
		audit_head_record(d);
	return rc;
}

static int64_t audit_now_ns(void)
{
	return coffer_clock_mono_ns();
}

bool audit_ckpt_tick(struct audit_device *d)
{
	bool has_unsigned;
	int64_t now;

	pthread_mutex_lock(&d->mu);
	has_unsigned = d->sign_sk != NULL && d->seq != d->ckpt_seq && !d->needs_header;
	pthread_mutex_unlock(&d->mu);
	if (!has_unsigned) {
		d->unsigned_since = 0;
		return false;
	}
	now = audit_now_ns();
	if (d->unsigned_since == 0) {
		d->unsigned_since = now;
		return true;
	}
	if (now - d->unsigned_since < AUDIT_CKPT_INTERVAL_NS)
		return true;
	d->unsigned_since = 0;
	/* A failure is logged; the next tick tries again. */
	return audit_device_checkpoint(d, AUDIT_CKPT_PERIODIC) != 0;
}

/*
 * Check d's chain against the head it recorded, once it has a key: an empty file continues the
 * recorded chain; a file that ends before it lost lines while the server was down (logged), and
 * the chain resumes from the recorded head after a new header, which verify reports as a gap.
 * Caller holds file_mu and mu.
 */
static void audit_head_adopt(struct audit_device *d, uint64_t seq, enum audit_hash_alg alg,
                             const uint8_t hash[AUDIT_HASH_LEN])
{
	if (d->seq == 0 && d->size == 0) {
		d->seq = seq;
	} else if (d->seq < seq ||
	           (d->seq == seq &&
	            (d->alg != alg || sodium_memcmp(d->prev, hash, AUDIT_HASH_LEN) != 0))) {
		log_error("audit %s: %s ends at seq %" PRIu64 " but the server wrote up to seq "
		          "%" PRIu64 " and recorded another line there: lines were removed or "
		          "replaced; the chain goes on from the recorded head after a new header",
		          d->path, d->file_path, d->seq, seq);
		d->seq = seq;
		d->needs_header = true;
	} else {
		return;
	}
	/* The recorded chain goes on, with its hash function. */
	__atomic_store_n(&d->alg, alg, __ATOMIC_RELAXED);
	memcpy(d->prev, hash, AUDIT_HASH_LEN);
	audit_prev_text(d->alg, d->prev, d->prev_text);
}

int audit_device_set_signing(struct audit_device *d, const uint8_t *sk, struct barrier *b)
{
	uint8_t *copy = NULL, hash[AUDIT_HASH_LEN];
	enum audit_hash_alg alg = AUDIT_HASH_BLAKE2B;
	uint64_t seq = 0;
	int rc = 0;

	if (sk != NULL) {
		copy = xsecmem_dup(sk, AUDIT_SK_LEN);
		rc = audit_head_load(d, b, &seq, &alg, hash);
		if (rc == COFFER_ERR_NOT_FOUND)
			rc = 0;
		if (rc != 0) {
			secmem_free(copy);
			return rc;
		}
	}
	pthread_mutex_lock(&d->file_mu);
	pthread_mutex_lock(&d->mu);
	secmem_free(d->sign_sk);
	d->sign_sk = copy;
	if (seq != 0 && d->has_chain)
		audit_head_adopt(d, seq, alg, hash);
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_unlock(&d->file_mu);
	if (sk != NULL)
		audit_head_thread_start(d);
	pthread_mutex_lock(&d->head_mu);
	if (b != NULL)
		d->barrier = b;
	if (seq > d->head_seq) {
		d->head_seq = seq;
		d->head_alg = alg;
		memcpy(d->head_hash, hash, sizeof(hash));
	}
	pthread_mutex_unlock(&d->head_mu);
	return 0;
}
