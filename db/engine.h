/* db/engine: the seam between db/store.h and its engines.
 *
 * Why a switch on the engine's kind and not a struct of function pointers:
 * both engines are compiled into every build and there are exactly two, so
 * a tag read and a branch is all a call costs, and the compiler checks
 * every engine function's signature against one list (PL_ENGINE_FNS
 * below) at build time; a table of pointers would add a third place where
 * signatures are written out.  Every engine's connection struct starts
 * with an int holding its kind (a pointer to a struct points to its first
 * member too), db/store.c reads it and calls pl_sqs_NAME (SQLite,
 * db/sqlite*.c, whose files define the store.h names renamed by
 * db/sqlite_int.h) or pl_pgs_NAME (PostgreSQL, db/pg_*.c).
 *
 * A function added to store.h for an engine goes into this list (with
 * its rename in db/sqlite_int.h) and gets a PostgreSQL body; a store.h
 * function missing here is not dispatched, and is SQLite-only. */
#ifndef PL_ENGINE_H
#define PL_ENGINE_H

#include "db/store.h"

enum pl_engine_kind { PL_ENGINE_SQLITE = 0x5173, PL_ENGINE_PG = 0x5067 };

static inline int pl_engine_of(const pl_store *s) { return *(const int *)(const void *)s; }

/* X(return type, name, (parameters), (arguments)) for functions returning
 * a value; V(name, (parameters), (arguments)) for void ones. */
#define PL_ENGINE_FNS(X, V) \
	X(enum pl_code, begin, (pl_store *s, pl_error *err), (s, err)) \
	X(enum pl_code, commit, (pl_store *s, pl_error *err), (s, err)) \
	V(rollback, (pl_store *s), (s)) \
	X(enum pl_code, savepoint, (pl_store *s, bool release, bool rollback), (s, release, rollback)) \
	V(on_wal, (pl_store *s, pl_wal_fn fn, void *ud), (s, fn, ud)) \
	V(checkpoint, (pl_store *s), (s)) \
	X(int64_t, changes, (pl_store *s), (s)) \
	X(bool, in_transaction, (pl_store *s), (s)) \
	V(guard_commits, (pl_store *s), (s)) \
	X(enum pl_code, user_ensure, (pl_store *s, const char *user, const char *name, int64_t now, bool *created, pl_error *err), (s, user, name, now, created, err)) \
	X(bool, user_exists, (pl_store *s, const char *user), (s, user)) \
	X(enum pl_code, set_status, (pl_store *s, const char *user, const char *status, pl_error *err), (s, user, status, err)) \
	X(enum pl_code, set_last_seen, (pl_store *s, const char *user, int64_t when, pl_error *err), (s, user, when, err)) \
	V(user_status, (pl_store *s, const char *user, char status[16], int64_t *last_seen), (s, user, status, last_seen)) \
	X(enum pl_code, presence_set, (pl_store *s, const char *user, int connections, bool online, pl_error *err), (s, user, connections, online, err)) \
	X(bool, presence_get, (pl_store *s, const char *user, int *connections), (s, user, connections)) \
	X(enum pl_code, presence_clear, (pl_store *s, pl_error *err), (s, err)) \
	X(enum pl_code, room_create, (pl_store *s, const char *id, const char *name, bool priv, const char *creator, int64_t now, pl_error *err), (s, id, name, priv, creator, now, err)) \
	X(json_t *, room_get, (pl_store *s, const char *id), (s, id)) \
	X(bool, room_private, (pl_store *s, const char *id, bool *priv), (s, id, priv)) \
	X(int, room_members, (pl_store *s, const char *room), (s, room)) \
	X(json_t *, rooms_page, (pl_store *s, const char *user, const char *after, const char *q, int limit), (s, user, after, q, limit)) \
	X(bool, is_member, (pl_store *s, const char *room, const char *user), (s, room, user)) \
	X(enum pl_code, member_add, (pl_store *s, const char *room, const char *user, int64_t now, bool *changed, pl_error *err), (s, room, user, now, changed, err)) \
	X(enum pl_code, member_remove, (pl_store *s, const char *room, const char *user, bool *changed, pl_error *err), (s, room, user, changed, err)) \
	X(json_t *, user_rooms, (pl_store *s, const char *user), (s, user)) \
	X(json_t *, member_ids, (pl_store *s, const char *room, int limit), (s, room, limit)) \
	X(enum pl_code, message_post, (pl_store *s, const struct pl_new_msg *m, char **json, size_t *len, bool *created, pl_error *err), (s, m, json, len, created, err)) \
	X(char *, message_by_client_text, (pl_store *s, const char *sender, const char *client_id, size_t *len), (s, sender, client_id, len)) \
	X(enum pl_code, message_insert, (pl_store *s, const char *room, const char *sender, const char *text, const char *client_id, int64_t now, json_t **msg, pl_error *err), (s, room, sender, text, client_id, now, msg, err)) \
	X(json_t *, message_get, (pl_store *s, const char *room, int64_t id), (s, room, id)) \
	X(enum pl_code, message_edit, (pl_store *s, int64_t id, const char *text, int64_t now, json_t **msg, pl_error *err), (s, id, text, now, msg, err)) \
	X(enum pl_code, message_delete, (pl_store *s, int64_t id, int64_t now, json_t **msg, pl_error *err), (s, id, now, msg, err)) \
	X(char *, messages_text, (pl_store *s, const char *room, const char *member, const struct pl_page *page, size_t *len, bool *any), (s, room, member, page, len, any)) \
	X(enum pl_code, event_add, (pl_store *s, const struct pl_new_event *e, int64_t *id, pl_error *err), (s, e, id, err)) \
	X(int64_t, last_event, (pl_store *s), (s)) \
	X(int, events_after, (pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud), (s, after, limit, fn, ud)) \
	X(int, events_for_user, (pl_store *s, const char *user, int64_t after, int limit, pl_event_fn fn, void *ud), (s, user, after, limit, fn, ud)) \
	X(enum pl_code, receipt_update, (pl_store *s, const char *room, const char *user, int64_t delivered, int64_t read, pl_error *err), (s, room, user, delivered, read, err)) \
	X(json_t *, receipts, (pl_store *s, const char *room), (s, room)) \
	V(receipt_get, (pl_store *s, const char *room, const char *user, int64_t *delivered, int64_t *read), (s, room, user, delivered, read))

#define PL_ENGINE_DECL_X(ret, name, params, args) \
	ret pl_sqs_##name params; ret pl_pgs_##name params;
#define PL_ENGINE_DECL_V(name, params, args) \
	void pl_sqs_##name params; void pl_pgs_##name params;
PL_ENGINE_FNS(PL_ENGINE_DECL_X, PL_ENGINE_DECL_V)

/* The webhook outbox on PostgreSQL (db/pg_outbox.c): db/outbox.c hands
 * each call of a PostgreSQL store over to these (outbox.h says what they
 * do); SQLite's stay in db/outbox.c. */
struct pl_delivery;
enum pl_code pl_pgs_outbox_add(pl_store *s, const char *user, const char *type, int64_t ts,
			       const char *data, int64_t now, pl_error *err);
enum pl_code pl_pgs_outbox_feed(pl_store *s, unsigned mask, int max, int64_t now, int *fed,
				pl_error *err);
int64_t pl_pgs_outbox_cursor(pl_store *s);
int pl_pgs_outbox_claim(pl_store *s, const char *owner, int64_t now, int64_t lease_until,
			struct pl_delivery *out, int max, pl_error *err);
enum pl_code pl_pgs_outbox_remove(pl_store *s, int64_t id, const char *owner, pl_error *err);
enum pl_code pl_pgs_outbox_retry(pl_store *s, int64_t id, const char *owner, int64_t next_at,
				 pl_error *err);
int64_t pl_pgs_outbox_depth(pl_store *s);

enum pl_code pl_sqs_open(const char *path, pl_store **out, pl_error *err);
void pl_sqs_close(pl_store *s);
void pl_pgs_close(pl_store *s);
enum pl_code pl_pgs_open(const char *url, pl_store **out, pl_error *err);

#endif
