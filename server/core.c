/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core.c: builds the server's state from its configuration (store, barrier, seal), keeps what
 * becomes known at unseal, and checks request tokens. main() owns the one struct core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "core.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

#define CORE_CLUSTER_PATH "core/cluster"

int core_open(const struct config *cfg, struct core **out)
{
	struct core *c;
	struct seal_status st;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return COFFER_ERR_NOMEM;
	c->cfg = cfg;
	c->start_time = time(NULL);
	pthread_mutex_init(&c->cluster_lock, NULL);
	err = storage_sqlite_open(cfg->storage_path, &c->storage);
	if (err != 0) {
		log_error("cannot open storage at %s: %s", cfg->storage_path, coffer_strerror(err));
		goto fail;
	}
	err = barrier_new(c->storage, &c->barrier);
	if (err != 0)
		goto fail;
	err = seal_new(c->storage, c->barrier, cfg->seal_type, cfg->seal_path, &c->seal);
	if (err != 0)
		goto fail;
	seal_get_status(c->seal, &st);
	if (cfg->seal_type == SEAL_KEYFILE && st.initialized) {
		err = seal_unseal_keyfile(c->seal);
		if (err != 0) {
			log_error("auto-unseal with key file %s failed: %s", cfg->seal_path,
				  coffer_strerror(err));
			goto fail;
		}
		err = core_unsealed(c);
		if (err != 0)
			goto fail;
		log_info("unsealed with the key file");
	}
	*out = c;
	return 0;
fail:
	core_close(c);
	return err;
}

void core_close(struct core *c)
{
	if (c == NULL)
		return;
	seal_free(c->seal);
	barrier_free(c->barrier);
	storage_close(c->storage);
	pthread_mutex_destroy(&c->cluster_lock);
	free(c);
}

/* Load the cluster identity, or make it on the first unseal after init. */
int core_unsealed(struct core *c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *o = NULL;
	const char *name = NULL, *id = NULL;
	char rnd_hex[9];
	uint8_t rnd[4];
	int err;

	err = barrier_get(c->barrier, CORE_CLUSTER_PATH, &buf, &len);
	if (err == COFFER_ERR_NOT_FOUND) {
		char uuid[37];

		coffer_random(rnd, sizeof(rnd));
		if (codec_hex_encode(rnd_hex, sizeof(rnd_hex), rnd, sizeof(rnd)) != 0)
			return COFFER_ERR_INTERNAL;
		coffer_uuid(uuid);
		o = json_pack("{s:s+,s:s}", "name", "coffer-cluster-", rnd_hex, "id", uuid);
		buf = (uint8_t *)coffer_json_dump(o);
		if (buf == NULL) {
			err = COFFER_ERR_NOMEM;
			goto out;
		}
		len = strlen((char *)buf);
		err = barrier_put(c->barrier, CORE_CLUSTER_PATH, buf, len);
		coffer_json_free_text((char *)buf);
		buf = NULL;
		if (err != 0)
			goto out;
	} else if (err != 0) {
		return err;
	} else {
		err = coffer_json_parse_object((const char *)buf, len, &o, NULL, 0);
		if (err != 0)
			goto out;
	}
	if (coffer_json_get_string(o, "name", &name) != 0 ||
	    coffer_json_get_string(o, "id", &id) != 0) {
		err = COFFER_ERR_INTEGRITY;
		goto out;
	}
	pthread_mutex_lock(&c->cluster_lock);
	snprintf(c->cluster_name, sizeof(c->cluster_name), "%s", name);
	snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", id);
	pthread_mutex_unlock(&c->cluster_lock);
	err = 0;
out:
	if (buf != NULL)
		secmem_freezero(buf, len);
	json_decref(o);
	return err;
}

void core_sealed(struct core *c)
{
	pthread_mutex_lock(&c->cluster_lock);
	c->cluster_name[0] = '\0';
	c->cluster_id[0] = '\0';
	pthread_mutex_unlock(&c->cluster_lock);
}

int core_check_token(struct core *c, const struct request *req, bool needs_sudo)
{
	int err;

	/* Until the token store exists (issue #3) the only token is the root token, which has
	 * sudo everywhere, so needs_sudo changes nothing yet. */
	(void)needs_sudo;
	if (req->token == NULL || req->token[0] == '\0')
		return COFFER_ERR_PERMISSION;
	err = seal_check_root_token(c->seal, req->token);
	if (err == COFFER_ERR_SEALED)
		return err;
	return err == 0 ? 0 : COFFER_ERR_PERMISSION;
}

const char *core_storage_type(const struct core *c)
{
	return c->cfg->storage_type;
}
