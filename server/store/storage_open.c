/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_open.c: opens the backend a storage configuration names (storage.h); the backends are
 * storage_sqlite.c and storage_pg.c. Called by core_open() and by cofferd migrate.
 */
#include <stdlib.h>
#include <string.h>

#include "secmem.h"
#include "store/storage.h"

int storage_open(const struct storage_config *sc, struct storage **out)
{
	if (sc->kind == STORAGE_POSTGRESQL)
		return storage_pg_open(sc, out);
	return storage_sqlite_open(sc->path, out);
}

void storage_config_free(struct storage_config *sc)
{
	free(sc->path);
	if (sc->pg_url != NULL) /* may hold the database password */
		secmem_wipe(sc->pg_url, strlen(sc->pg_url));
	free(sc->pg_url);
	free(sc->table);
	free(sc->ha_table);
	memset(sc, 0, sizeof(*sc));
}
