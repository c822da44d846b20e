/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_state.c: the per-mount in-memory state of engines (mount_state.h). A short list under a
 * mutex: there is one entry per auth mount that keeps state, a handful in practice.
 */
#include "api/mount_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct mount_state_entry {
	char *prefix;
	struct mount_state *st;
	struct mount_state_entry *next;
};

static pthread_mutex_t mount_state_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mount_state_entry *mount_state_list;

void mount_state_ref(struct mount_state *st)
{
	if (st != NULL)
		__atomic_add_fetch(&st->refs, 1, __ATOMIC_RELAXED);
}

void mount_state_release(struct mount_state *st)
{
	if (st != NULL && __atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) == 0)
		st->destroy(st);
}

struct mount_state *mount_state_get(const char *prefix)
{
	struct mount_state_entry *e;
	struct mount_state *st = NULL;

	pthread_mutex_lock(&mount_state_mu);
	for (e = mount_state_list; e != NULL; e = e->next) {
		if (strcmp(e->prefix, prefix) == 0) {
			st = e->st;
			mount_state_ref(st);
			break;
		}
	}
	pthread_mutex_unlock(&mount_state_mu);
	return st;
}

void mount_state_set(const char *prefix, struct mount_state *st)
{
	struct mount_state_entry **pp, *e;
	struct mount_state *old = NULL;

	pthread_mutex_lock(&mount_state_mu);
	for (pp = &mount_state_list; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->prefix, prefix) == 0)
			break;
	e = *pp;
	if (e != NULL) {
		old = e->st;
		if (st != NULL) {
			e->st = st;
		} else {
			*pp = e->next;
			free(e->prefix);
			free(e);
		}
	} else if (st != NULL) {
		e = xcalloc(1, sizeof(*e));
		e->prefix = xstrdup(prefix);
		e->st = st;
		e->next = mount_state_list;
		mount_state_list = e;
	}
	pthread_mutex_unlock(&mount_state_mu);
	mount_state_release(old);
}

void mount_state_clear(void)
{
	struct mount_state_entry *e, *next;

	pthread_mutex_lock(&mount_state_mu);
	e = mount_state_list;
	mount_state_list = NULL;
	pthread_mutex_unlock(&mount_state_mu);
	for (; e != NULL; e = next) {
		next = e->next;
		mount_state_release(e->st);
		free(e->prefix);
		free(e);
	}
}
