/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_int.h: what the audit files share: the device (its file, its hash chain and its HMAC
 * key) and the line builders. audit.c is the broker, audit_file.c the file device and its chain,
 * audit_format.c the line contents, audit_routes.c the sys/ routes.
 */
#ifndef COFFER_AUDIT_INT_H
#define COFFER_AUDIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <nettle/hmac.h>
#include <sodium.h>

#include "audit/audit.h"
#include "buf.h"
#include "audit_chain.h"
#include "audit/audit_stage.h"
#include "crypto.h"
#include "duration.h"

#define AUDIT_AUTH_CACHE 64

/* A token's auth text, found by its hash and its accessor: a token id created again after a
 * revocation has the same hash but a new accessor (and maybe other policies and name). */
struct audit_auth_slot {
	uint8_t token_hash[COFFER_MAC_LEN];
	char accessor[32];
	char *text; /* NULL: empty */
	size_t len;
};

/*
 * One file device. Reference-counted: a request holds the devices its request line went to
 * until its response line is written, so disabling a device never pulls it from under a writer.
 */
struct audit_device {
	char path[AUDIT_NAME_MAX + 2]; /* "file/" */
	char *description;
	char *file_path;
	bool is_config; /* declared in the config file: always present, never disabled */
	bool has_chain; /* seq and prev were read from the file */
	int refs;       /* atomic */

	/* The HMAC-SHA256 state keyed with the device's key (secmem); NULL while sealed. Nettle's,
	 * which uses the CPU's SHA instructions where there are some: a read HMACs several strings
	 * (2.3 times faster than libsodium's portable SHA-256 here). */
	pthread_rwlock_t key_lock;
	struct hmac_sha256_ctx *hmac;
	/* The "auth" text of recent tokens (two HMACs each), by token hash; emptied with the key. */
	pthread_mutex_t auth_mu;
	struct audit_auth_slot auth_cache[AUDIT_AUTH_CACHE];

	/* The chain, in file order: mu serialises seq/prev with the staging of lines. */
	pthread_mutex_t mu;
	uint64_t seq; /* of the last line staged or written (0 for none) */
	enum audit_hash_alg alg; /* the chain's (common/audit_chain.h); written atomically */
	uint8_t prev[AUDIT_HASH_LEN];
	char prev_text[AUDIT_PREV_TEXT_MAX + 1];
	struct audit_stage stage; /* stage.map NULL: none (every line written directly) */

	/* The file: file_mu (taken before mu) serialises writes, reopening and the stage's
	 * consumption. */
	pthread_mutex_t file_mu;
	int fd;     /* -1 when the file could not be (re)opened: every write fails */
	off_t size; /* bytes of complete lines in the file, to undo a short write */
	bool is_failing; /* atomic: the last write failed; stage nothing until one succeeds */
	off_t written_back; /* the file's bytes before this are on their way to the disk */

	/* Room kept allocated beyond the end of the file (audit_write.c), under file_mu: a
	 * change's request line is written only when room for its response is set aside. */
	bool can_reserve;    /* the file system allocates ahead (fallocate KEEP_SIZE) */
	int write_errno;     /* of the last failed write (0 after a success) */
	off_t resv_end;      /* the file's blocks are allocated up to here */
	size_t owed;         /* room promised to the response lines of changes in flight */
	size_t stage_budget; /* atomic: bytes of staged lines the room covers beyond owed */

	/* The flusher thread copies staged lines into the file. */
	pthread_t flusher;
	bool has_flusher;
	pthread_mutex_t idle_mu; /* guards the sleep of an idle flusher */
	pthread_cond_t idle_wake;
	bool is_idle;     /* atomic: the flusher sleeps until a line is staged */
	bool is_stopping; /* atomic */

	/* Signed checkpoints (audit_sign.c), under mu unless said otherwise. */
	uint8_t *sign_sk;  /* secmem, AUDIT_SK_LEN bytes; NULL while sealed */
	uint64_t ckpt_seq; /* seq of the last checkpoint line (0: none since start) */
	enum audit_hash_alg ckpt_alg;      /* and the chain's hash function then */
	uint8_t ckpt_hash[AUDIT_HASH_LEN]; /* and its hash */
	bool needs_header;       /* the file has no line yet: a signed header goes first */
	int64_t unsigned_since;  /* the flusher's own: when it saw lines after ckpt_seq (0: none) */
	pthread_mutex_t head_mu; /* serialises recording the head (taken after file_mu, never
	                          * with mu) and guards the members below */
	struct barrier *barrier; /* where the head is recorded (set at unseal) */
	uint64_t head_seq;       /* the head recorded there: the last checkpoint (0: none) */
	enum audit_hash_alg head_alg;
	uint8_t head_hash[AUDIT_HASH_LEN];
	/* A periodic head is recorded by a thread of its own: the write waits for the disk, and
	 * the flusher must not (head_mu). */
	pthread_t head_thread;
	pthread_cond_t head_wake;
	bool has_head_thread, is_head_pending, is_head_stopping;
};

/* Room kept after a line's body for ,"seq":N,"prev":"<hash>:<hex>"} and the newline. */
#define AUDIT_SUFFIX_ROOM 128

/* A line under construction is a struct buf (buf.h) holding its body ("{...}"); the chain's
 * suffix is written past it in place (buf_room(), AUDIT_SUFFIX_ROOM bytes), so that a line can be
 * sealed again without copying. */

/* audit_file.c */
/* The hash function of the chains started from now on: alg, or with 0 the machine's preference
 * (audit_hash_preferred), which is what audit_new_chain_alg() returns until set. */
void audit_set_new_chain_alg(enum audit_hash_alg alg);
enum audit_hash_alg audit_new_chain_alg(void);
/* A device for file_path; opens it (O_NOFOLLOW when is_strict) and reads its chain's tail. On
 * error err says why and *out is NULL. */
int audit_device_open(const char *path, const char *file_path, const char *description,
                      bool is_config, bool is_strict, struct audit_device **out, char *err,
                      size_t err_len);
/* A device whose file could not be opened: every write fails until a reopen (SIGHUP) opens the
 * file and reads its chain. */
struct audit_device *audit_device_broken(const char *path, const char *file_path,
                                         const char *description);
void audit_device_ref(struct audit_device *d);
void audit_device_release(struct audit_device *d);
/* Reopen the file by its path (SIGHUP); the chain goes on from memory. */
int audit_device_reopen(struct audit_device *d);
/* Record the bodies of sbs[0..n) (JSON objects without seq and prev; n is 1 or 2) as the next
 * lines of d's chain. With may_stage (a read: it changes nothing) they may be staged, which
 * records them at once (see audit_stage.h); otherwise, or when staging is not possible, they are
 * written to the file with one write after everything staged before them. On failure nothing of
 * them stays and err says why. */
int audit_device_write(struct audit_device *d, struct buf *const *sbs, size_t n, bool may_stage,
                       char *err, size_t err_len);
/* The room a change's response line is promised (most are under 2 KiB; a longer one is written
 * if the disk has room, else its change is reported as applied but unrecorded). */
#define AUDIT_PROMISE ((size_t)8 << 10)
/* Room beyond what is owed that every line but a response of a change leaves: the room of a
 * change's own response and a little more. So reads and changes are refused at the same point,
 * and a read never takes room a change would need. */
#define AUDIT_RESV_FLOOR (2 * AUDIT_PROMISE)
/* Like audit_device_write() of one line, for a change: with take (its request line) the line is
 * written only once room for its response is set aside (*promise is then that room, else 0:
 * a file system that cannot allocate ahead); otherwise (its response line) the line is written
 * into the room *promise set aside, and *promise becomes 0. */
int audit_device_write_change(struct audit_device *d, struct buf *sb, bool take, size_t *promise,
                              char *err, size_t err_len);
/* Give back a promise whose response line will not be written. */
void audit_device_unpromise(struct audit_device *d, size_t promise);
/* Whether d can write now: its file is open, the room a change needs can be allocated, and the
 * last write did not fail with an I/O error (other than a full disk). Tries again to allocate
 * and to write the staged lines, so that a freed disk is seen at once. */
bool audit_device_can_write(struct audit_device *d);

/* The broker (audit.c); the hooks (audit_hooks.c) read its device list under lock. */
struct audit_broker {
	struct barrier *barrier;
	pthread_rwlock_t lock; /* guards devs and n_devs */
	struct audit_device *devs[AUDIT_MAX_DEVICES];
	size_t n_devs; /* read without the lock (atomic) for the no-device fast path */
	pthread_mutex_t
	    admin; /* serialises enable, disable and unseal (the table in the barrier) */

	uint8_t *sign_sk; /* the checkpoints' Ed25519 key (secmem; NULL while sealed; admin) */
};

/* audit_write.c: writes and the room beyond the end of the file. Callers hold d->file_mu. */
/* Learn whether d's file system allocates ahead and set aside the first room (fd just opened
 * at d->size). */
void audit_resv_open(struct audit_device *d);
/* Give the room beyond the end of fd (at size) back to the file system. */
void audit_resv_release(int fd, off_t size, off_t resv_end);
/* Whether fds a and b are the same file (a reopen without a rotation). */
bool audit_same_file(int a, int b);
/* Make the room beyond the end at least need bytes (more when it can, so that most writes make
 * no system call); COFFER_ERR_IO with err when the disk has not that much. */
int audit_resv_need(struct audit_device *d, size_t need, char *err, size_t err_len);
/* The room beyond the end now. */
size_t audit_resv_room(const struct audit_device *d);
/* Publish the staging budget: the room beyond what is owed (caller also holds d->mu when it
 * shrinks for another reason than a flush of staged lines). */
void audit_resv_publish(struct audit_device *d);
/* Top the room up if it runs low (best effort) and publish the budget (after a flush). */
void audit_resv_refill(struct audit_device *d);
/* Whether the staged lines plus add more bytes stay within the budget. Caller holds d->mu. */
bool audit_resv_stage_fits(const struct audit_device *d, size_t add);

/* audit_write.c, for audit_file.c and audit_sign.c. Callers hold d->file_mu. */
/* One write of whole lines into room already set aside for them (or on a file system that
 * cannot set any aside); a short write is undone so the file keeps whole lines. */
int audit_write_raw(struct audit_device *d, const struct iovec *iov, int n_iov, char *err,
                    size_t err_len);
/* The length of the lines of iov. */
size_t audit_iov_len(const struct iovec *iov, int n_iov);
int audit_write_lines(struct audit_device *d, const struct iovec *iov, int n_iov, char *err,
                      size_t err_len);
int audit_flush_locked(struct audit_device *d, char *err, size_t err_len);
/* Everything staged into the file, the last of it with the chain's lock (d->mu) taken, so that
 * a line written next comes after every staged one. d->mu is held on return, whatever the
 * result. Caller holds d->file_mu. */
int audit_flush_hold_chain(struct audit_device *d, char *err, size_t err_len);

/* audit_file.c, for audit_sign.c. */
/* Wake the flusher if it sleeps (a line was staged, or written unsigned). */
void audit_flusher_wake(struct audit_device *d);

/* audit_sign.c: the signing key and the checkpoints (format in common/audit_chain.h). */
/* The server's Ed25519 key from the barrier, made on the first unseal (secmem, AUDIT_SK_LEN). */
int audit_sign_key_load(struct barrier *b, uint8_t **sk) COFFER_WUR;
/* Give d a copy of sk (NULL: wipe it) and the barrier to record its head in. With a key, the
 * head recorded earlier is loaded and d's chain checked against it: an empty file continues it,
 * a file that ends before it (lines removed while the server was down) is logged and the chain
 * resumes from it after a new header, so that verify reports the gap. */
int audit_device_set_signing(struct audit_device *d, const uint8_t *sk, struct barrier *b);
/* Write a checkpoint of kind (AUDIT_CKPT_*) now, after the staged lines; a periodic one only
 * when lines were written since the last. 0 also when there is nothing to sign (no key, an empty
 * file); then the head is recorded. */
int audit_device_checkpoint(struct audit_device *d, const char *kind);
/* Write the header a new file needs before its first line. Caller holds file_mu and mu. */
int audit_header_write_locked(struct audit_device *d, char *err, size_t err_len);
/* Write a checkpoint line of kind. Caller holds file_mu and mu, staged lines flushed. */
int audit_ckpt_write_locked(struct audit_device *d, const char *kind, char *err, size_t err_len);
/* The flusher's clock: a periodic checkpoint about a second after lines went unsigned. Returns
 * whether unsigned lines remain (the flusher must not sleep then). */
bool audit_ckpt_tick(struct audit_device *d);
/* Record d's last checkpoint as its head in the barrier (when it is newer). */
void audit_head_record(struct audit_device *d);
/* Stop the thread that records periodic heads (the device is released). */
void audit_sign_stop(struct audit_device *d);
/* {"seq":N,"hash":"blake2b:<hex>"} of the head d recorded, or null. */
json_t *audit_device_head_json(struct audit_device *d);

/* audit_format.c */
void audit_sb_init(struct buf *sb);
void audit_sb_put(struct buf *sb, const char *s, size_t len);
void audit_sb_puts(struct buf *sb, const char *s);
/* s as a JSON string (escaped; invalid UTF-8 becomes U+FFFD). */
void audit_sb_put_str(struct buf *sb, const char *s, size_t len);
/* "hmac-sha256:<hex>" of s under d's key into out; COFFER_ERR_SEALED without a key. Caller
 * holds d->key_lock (read). */
int audit_hmac_text(struct audit_device *d, const char *s, size_t len, char *out);
/* v with every non-empty string value (at any depth) replaced by its HMAC text (d NULL: v as
 * it is). Caller holds d->key_lock. */
int audit_sb_put_hmac_json(struct buf *sb, struct audit_device *d, const json_t *v);
/* The "auth" object of a line for req as JSON text (malloc'd), or NULL with *err = 0 when the
 * request carries no token (*err < 0 on failure). Caller holds d->key_lock. */
char *audit_auth_text(struct audit_device *d, const struct request *req, int *err);
/* Empty d's cache of auth texts (the key goes, or the device). */
void audit_auth_cache_clear(struct audit_device *d);
/* The members of "request" as JSON text without the closing brace (malloc'd):
 * {"id":...,"operation":...,"mount_type":...,"mount_point":...,"path":...,"remote_address":...,
 * the path HMAC'd below a secrets engine; NULL with *err set on failure. Caller holds
 * d->key_lock. */
char *audit_request_text(struct audit_device *d, const struct request *req, int *err);
/* ,"response":{status, data, auth, warnings} with data's strings and auth's token and accessor
 * HMAC'd; body is resp->json or the parse of resp->text. Caller holds d->key_lock. */
int audit_sb_put_response(struct buf *sb, struct audit_device *d, const struct response *resp,
                          const json_t *body);
/* s as "hmac-sha256:<hex>" under d's key ("" stays ""); COFFER_ERR_SEALED without a key. Caller
 * holds d->key_lock. */
int audit_sb_put_hmac_str(struct buf *sb, struct audit_device *d, const char *s, size_t len);

/* audit_text.c */
#define AUDIT_TEXT_FALLBACK 1
/* ,"response":{status, data, warnings} from an envelope built as JSON text, like
 * audit_sb_put_response() of its parse. AUDIT_TEXT_FALLBACK (sb as before) when the text is not
 * an envelope this understands (an auth block, malformed): then parse it. Caller holds
 * d->key_lock. */
int audit_sb_put_response_text(struct buf *sb, struct audit_device *d, int status,
                               const char *text);

/* Whether the response data of the route at path is keyed by the paths a request asked about
 * (sys/capabilities-self, sys/capabilities, sys/capabilities-accessor). */
bool audit_is_path_keyed(const char *path);
/* audit_sb_put_response() with the keys of data HMAC'd as well (the paths asked about), but
 * "capabilities". Caller holds d->key_lock. */
int audit_sb_put_response_paths(struct buf *sb, struct audit_device *d, const struct response *resp,
                                const json_t *body);

/* The first error message of an {"errors":[...]} body, or NULL. */
const char *audit_body_error(const json_t *body);
/* The time now, RFC 3339 UTC with microseconds. */
void audit_format_now(char out[COFFER_TIME_LEN]);

#endif
