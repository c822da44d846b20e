/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv.h: the KV secrets engine (DESIGN.md §5, API.md "KV version 2" and "KV version 1"): one engine
 * type "kv" whose mounts are version 1 or 2 by their options ("generic" mounts are version 1).
 * Version 2 keeps versions, metadata, check-and-set, soft delete, destroy and pruning; every
 * change is stamped with a watch index in the same atomic batch and then announced to watch.c.
 */
#ifndef COFFER_KV_H
#define COFFER_KV_H

#include <stddef.h>

#define KV_DEFAULT_MAX_VERSIONS 10
#define KV_DEFAULT_MAX_VALUE_SIZE (1024 * 1024) /* per version, bytes of JSON */
#define KV_MAX_CUSTOM_METADATA_KEYS 64
#define KV_MAX_CUSTOM_METADATA_KEY_LEN 128
#define KV_MAX_CUSTOM_METADATA_VALUE_LEN 512

#endif
