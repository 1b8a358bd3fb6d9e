/* db/engine: the seam between db/store.h and its engines.
 *
 * Why a switch on the engine's kind and not a struct of function pointers:
 * both engines are compiled into every build and there are exactly two, so
 * a tag read and a branch is all a call costs; the compiler checks both
 * engines' functions against store.h's prototypes through the calls in
 * db/store.c; and a reader (or a static analyser) follows a call through
 * the switch to its one body per engine, which a table of pointers filled
 * at open would hide.
 *
 * Every engine's connection struct starts with an int holding its kind (a
 * pointer to a struct points to its first member too).  db/store.c, one
 * function per engine function, reads it and calls pl_sqs_NAME (SQLite:
 * db/sqlite*.c, whose files define store.h's names, renamed by
 * db/sqlite_int.h) or pl_pgs_NAME (PostgreSQL: db/pg_*.c).
 *
 * A function added to store.h for an engine gets its two declarations
 * here, its rename in db/sqlite_int.h, its dispatch in db/store.c and a
 * PostgreSQL body (and a stub in db/pg_none.c); a store.h function
 * missing here is not dispatched, and is SQLite-only. */
#ifndef PL_ENGINE_H
#define PL_ENGINE_H

#include "db/store.h"

enum pl_engine_kind { PL_ENGINE_SQLITE = 0x5173, PL_ENGINE_PG = 0x5067 };

static inline int pl_engine_of(const pl_store *s) { return *(const int *)(const void *)s; }

/* Each engine function, once per engine: pl_sqs_NAME is SQLite's
 * (db/sqlite*.c), pl_pgs_NAME PostgreSQL's (db/pg_*.c; db/pg_none.c when
 * built without libpq).  Written out, one declaration a line, so that
 * static analysers (cppcheck's whole-program checks) tell them apart. */
enum pl_code pl_sqs_begin(pl_store *s, pl_error *err);
enum pl_code pl_pgs_begin(pl_store *s, pl_error *err);
enum pl_code pl_sqs_commit(pl_store *s, pl_error *err);
enum pl_code pl_pgs_commit(pl_store *s, pl_error *err);
void pl_sqs_rollback(pl_store *s);
void pl_pgs_rollback(pl_store *s);
enum pl_code pl_sqs_savepoint(pl_store *s, bool release, bool rollback);
enum pl_code pl_pgs_savepoint(pl_store *s, bool release, bool rollback);
void pl_sqs_on_wal(pl_store *s, pl_wal_fn fn, void *ud);
void pl_pgs_on_wal(pl_store *s, pl_wal_fn fn, void *ud);
void pl_sqs_checkpoint(pl_store *s);
void pl_pgs_checkpoint(pl_store *s);
int64_t pl_sqs_changes(pl_store *s);
int64_t pl_pgs_changes(pl_store *s);
bool pl_sqs_in_transaction(pl_store *s);
bool pl_pgs_in_transaction(pl_store *s);
void pl_sqs_guard_commits(pl_store *s);
void pl_pgs_guard_commits(pl_store *s);
enum pl_code pl_sqs_user_ensure(pl_store *s, const char *user, const char *name, int64_t now,
				bool *created, pl_error *err);
enum pl_code pl_pgs_user_ensure(pl_store *s, const char *user, const char *name, int64_t now,
				bool *created, pl_error *err);
bool pl_sqs_user_exists(pl_store *s, const char *user);
bool pl_pgs_user_exists(pl_store *s, const char *user);
enum pl_code pl_sqs_set_status(pl_store *s, const char *user, const char *status, pl_error *err);
enum pl_code pl_pgs_set_status(pl_store *s, const char *user, const char *status, pl_error *err);
enum pl_code pl_sqs_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err);
enum pl_code pl_pgs_set_last_seen(pl_store *s, const char *user, int64_t when, pl_error *err);
void pl_sqs_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen);
void pl_pgs_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen);
enum pl_code pl_sqs_presence_set(pl_store *s, const char *user, int connections, bool online,
				 pl_error *err);
enum pl_code pl_pgs_presence_set(pl_store *s, const char *user, int connections, bool online,
				 pl_error *err);
bool pl_sqs_presence_get(pl_store *s, const char *user, int *connections);
bool pl_pgs_presence_get(pl_store *s, const char *user, int *connections);
enum pl_code pl_sqs_presence_clear(pl_store *s, pl_error *err);
enum pl_code pl_pgs_presence_clear(pl_store *s, pl_error *err);
enum pl_code pl_sqs_room_create(pl_store *s, const char *id, const char *name, bool priv,
				const char *creator, int64_t now, pl_error *err);
enum pl_code pl_pgs_room_create(pl_store *s, const char *id, const char *name, bool priv,
				const char *creator, int64_t now, pl_error *err);
json_t *pl_sqs_room_get(pl_store *s, const char *id);
json_t *pl_pgs_room_get(pl_store *s, const char *id);
bool pl_sqs_room_private(pl_store *s, const char *id, bool *priv);
bool pl_pgs_room_private(pl_store *s, const char *id, bool *priv);
int pl_sqs_room_members(pl_store *s, const char *room);
int pl_pgs_room_members(pl_store *s, const char *room);
json_t *pl_sqs_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
			  int limit);
json_t *pl_pgs_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
			  int limit);
bool pl_sqs_is_member(pl_store *s, const char *room, const char *user);
bool pl_pgs_is_member(pl_store *s, const char *room, const char *user);
enum pl_code pl_sqs_member_add(pl_store *s, const char *room, const char *user, int64_t now,
			       bool *changed, pl_error *err);
enum pl_code pl_pgs_member_add(pl_store *s, const char *room, const char *user, int64_t now,
			       bool *changed, pl_error *err);
enum pl_code pl_sqs_member_remove(pl_store *s, const char *room, const char *user, bool *changed,
				  pl_error *err);
enum pl_code pl_pgs_member_remove(pl_store *s, const char *room, const char *user, bool *changed,
				  pl_error *err);
json_t *pl_sqs_user_rooms(pl_store *s, const char *user);
json_t *pl_pgs_user_rooms(pl_store *s, const char *user);
json_t *pl_sqs_member_ids(pl_store *s, const char *room, int limit);
json_t *pl_pgs_member_ids(pl_store *s, const char *room, int limit);
enum pl_code pl_sqs_message_post(pl_store *s, const struct pl_new_msg *m, char **json, size_t *len,
				 bool *created, pl_error *err);
enum pl_code pl_pgs_message_post(pl_store *s, const struct pl_new_msg *m, char **json, size_t *len,
				 bool *created, pl_error *err);
char *pl_sqs_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				    size_t *len);
char *pl_pgs_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				    size_t *len);
enum pl_code pl_sqs_message_insert(pl_store *s, const char *room, const char *sender,
				   const char *text, const char *client_id, int64_t now,
				   json_t **msg, pl_error *err);
enum pl_code pl_pgs_message_insert(pl_store *s, const char *room, const char *sender,
				   const char *text, const char *client_id, int64_t now,
				   json_t **msg, pl_error *err);
json_t *pl_sqs_message_get(pl_store *s, const char *room, int64_t id);
json_t *pl_pgs_message_get(pl_store *s, const char *room, int64_t id);
enum pl_code pl_sqs_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				 json_t **msg, pl_error *err);
enum pl_code pl_pgs_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				 json_t **msg, pl_error *err);
enum pl_code pl_sqs_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				   pl_error *err);
enum pl_code pl_pgs_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				   pl_error *err);
char *pl_sqs_messages_text(pl_store *s, const char *room, const char *member,
			   const struct pl_page *page, size_t *len, bool *any);
char *pl_pgs_messages_text(pl_store *s, const char *room, const char *member,
			   const struct pl_page *page, size_t *len, bool *any);
enum pl_code pl_sqs_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
			      pl_error *err);
enum pl_code pl_pgs_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
			      pl_error *err);
int64_t pl_sqs_last_event(pl_store *s);
int64_t pl_pgs_last_event(pl_store *s);
int pl_sqs_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud);
int pl_pgs_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud);
int pl_sqs_events_for_user(pl_store *s, const char *user, int64_t after, int limit, pl_event_fn fn,
			   void *ud);
int pl_pgs_events_for_user(pl_store *s, const char *user, int64_t after, int limit, pl_event_fn fn,
			   void *ud);
enum pl_code pl_sqs_receipt_update(pl_store *s, const char *room, const char *user,
				   int64_t delivered, int64_t read, pl_error *err);
enum pl_code pl_pgs_receipt_update(pl_store *s, const char *room, const char *user,
				   int64_t delivered, int64_t read, pl_error *err);
json_t *pl_sqs_receipts(pl_store *s, const char *room);
json_t *pl_pgs_receipts(pl_store *s, const char *room);
void pl_sqs_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			int64_t *read);
void pl_pgs_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			int64_t *read);

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
