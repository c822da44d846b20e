/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_state.h: what an engine keeps in memory for one of its mounts (a parsed configuration,
 * fetched keys), keyed by the mount's storage prefix, which no other mount ever has. The engine
 * embeds struct mount_state first in its own struct. Replaced when the engine writes its
 * configuration, dropped by the engine's purge when the mount goes; a standby or a restart starts
 * empty and the engine rebuilds from its stored configuration on first use.
 */
#ifndef COFFER_MOUNT_STATE_H
#define COFFER_MOUNT_STATE_H

struct mount_state {
	int refs; /* atomic; the table holds one */
	void (*destroy)(struct mount_state *st);
};

/* The state kept for prefix, with a reference for the caller, or NULL. */
struct mount_state *mount_state_get(const char *prefix);
/* Keep st (its one reference passes to the table) for prefix, releasing what was kept before;
 * st NULL just drops it. */
void mount_state_set(const char *prefix, struct mount_state *st);
/* Drop every mount's state (seal, and an HA node that stops or starts being active: another node
 * may have changed the configurations meanwhile). */
void mount_state_clear(void);
/* Take a reference / release one (the last destroys). NULL is allowed. */
void mount_state_ref(struct mount_state *st);
void mount_state_release(struct mount_state *st);

#endif
