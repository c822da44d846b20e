/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mhd_baseline.c: the smallest useful libmicrohttpd server, configured like cofferd's listener
 * (internal thread pool over epoll, same pool size), answering every request with a fixed JSON
 * body of a given size. kv_read.sh measures cofferd's KV read against it in the same run.
 * usage: bench_mhd_baseline PORT BODY_BYTES
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

static char *body;
static size_t body_len;

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = conn;
		return MHD_YES;
	}
	*upload_data_size = 0;
	r = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned pool = n < 1 ? 4 : (n * 4 > 32 ? 32 : (unsigned)(n * 4));
	sigset_t set;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PORT BODY_BYTES\n", argv[0]);
		return 2;
	}
	body_len = strtoul(argv[2], NULL, 10);
	body = malloc(body_len + 1);
	if (body == NULL || body_len < 2)
		return 1;
	memset(body, 'x', body_len);
	body[0] = '"';
	body[body_len - 1] = '"';
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
	                     (uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
	                     MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	                     MHD_OPTION_END);
	if (d == NULL)
		return 1;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	free(body);
	return 0;
}
