/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c: the sys/ route tables and the engines compiled in (registry.h), with the services
 * each declares (api/engine.h). The router and the mount tables read these lists.
 */
#include "api/tables.h"
#include "front/registry.h"

const struct route_table registry_sys_tables[] = {
    {sys_routes, &sys_routes_len, ENGINE_USES_CORE},
    {policy_routes, &policy_routes_len, ENGINE_USES_POLICIES | ENGINE_USES_TOKENS},
    {lease_routes, &lease_routes_len, ENGINE_USES_LEASES | ENGINE_USES_TOKENS},
    {mount_sys_routes, &mount_sys_routes_len, ENGINE_USES_MOUNTS},
    {watch_routes, &watch_routes_len, ENGINE_USES_WATCH},
    {audit_routes, &audit_routes_len, ENGINE_USES_AUDIT},
};
const size_t registry_sys_tables_len = sizeof(registry_sys_tables) / sizeof(registry_sys_tables[0]);

const struct engine *const registry_engines[] = {&token_engine, &approle_engine, &kubernetes_engine,
                                                 &jwt_engine,   &kv_engine,      NULL};
