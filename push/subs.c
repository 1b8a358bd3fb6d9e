/* push/subs: the hub's indexes (hub thread only): rooms and the
 * connections subscribed to them, users and their connections, and who
 * asked to hear whose presence (hubint.h has the structures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/hubint.h"

struct pl_room *pl_hub_room(struct pl_hub *h, const char *id, bool create)
{
	struct pl_room *r = pl_map_get(h->rooms, id);
	if (r || !create)
		return r;
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	snprintf(r->id, sizeof r->id, "%s", id);
	if (!pl_map_put(h->rooms, id, r)) {
		free(r);
		return NULL;
	}
	return r;
}

struct pl_user *pl_hub_user(struct pl_hub *h, const char *id, bool create)
{
	struct pl_user *u = pl_map_get(h->users, id);
	if (u || !create)
		return u;
	u = calloc(1, sizeof *u);
	if (u && !pl_map_put(h->users, id, u)) {
		free(u);
		u = NULL;
	}
	return u;
}

void pl_hub_user_maybe_free(struct pl_hub *h, const char *id, struct pl_user *u)
{
	if (!u->conns && !u->nwatchers) {
		free(u->watchers);
		free(pl_map_del(h->users, id));
	}
}

void pl_hub_subscribe(struct pl_hub *h, struct pl_conn *c, const char *room)
{
	for (struct pl_sub *s = c->subs; s; s = s->conn_next)
		if (strcmp(s->room->id, room) == 0)
			return;
	struct pl_room *r = pl_hub_room(h, room, true);
	struct pl_sub *s = r ? calloc(1, sizeof *s) : NULL;
	if (!s)
		return;
	s->conn = c;
	s->room = r;
	s->next = r->subs;
	if (r->subs)
		r->subs->prev = s;
	r->subs = s;
	r->nsubs++;
	s->conn_next = c->subs;
	c->subs = s;
}

static void sub_unlink(struct pl_hub *h, struct pl_sub *s)
{
	struct pl_room *r = s->room;
	if (s->prev)
		s->prev->next = s->next;
	else
		r->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (--r->nsubs == 0)
		free(pl_map_del(h->rooms, r->id));
	free(s);
}

void pl_hub_unsubscribe(struct pl_hub *h, struct pl_conn *c, const char *room)
{
	for (struct pl_sub **p = &c->subs; *p; p = &(*p)->conn_next) {
		if (strcmp((*p)->room->id, room) == 0) {
			struct pl_sub *s = *p;
			*p = s->conn_next;
			sub_unlink(h, s);
			return;
		}
	}
}

void pl_hub_unsubscribe_all(struct pl_hub *h, struct pl_conn *c)
{
	while (c->subs) {
		struct pl_sub *s = c->subs;
		c->subs = s->conn_next;
		sub_unlink(h, s);
	}
}

void pl_hub_watchers_remove(struct pl_hub *h, struct pl_conn *c)
{
	for (int i = 0; i < c->nasked; i++) {
		struct pl_user *u = pl_hub_user(h, c->asked[i], false);
		for (int j = 0; u && j < u->nwatchers; j++) {
			if (u->watchers[j] == c) {
				u->watchers[j] = u->watchers[--u->nwatchers];
				break;
			}
		}
		if (u)
			pl_hub_user_maybe_free(h, c->asked[i], u);
		free(c->asked[i]);
	}
	free(c->asked);
	c->asked = NULL;
	c->nasked = 0;
}

/* Replaces the users c hears presence of (at most 500, checked before). */
void pl_hub_set_presence(struct pl_hub *h, struct pl_conn *c, json_t *users)
{
	pl_hub_watchers_remove(h, c);
	size_t n = json_array_size(users);
	if (!n || !(c->asked = calloc(n, sizeof *c->asked)))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(users, i));
		struct pl_user *u = id ? pl_hub_user(h, id, true) : NULL;
		if (!u)
			continue;
		if (u->nwatchers == u->capwatchers) {
			int cap = u->capwatchers ? u->capwatchers * 2 : 4;
			void *grown = realloc(u->watchers, (size_t)cap * sizeof *u->watchers);
			if (!grown)
				continue;
			u->watchers = grown;
			u->capwatchers = cap;
		}
		u->watchers[u->nwatchers++] = c;
		c->asked[c->nasked++] = strdup(id);
		if (!c->asked[c->nasked - 1]) {
			u->nwatchers--;
			c->nasked--;
		}
	}
}

