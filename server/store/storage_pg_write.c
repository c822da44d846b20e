/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_pg_write.c: the PostgreSQL backend's writes. Every batch goes to one writer thread,
 * which commits all the batches queued meanwhile in one transaction (group commit: one round of
 * the pipeline and one WAL flush for many callers), fenced to this node's leadership epoch when
 * HA is on. Called through storage_batch(); started by storage_pg_open().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/storage_pg_int.h"
#include "store/storage_util.h"

#define PG_PIPE_CHUNK 128 /* statements sent before their results are read */

/* One transaction sent as a pipeline: statements go out in chunks and their results are read
 * back as they come, so no buffer on either side grows with the group. */
struct pg_pipe {
	PGconn *c;
	size_t sent, read;
	bool failed;     /* a statement failed: the rest is skipped by the server */
	bool fenced;     /* the fence statement failed: this node lost its epoch */
	bool broken;     /* the connection failed */
	size_t fence_at; /* the fence's statement number, or SIZE_MAX */
	char msg[160];   /* the first error */
};

static void pg_pipe_note_error(struct pg_pipe *p, PGresult *r, size_t index)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (p->failed)
		return;
	p->failed = true;
	if (index == p->fence_at && state != NULL && strcmp(state, "22012") == 0)
		p->fenced = true;
	snprintf(p->msg, sizeof(p->msg), "%s", PQresultErrorMessage(r));
	p->msg[strcspn(p->msg, "\n")] = '\0';
}

/* Read the results of every statement sent so far. */
static void pg_pipe_drain(struct pg_pipe *p)
{
	ExecStatusType st;
	PGresult *r;

	if (p->read == p->sent || p->broken)
		return;
	if (PQsendFlushRequest(p->c) != 1 || PQflush(p->c) != 0) {
		p->broken = true;
		return;
	}
	while (p->read < p->sent) {
		r = PQgetResult(p->c);
		if (r == NULL) {
			p->broken = true;
			return;
		}
		st = PQresultStatus(r);
		if (st == PGRES_FATAL_ERROR)
			pg_pipe_note_error(p, r, p->read);
		else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		         st != PGRES_PIPELINE_ABORTED)
			p->failed = true;
		PQclear(r);
		/* Each statement's results end with a NULL. */
		if ((r = PQgetResult(p->c)) != NULL) {
			PQclear(r);
			p->broken = true;
			return;
		}
		p->read++;
	}
}

static void pg_pipe_send(struct pg_pipe *p, const char *stmt, int n, const char *const *vals,
                         const int *lens)
{
	static const int fmts[2] = {1, 1};

	if (p->failed || p->broken)
		return;
	if (PQsendQueryPrepared(p->c, stmt, n, vals, lens, fmts, 0) != 1) {
		p->broken = true;
		return;
	}
	p->sent++;
	if (p->sent - p->read >= PG_PIPE_CHUNK)
		pg_pipe_drain(p);
}

static void pg_pipe_send_sql(struct pg_pipe *p, const char *sql)
{
	if (p->failed || p->broken)
		return;
	if (PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 0) != 1) {
		p->broken = true;
		return;
	}
	p->sent++;
}

static const uint8_t pg_empty[1];

static void pg_pipe_send_op(struct pg_pipe *p, const struct storage_op *op)
{
	const char *vals[2] = {op->key != NULL ? (const char *)op->key : (const char *)pg_empty,
	                       op->value != NULL ? (const char *)op->value
	                                         : (const char *)pg_empty};
	int lens[2] = {(int)op->key_len, (int)op->value_len};

	if (op->type == STORAGE_DELETE)
		pg_pipe_send(p, "coffer_del", 1, vals, lens);
	else
		pg_pipe_send(p, op->type == STORAGE_PUT ? "coffer_put" : "coffer_put_absent", 2,
		             vals, lens);
}

/* End the pipeline: sync, read what is left, leave pipeline mode and no transaction open. */
static void pg_pipe_end(struct pg_pipe *p)
{
	PGresult *r;

	if (!p->broken && PQpipelineSync(p->c) != 1)
		p->broken = true;
	pg_pipe_drain(p);
	while (!p->broken) {
		r = PQgetResult(p->c);
		if (r == NULL) {
			p->broken = true;
			break;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		PQclear(r);
	}
	if (p->broken || PQexitPipelineMode(p->c) != 1) {
		p->broken = true;
		return;
	}
	if (PQtransactionStatus(p->c) != PQTRANS_IDLE && pg_exec_simple(p->c, "ROLLBACK") != 0)
		p->broken = true;
}

/*
 * Commit the requests of group (n_reqs of them, linked by next) in one transaction. Returns 0,
 * COFFER_ERR_STANDBY (fenced), COFFER_ERR_UNAVAILABLE (the connection failed: the outcome of the
 * commit is unknown) or COFFER_ERR_IO (PostgreSQL refused a statement).
 */
static int pg_commit(struct pg_storage *pg, struct pg_req *group, size_t n_reqs)
{
	struct pg_pipe p = {.c = pg->wconn, .fence_at = SIZE_MAX};
	int64_t epoch = atomic_load(&pg->fence_epoch);
	char epoch_text[24];
	const char *vals[2] = {pg->node_id, epoch_text};
	int lens[2] = {0, 0};
	struct pg_req *req;
	size_t i, k;

	if (pg->ha_enabled && epoch == 0 && !atomic_load(&pg->init_locked))
		return COFFER_ERR_STANDBY;
	if (PQenterPipelineMode(p.c) != 1)
		return COFFER_ERR_UNAVAILABLE;
	pg_pipe_send_sql(&p, "BEGIN");
	if (pg->ha_enabled && epoch != 0) {
		snprintf(epoch_text, sizeof(epoch_text), "%lld", (long long)epoch);
		lens[0] = (int)strlen(pg->node_id);
		lens[1] = (int)strlen(epoch_text);
		p.fence_at = p.sent;
		/* Text parameters: the statement's types are text and bigint. */
		if (!p.failed && !p.broken) {
			if (PQsendQueryPrepared(p.c, "coffer_fence", 2, vals, lens, NULL, 0) != 1)
				p.broken = true;
			else
				p.sent++;
		}
	}
	for (req = group, i = 0; req != NULL && i < n_reqs; req = req->next, i++)
		for (k = 0; k < req->n_ops; k++)
			pg_pipe_send_op(&p, &req->ops[k]);
	pg_pipe_send_sql(&p, "COMMIT");
	pg_pipe_end(&p);
	if (p.broken || pg_conn_is_broken(p.c))
		return COFFER_ERR_UNAVAILABLE;
	if (p.fenced) {
		log_warn("storage: a write was refused: this node no longer holds the lock");
		pg_ha_fenced(pg);
		return COFFER_ERR_STANDBY;
	}
	if (p.failed) {
		log_error("storage: PostgreSQL refused a write: %s", p.msg);
		return COFFER_ERR_IO;
	}
	return 0;
}

static void pg_group_result(struct pg_req *group, int result)
{
	for (; group != NULL; group = group->next)
		group->result = result;
}

/* Commit a group; when PostgreSQL refuses it (not the connection, not the fence), each request
 * is tried alone, so one bad request does not fail the others. */
static void pg_commit_group(struct pg_storage *pg, struct pg_req *group)
{
	struct pg_req *req;
	size_t n = 0;
	int ret;

	for (req = group; req != NULL; req = req->next)
		n++;
	if (pg_conn_is_stale(pg->wconn)) {
		PQfinish(pg->wconn);
		/* What the cache holds was committed by this node; after a lost connection (a
		 * database restart or failover) it is dropped all the same. */
		storage_cache_clear(pg->cache);
		pg->wconn = pg_connect(pg);
		if (pg->wconn == NULL) {
			pg_group_result(group, COFFER_ERR_UNAVAILABLE);
			return;
		}
	}
	storage_cache_write_begin(pg->cache);
	for (req = group; req != NULL; req = req->next)
		storage_cache_forget(pg->cache, req->ops, req->n_ops);
	ret = pg_commit(pg, group, n);
	if (ret == COFFER_ERR_IO && n > 1) {
		for (req = group; req != NULL; req = req->next)
			req->result = pg_commit(pg, req, 1);
	} else {
		pg_group_result(group, ret);
	}
	storage_cache_write_end(pg->cache);
}

static void *pg_writer_main(void *arg)
{
	struct pg_storage *pg = arg;
	struct pg_req *group, *req, *next;

	pthread_mutex_lock(&pg->wmu);
	for (;;) {
		while (pg->queue == NULL && !pg->is_stopping)
			pthread_cond_wait(&pg->wcv, &pg->wmu);
		if (pg->queue == NULL)
			break;
		group = pg->queue;
		pg->queue = NULL;
		pg->queue_tail = &pg->queue;
		pthread_mutex_unlock(&pg->wmu);

		pg_commit_group(pg, group);

		/* A request's caller may return as soon as it is posted: read next first. */
		for (req = group; req != NULL; req = next) {
			next = req->next;
			sem_post(&req->done);
		}
		pthread_mutex_lock(&pg->wmu);
	}
	pthread_mutex_unlock(&pg->wmu);
	return NULL;
}

int pg_batch(struct storage *base, const struct storage_op *ops, size_t n_ops)
{
	struct pg_storage *pg = (struct pg_storage *)base;
	struct pg_req req = {.ops = ops, .n_ops = n_ops};
	size_t i;

	if (n_ops == 0)
		return 0;
	if (ops == NULL)
		return COFFER_ERR_INVALID;
	for (i = 0; i < n_ops; i++) {
		if (ops[i].type != STORAGE_PUT && ops[i].type != STORAGE_DELETE &&
		    ops[i].type != STORAGE_PUT_IF_ABSENT)
			return COFFER_ERR_INVALID;
		if (ops[i].key_len > INT32_MAX || (ops[i].key == NULL && ops[i].key_len > 0))
			return COFFER_ERR_INVALID;
		if (ops[i].type != STORAGE_DELETE &&
		    (ops[i].value_len > INT32_MAX ||
		     (ops[i].value == NULL && ops[i].value_len > 0)))
			return COFFER_ERR_INVALID;
	}
	if (sem_init(&req.done, 0, 0) != 0)
		return COFFER_ERR_IO;
	pthread_mutex_lock(&pg->wmu);
	if (pg->is_stopping) {
		pthread_mutex_unlock(&pg->wmu);
		sem_destroy(&req.done);
		return COFFER_ERR_UNAVAILABLE;
	}
	*pg->queue_tail = &req;
	pg->queue_tail = &req.next;
	pthread_cond_signal(&pg->wcv);
	pthread_mutex_unlock(&pg->wmu);
	while (sem_wait(&req.done) != 0)
		; /* EINTR */
	sem_destroy(&req.done);
	return req.result;
}

int pg_writer_start(struct pg_storage *pg)
{
	pg->wconn = pg_connect(pg);
	if (pg->wconn == NULL)
		return COFFER_ERR_IO;
	if (pthread_create(&pg->writer, NULL, pg_writer_main, pg) != 0) {
		log_error("storage: cannot start the writer thread");
		return COFFER_ERR_IO;
	}
	pthread_setname_np(pg->writer, "store-writer");
	pg->has_writer = true;
	return 0;
}

void pg_writer_stop(struct pg_storage *pg)
{
	if (!pg->has_writer)
		return;
	pthread_mutex_lock(&pg->wmu);
	pg->is_stopping = true;
	pthread_cond_signal(&pg->wcv);
	pthread_mutex_unlock(&pg->wmu);
	pthread_join(pg->writer, NULL);
	pg->has_writer = false;
}
