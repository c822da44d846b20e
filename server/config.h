/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: cofferd's configuration: defaults, the JSON config file (cofferd --config FILE), and
 * validation. An unknown key or a bad value is an error whose message names the key.
 */
#ifndef COFFER_CONFIG_H
#define COFFER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "err.h"
#include "log.h"
#include "store/seal.h"
#include "store/storage.h"

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8200"
#define CONFIG_DEFAULT_MAX_REQUEST_SIZE (1024 * 1024)
#define CONFIG_DEFAULT_IDLE_TIMEOUT_S 30
#define CONFIG_DEFAULT_MAX_CONNECTIONS 4096
#define CONFIG_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 1024 /* agents behind one NAT address */
#define CONFIG_DEFAULT_REQUEST_DEADLINE_S 10
#define CONFIG_DEFAULT_MAX_WATCHES_PER_TOKEN 64
#define CONFIG_DEFAULT_PG_TABLE "coffer_store"
#define CONFIG_DEFAULT_PG_HA_TABLE "coffer_ha_locks"
#define CONFIG_DEFAULT_LOCK_TTL_MS 10000
#define CONFIG_DEFAULT_PG_CONNECTIONS 16

struct config {
	char *listen;        /* "host:port", "[v6]:port" */
	char *tls_cert_file; /* both or neither */
	char *tls_key_file;
	struct storage_config storage;
	/* HA: the address clients are sent to when this node is active, and the one reported as
	 * its cluster address (sys/leader); api_addr is required with ha_enabled. */
	char *api_addr;
	char *cluster_addr;
	enum seal_type seal_type;
	char *seal_path; /* the keyfile seal's key file */
	bool disable_mlock;
	size_t max_request_size;
	size_t kv_max_value_size; /* bytes of JSON per KV version */
	int64_t idle_timeout_s;
	/* Connection limits (http_limits.c): beyond them a connection gets 503 and is closed. */
	size_t max_connections;
	size_t max_connections_per_address; /* IPv4 address, or IPv6 /64 */
	int64_t request_deadline_s;         /* to receive a request's head and body */
	size_t max_watches_per_token;       /* held sys/watch requests per token */
	enum log_level log_level;
	bool log_json;
	struct audit_device_conf *audit; /* n_audit devices, always enabled */
	size_t n_audit;
	bool allow_api_audit; /* sys/audit may create devices (inside audit_dir) */
	char *audit_dir;      /* absolute; where API-created devices may write */
	/* The pod's service-account folder (token and ca.crt), which the kubernetes auth method
	 * reads for TokenReview when its config does not name a reviewer token or a CA. */
	char *kubernetes_service_account_dir;
};

/* Fill cfg with defaults (all strings owned by cfg). */
void config_init(struct config *cfg);
/* Merge the JSON file at path over cfg. On error, err gets a message naming the key or the
 * position and COFFER_ERR_CONFIG is returned. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t err_len);
/* Check cross-key rules (storage path set, TLS files paired, ...). */
int config_validate(const struct config *cfg, char *err, size_t err_len);
/* Replace a string member (e.g. &cfg->listen) with a copy of value. */
void config_set_string(char **member, const char *value);
void config_free(struct config *cfg);

#endif
