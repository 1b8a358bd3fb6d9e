/* db/store: the store, the one source of truth (SQLite or PostgreSQL).
 *
 * The store is the log: every stored event (messages created, edited and
 * deleted; members joining and leaving) gets its id in the events table,
 * in commit order, so any process can read "what is new after id N" and
 * resume is gap-free on every transport and node.
 *
 * A pl_store is one connection to the database with its prepared
 * statements; it is used by one thread at a time.  Writes happen inside
 * transactions opened by db/writer; reads may happen on any connection.
 * Functions return PL_OK or an error code with err filled; JSON results
 * are new references the caller owns.
 *
 * Engines.  Everything below is engine-neutral but the connection itself.
 * An engine provides every function declared here except the ones marked
 * "shared", which db/store.c builds once for every engine on the others.
 * The SQLite engine is db/sqlite*.c (connection and statements in
 * db/sqlite.c, schema in db/sqlite_schema.c, then one file per concept:
 * users, rooms, messages, events, receipts, presence), sharing
 * db/sqlite_int.h.  What an engine must keep, whatever its SQL:
 *   - event ids increase in commit order: once a reader saw id N, no id
 *     below N commits later ("after N" is gap-free, see
 *     docs/ARCHITECTURE.md "The store is the log");
 *   - pl_store_begin takes the write lock at once (no upgrade failures
 *     later), and a busy database is PL_UNAVAILABLE, never PL_INTERNAL;
 *   - pl_store_changes moves exactly when a statement wrote rows (the
 *     writer finds out from it whether a failed job wrote anything);
 *   - message and event JSON is written by db/json.h's writers only, so
 *     it is the same bytes on every engine and every path.
 *
 * The PostgreSQL engine is db/pg_*.c (db/pg_int.h), opened when path is a
 * postgresql:// URL.  How a call reaches the engine of its store, and why
 * a switch on the engine's kind rather than a struct of function pointers
 * (one list of signatures the compiler checks for both engines, a branch
 * per call, SQLite's files unchanged): db/engine.h.  On PostgreSQL an
 * event is appended at the COMMIT of its transaction (under the event-log
 * lock, db/pglog.h), so pl_store_event_add's *id is 0 there. */
#ifndef PL_STORE_H
#define PL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "db/json.h"

typedef struct pl_store pl_store;

#define PL_SCHEMA_VERSION 4

/* Opens (creating and migrating if needed) the database at path. */
enum pl_code pl_store_open(const char *path, pl_store **out, pl_error *err);
void pl_store_close(pl_store *s);

/* Transactions (writer only).  begin is BEGIN IMMEDIATE: it waits for other
 * processes' writers (busy_timeout) instead of failing later on upgrade. */
enum pl_code pl_store_begin(pl_store *s, pl_error *err);
enum pl_code pl_store_commit(pl_store *s, pl_error *err);
void pl_store_rollback(pl_store *s);
enum pl_code pl_store_savepoint(pl_store *s, bool release, bool rollback);
/* WAL checkpoints (db/checkpoint): fn(ud, pages in the WAL) after each
 * commit on s, in place of SQLite's checkpoint at commit; NULL restores
 * that.  pl_store_checkpoint runs a PASSIVE checkpoint. */
typedef void (*pl_wal_fn)(void *ud, int pages);
void pl_store_on_wal(pl_store *s, pl_wal_fn fn, void *ud);
void pl_store_checkpoint(pl_store *s);
/* Rows changed on this connection so far: a job wrote iff it moved. */
int64_t pl_store_changes(pl_store *s);
/* False when no transaction is open (SQLite may end one on an error). */
bool pl_store_in_transaction(pl_store *s);
/* From now on writes on s commit only through pl_store_commit (the
 * writer's connection).  SQLite ends a transaction itself on some errors
 * (out of memory, I/O); a job that goes on writing after that would
 * otherwise commit each statement on its own, outside the batch and
 * before its answer: such a statement fails instead, and the writer runs
 * the batch again. */
void pl_store_guard_commits(pl_store *s);
/* The connection itself, for the store's own modules in db/ (db/outbox.c).
 * SQLite engine only. */
struct sqlite3 *pl_store_sqlite(pl_store *s);

/* Users. */
enum pl_code pl_store_user_ensure(pl_store *s, const char *user, const char *name,
				  int64_t now, bool *created, pl_error *err);
bool pl_store_user_exists(pl_store *s, const char *user);
enum pl_code pl_store_set_status(pl_store *s, const char *user, const char *status,
				 pl_error *err);
enum pl_code pl_store_set_last_seen(pl_store *s, const char *user, int64_t when,
				    pl_error *err);
/* manual status ("online" when none was set) and last_seen (0 when never). */
void pl_store_user_status(pl_store *s, const char *user, char status[16], int64_t *last_seen);

/* Presence as parleyd counts it, mirrored for other processes: a row while
 * the user is online (connections may be 0 during the grace period). */
enum pl_code pl_store_presence_set(pl_store *s, const char *user, int connections,
				   bool online, pl_error *err);
bool pl_store_presence_get(pl_store *s, const char *user, int *connections);
enum pl_code pl_store_presence_clear(pl_store *s, pl_error *err);

/* Rooms and members. */
enum pl_code pl_store_room_create(pl_store *s, const char *id, const char *name, bool priv,
				  const char *creator, int64_t now, pl_error *err);
/* room object, or NULL when there is no such room. */
json_t *pl_store_room_get(pl_store *s, const char *id);
bool pl_store_room_private(pl_store *s, const char *id, bool *priv);
int pl_store_room_members(pl_store *s, const char *room); /* count, -1 if no room */
json_t *pl_store_rooms_visible(pl_store *s, const char *user); /* shared */
/* The same a page at a time, in id order: rooms after the id after (NULL:
 * from the first), whose names contain q in any ASCII case (NULL: all), at
 * most limit of them. */
json_t *pl_store_rooms_page(pl_store *s, const char *user, const char *after, const char *q,
			    int limit);
bool pl_store_is_member(pl_store *s, const char *room, const char *user);
/* Adds or removes; *changed says whether membership really changed. */
enum pl_code pl_store_member_add(pl_store *s, const char *room, const char *user, int64_t now,
				 bool *changed, pl_error *err);
enum pl_code pl_store_member_remove(pl_store *s, const char *room, const char *user,
				    bool *changed, pl_error *err);
/* Array of room ids the user belongs to (owned by the caller). */
json_t *pl_store_user_rooms(pl_store *s, const char *user);
/* Array of user ids of a room (bounded by limit). */
json_t *pl_store_member_ids(pl_store *s, const char *room, int limit);

/* Messages. */
struct pl_new_msg {
	const char *room, *sender, *text, *client_id;
	int64_t now;
};
/* Stores a message and its message.created event, and makes its JSON text
 * (*json, malloc'd, *len bytes): the ack, the response and the event's
 * data are that one text.  When sender already stored a message with this
 * client_id, nothing is stored, *created is false and the text is the
 * earlier message's.  Membership is the caller's to check. */
enum pl_code pl_store_message_post(pl_store *s, const struct pl_new_msg *m, char **json,
				   size_t *len, bool *created, pl_error *err);
/* The message sender stored with client_id as JSON text, or NULL. */
char *pl_store_message_by_client_text(pl_store *s, const char *sender, const char *client_id,
				      size_t *len);
/* The message alone, no event; PL_CONFLICT when client_id is taken. */
enum pl_code pl_store_message_insert(pl_store *s, const char *room, const char *sender,
				     const char *text, const char *client_id, int64_t now,
				     json_t **msg, pl_error *err);
/* The message sent earlier by sender with client_id, or NULL (shared). */
json_t *pl_store_message_by_client(pl_store *s, const char *sender, const char *client_id);
json_t *pl_store_message_get(pl_store *s, const char *room, int64_t id);
enum pl_code pl_store_message_edit(pl_store *s, int64_t id, const char *text, int64_t now,
				   json_t **msg, pl_error *err);
enum pl_code pl_store_message_delete(pl_store *s, int64_t id, int64_t now, json_t **msg,
				     pl_error *err);
struct pl_page {
	int limit;          /* 1..200 */
	int64_t before;     /* 0 = none */
	int64_t after;      /* 0 = none, unless from_start */
	bool from_start;    /* after=0: forwards from the oldest */
	int64_t since;      /* ms, when has_since */
	bool has_since;
};
/* {"messages":[..oldest first..],"has_more":bool} (shared) */
json_t *pl_store_messages(pl_store *s, const char *room, const struct pl_page *page);
/* The same page as compact JSON text, written straight from the rows (what
 * GET .../messages sends): malloc'd, *len its length, NULL when out of
 * memory.  With member, only rows of a room member is in are read, in the
 * same statement: *any says whether a row was read (so member is a member;
 * none: an empty page, or not a member). */
char *pl_store_messages_text(pl_store *s, const char *room, const char *member,
			     const struct pl_page *page, size_t *len, bool *any);

/* Events: the log.  target is NULL for events to every member of the room,
 * or one user id for events only that user's connections receive (silent
 * membership changes of large rooms).  data is borrowed (shared). */
enum pl_code pl_store_event_append(pl_store *s, const char *room, const char *type,
				   const char *target, json_t *data, int64_t now,
				   int64_t *id, pl_error *err);
/* The same with data as JSON text, and for a message's event its sender
 * and id in fields of their own, so that readers (the hub's delivered
 * receipts) need not parse data. */
struct pl_new_event {
	const char *room, *type;
	const char *target;   /* NULL: every member of the room */
	const char *data;     /* JSON text of len bytes, borrowed */
	size_t len;
	int64_t ts;
	const char *sender;   /* a message's event: its sender and id ... */
	int64_t message_id;   /* ... else NULL and 0 */
};
enum pl_code pl_store_event_add(pl_store *s, const struct pl_new_event *e, int64_t *id,
				pl_error *err);
int64_t pl_store_last_event(pl_store *s);

struct pl_event_row {
	int64_t id;
	int64_t ts;
	char room[2 * 64 + 8];
	char type[32];
	char target[65];      /* "" when the event is for the whole room */
	const char *data;     /* JSON text, valid until the next step */
	char sender[65];      /* a message's event: its sender and id, as */
	int64_t message_id;   /* pl_new_event has them; else "" and 0 */
};
/* Iterates events with id > after, oldest first, at most limit; calls fn for
 * each (stop by returning false).  Returns the number visited. */
typedef bool (*pl_event_fn)(void *ud, const struct pl_event_row *row);
int pl_store_events_after(pl_store *s, int64_t after, int limit, pl_event_fn fn, void *ud);
/* The same restricted to the rooms user is a member of now (replay). */
int pl_store_events_for_user(pl_store *s, const char *user, int64_t after, int limit,
			     pl_event_fn fn, void *ud);

/* The API's event object for a row (db/json.h's writer), built without
 * parsing its data: malloc'd text, NULL when out of memory (shared). */
char *pl_event_row_json(const struct pl_event_row *row, size_t *len);

/* Receipts. */
enum pl_code pl_store_receipt_update(pl_store *s, const char *room, const char *user,
				     int64_t delivered, int64_t read, pl_error *err);
json_t *pl_store_receipts(pl_store *s, const char *room);
void pl_store_receipt_get(pl_store *s, const char *room, const char *user, int64_t *delivered,
			  int64_t *read);

/* pl_event_json, the jansson form of an event object: db/json.h. */

#endif
