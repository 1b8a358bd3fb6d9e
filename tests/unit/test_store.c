/* tests/unit/test_store: db/store against a scratch database file.
 *
 * Two pl_store handles on the same file stand for two processes (parleyd
 * and parley.fcgi workers share one database): what one commits the other
 * reads; what one has not committed the other does not see.  Then the
 * schema (migrations idempotent, user_version), users, rooms and members,
 * messages (insert, client_id lookup, edit, delete), pagination (before,
 * after, since, has_more), the event log (events_after, events_for_user
 * with targeted events and rooms the user is not in) and receipts (max).
 * Last, fault injection (tests/unit/fault.h): opening, posting, editing and
 * reading with the n-th allocation or I/O call failing, for every n. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "db/outbox.h"
#include "db/store.h"
#include "tests/unit/fault.h"
#include "tests/unit/t.h"

#define PL_STR_(x) #x
#define PL_STR(x) PL_STR_(x)
#define T0 1795508130000LL /* 2026-11-24T08:15:30.000Z */

static char dir[64], path[128];

static pl_store *open_store(void)
{
	pl_store *s = NULL;
	pl_error err = {0};
	enum pl_code rc = pl_store_open(path, &s, &err);
	if (rc != PL_OK)
		fprintf(stderr, "  pl_store_open: %s\n", err.message);
	CHECK(rc == PL_OK && s != NULL);
	if (!s) {
		printf("cannot continue without a store\n");
		exit(1);
	}
	return s;
}

static long long jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }
static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* ---- schema ---- */

static void test_open_and_migrate(void)
{
	pl_store *a = open_store();
	CHECK(fault_sql_int(path, "PRAGMA user_version") == PL_SCHEMA_VERSION);
	CHECK(fault_sql_int(path, "SELECT COUNT(*) FROM rooms WHERE id = 'general'") == 1);
	/* Opening again (a restart, a second process) migrates nothing twice. */
	pl_store *b = open_store();
	pl_store_close(b);
	pl_store_close(a);
	a = open_store();
	pl_store_close(a);
	CHECK(fault_sql_int(path, "PRAGMA user_version") == PL_SCHEMA_VERSION);
	CHECK(fault_sql_int(path, "SELECT COUNT(*) FROM rooms") == 1);
	CHECK(fault_sql_int(path, "SELECT COUNT(*) FROM rooms WHERE id = 'general'") == 1);
	/* WAL: readers and the writer do not block each other. */
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* A database from a newer build is refused, not opened and damaged. */
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	pl_store *s = NULL;
	pl_error err = {0};
	CHECK(pl_store_open(path, &s, &err) != PL_OK);
	CHECK(s == NULL);
	CHECK(strstr(err.message, "999") != NULL);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = " PL_STR(PL_SCHEMA_VERSION), NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(db);
	/* A caller that does not want the words passes no error: failures
	 * are still codes, never a NULL dereference. */
	CHECK(pl_store_open("/nonexistent-folder/parley.db", &s, NULL) != PL_OK && s == NULL);
	s = open_store();
	bool changed = false;
	CHECK(pl_store_member_add(s, "no-such-room", "zed", T0, &changed, NULL) != PL_OK);
	pl_store_close(s);
}

/* ---- two handles, one file ---- */

static void test_two_handles(pl_store *a, pl_store *b)
{
	pl_error err = {0};
	bool created;
	CHECK(pl_store_begin(a, &err) == PL_OK);
	CHECK(pl_store_user_ensure(a, "twin", "Twin", T0, &created, &err) == PL_OK && created);
	CHECK(pl_store_room_create(a, "shared", "Shared", false, "twin", T0, &err) == PL_OK);
	/* Not committed yet: b does not see it. */
	CHECK(!pl_store_user_exists(b, "twin"));
	json_t *r = pl_store_room_get(b, "shared");
	CHECK(r == NULL);
	json_decref(r);
	CHECK(pl_store_commit(a, &err) == PL_OK);
	CHECK(pl_store_user_exists(b, "twin"));
	r = pl_store_room_get(b, "shared");
	CHECK(r != NULL);
	CHECK_STR(jstr(r, "name"), "Shared");
	json_decref(r);
	/* And the other way round; a rolled-back write is seen by nobody. */
	CHECK(pl_store_begin(b, &err) == PL_OK);
	json_t *msg = NULL;
	CHECK(pl_store_message_insert(b, "shared", "twin", "from b", NULL, T0, &msg, &err) == PL_OK);
	int64_t id = jint(msg, "id");
	json_decref(msg);
	CHECK(pl_store_commit(b, &err) == PL_OK);
	msg = pl_store_message_get(a, "shared", id);
	CHECK(msg && strcmp(jstr(msg, "text"), "from b") == 0);
	json_decref(msg);
	CHECK(pl_store_begin(a, &err) == PL_OK);
	CHECK(pl_store_room_create(a, "ghost", "Ghost", false, "twin", T0, &err) == PL_OK);
	pl_store_rollback(a);
	CHECK(pl_store_room_get(a, "ghost") == NULL);
	CHECK(pl_store_room_get(b, "ghost") == NULL);
	/* Savepoints: a failed job rolls back to its savepoint only. */
	CHECK(pl_store_begin(a, &err) == PL_OK);
	CHECK(pl_store_savepoint(a, false, false) == PL_OK);
	CHECK(pl_store_room_create(a, "kept", "Kept", false, "twin", T0, &err) == PL_OK);
	CHECK(pl_store_savepoint(a, true, false) == PL_OK);
	CHECK(pl_store_savepoint(a, false, false) == PL_OK);
	CHECK(pl_store_room_create(a, "undone", "Undone", false, "twin", T0, &err) == PL_OK);
	CHECK(pl_store_savepoint(a, true, true) == PL_OK);
	CHECK(pl_store_commit(a, &err) == PL_OK);
	json_t *kept = pl_store_room_get(b, "kept"), *undone = pl_store_room_get(b, "undone");
	CHECK(kept != NULL);
	CHECK(undone == NULL);
	json_decref(kept);
	json_decref(undone);
}

/* ---- users ---- */

static void test_users(pl_store *s)
{
	pl_error err = {0};
	bool created = false;
	CHECK(pl_store_user_ensure(s, "alice", "Alice", T0, &created, &err) == PL_OK);
	CHECK(created);
	CHECK(pl_store_user_ensure(s, "alice", "Other", T0, &created, &err) == PL_OK);
	CHECK(!created);
	CHECK(pl_store_user_exists(s, "alice"));
	CHECK(!pl_store_user_exists(s, "nobody"));
	char st[16];
	int64_t seen = -1;
	pl_store_user_status(s, "alice", st, &seen);
	CHECK_STR(st, "online");
	CHECK(seen == 0);
	CHECK(pl_store_set_status(s, "alice", "away", &err) == PL_OK);
	CHECK(pl_store_set_last_seen(s, "alice", T0 + 5, &err) == PL_OK);
	pl_store_user_status(s, "alice", st, &seen);
	CHECK_STR(st, "away");
	CHECK(seen == T0 + 5);
	pl_store_user_status(s, "nobody", st, &seen);
	CHECK_STR(st, "online");
	CHECK(seen == 0);
}

/* ---- rooms and members ---- */

static void test_rooms(pl_store *s)
{
	pl_error err = {0};
	bool changed;
	CHECK(pl_store_room_create(s, "lobby", "Lobby", false, "alice", T0, &err) == PL_OK);
	memset(&err, 0, sizeof err);
	CHECK(pl_store_room_create(s, "lobby", "Again", true, "bob", T0, &err) == PL_CONFLICT);
	CHECK(err.code == PL_CONFLICT);
	CHECK(strstr(err.message, "lobby") != NULL);
	CHECK(pl_store_room_create(s, "general", "G", false, "bob", T0, &err) == PL_CONFLICT);
	json_t *r = pl_store_room_get(s, "lobby");
	CHECK(r != NULL);
	CHECK_STR(jstr(r, "id"), "lobby");
	CHECK_STR(jstr(r, "name"), "Lobby"); /* the conflict changed nothing */
	CHECK(json_is_false(json_object_get(r, "private")));
	CHECK_STR(jstr(r, "created_by"), "alice");
	CHECK_STR(jstr(r, "created_at"), "2026-11-24T08:15:30.000Z");
	CHECK(jint(r, "members") == 0);
	json_decref(r);
	CHECK(pl_store_room_get(s, "nope") == NULL);
	r = pl_store_room_get(s, "general");
	CHECK(r && json_is_null(json_object_get(r, "created_by")));
	json_decref(r);

	CHECK(pl_store_room_create(s, "secret", "Secret", true, "alice", T0, &err) == PL_OK);
	bool priv = false;
	CHECK(pl_store_room_private(s, "secret", &priv) && priv);
	CHECK(pl_store_room_private(s, "lobby", &priv) && !priv);
	CHECK(!pl_store_room_private(s, "nope", &priv));

	/* Membership and its count. */
	CHECK(pl_store_room_members(s, "lobby") == 0);
	CHECK(pl_store_room_members(s, "nope") == -1);
	CHECK(pl_store_member_add(s, "lobby", "alice", T0, &changed, &err) == PL_OK && changed);
	CHECK(pl_store_member_add(s, "lobby", "alice", T0, &changed, &err) == PL_OK && !changed);
	CHECK(pl_store_room_members(s, "lobby") == 1);
	CHECK(pl_store_member_add(s, "lobby", "bob", T0, &changed, &err) == PL_OK && changed);
	CHECK(pl_store_member_add(s, "lobby", "carol", T0, &changed, &err) == PL_OK && changed);
	CHECK(pl_store_room_members(s, "lobby") == 3);
	CHECK(pl_store_is_member(s, "lobby", "bob"));
	CHECK(!pl_store_is_member(s, "lobby", "dave"));
	CHECK(!pl_store_is_member(s, "secret", "bob"));
	CHECK(pl_store_member_remove(s, "lobby", "bob", &changed, &err) == PL_OK && changed);
	CHECK(pl_store_member_remove(s, "lobby", "bob", &changed, &err) == PL_OK && !changed);
	CHECK(pl_store_member_remove(s, "lobby", "dave", &changed, &err) == PL_OK && !changed);
	CHECK(pl_store_room_members(s, "lobby") == 2);
	CHECK(!pl_store_is_member(s, "lobby", "bob"));
	r = pl_store_room_get(s, "lobby");
	CHECK(jint(r, "members") == 2);
	json_decref(r);
	/* No member of a room that does not exist. */
	CHECK(pl_store_member_add(s, "nope", "alice", T0, &changed, &err) != PL_OK);
	CHECK(pl_store_room_members(s, "nope") == -1);

	CHECK(pl_store_member_add(s, "secret", "alice", T0, &changed, &err) == PL_OK && changed);
	json_t *ids = pl_store_member_ids(s, "lobby", 100);
	CHECK(json_array_size(ids) == 2);
	CHECK_STR(json_string_value(json_array_get(ids, 0)), "alice");
	CHECK_STR(json_string_value(json_array_get(ids, 1)), "carol");
	json_decref(ids);
	ids = pl_store_member_ids(s, "lobby", 1);
	CHECK(json_array_size(ids) == 1);
	json_decref(ids);
	ids = pl_store_user_rooms(s, "alice");
	CHECK(json_array_size(ids) == 2);
	CHECK_STR(json_string_value(json_array_get(ids, 0)), "lobby");
	CHECK_STR(json_string_value(json_array_get(ids, 1)), "secret");
	json_decref(ids);

	/* Visible rooms: every public room and the user's own private ones. */
	json_t *vis = pl_store_rooms_visible(s, "alice");
	bool saw_secret = false, saw_general = false;
	size_t i;
	json_t *v;
	json_array_foreach(vis, i, v) {
		saw_secret |= strcmp(jstr(v, "id"), "secret") == 0;
		saw_general |= strcmp(jstr(v, "id"), "general") == 0;
	}
	CHECK(saw_secret && saw_general);
	json_decref(vis);
	vis = pl_store_rooms_visible(s, "carol");
	saw_secret = saw_general = false;
	int lobbies = 0;
	json_array_foreach(vis, i, v) {
		saw_secret |= strcmp(jstr(v, "id"), "secret") == 0;
		saw_general |= strcmp(jstr(v, "id"), "general") == 0;
		lobbies += strcmp(jstr(v, "id"), "lobby") == 0;
	}
	CHECK(!saw_secret && saw_general);
	CHECK(lobbies == 1); /* public and a member: listed once */
	json_decref(vis);
}

/* ---- messages ---- */

static void test_messages(pl_store *s)
{
	pl_error err = {0};
	json_t *m1 = NULL, *m2 = NULL, *m3 = NULL;
	CHECK(pl_store_message_insert(s, "lobby", "alice", "h\xc3\xa9llo", "c-1", T0 + 1, &m1,
				      &err) == PL_OK);
	CHECK(m1 != NULL);
	int64_t id1 = jint(m1, "id");
	CHECK(id1 > 0);
	CHECK_STR(jstr(m1, "room"), "lobby");
	CHECK_STR(jstr(m1, "sender"), "alice");
	CHECK_STR(jstr(m1, "text"), "h\xc3\xa9llo");
	CHECK_STR(jstr(m1, "client_id"), "c-1");
	CHECK_STR(jstr(m1, "created_at"), "2026-11-24T08:15:30.001Z");
	CHECK(json_is_null(json_object_get(m1, "edited_at")));
	CHECK(json_is_false(json_object_get(m1, "deleted")));
	CHECK(pl_store_message_insert(s, "lobby", "carol", "second", NULL, T0 + 2, &m2, &err) ==
	      PL_OK);
	CHECK(jint(m2, "id") > id1);
	CHECK(json_is_null(json_object_get(m2, "client_id")));

	/* client_id: the sender's earlier message; another sender's is not it. */
	json_t *again = pl_store_message_by_client(s, "alice", "c-1");
	CHECK(again && jint(again, "id") == id1);
	CHECK(again && json_equal(again, m1));
	json_decref(again);
	CHECK(pl_store_message_by_client(s, "carol", "c-1") == NULL);
	CHECK(pl_store_message_by_client(s, "alice", "c-2") == NULL);
	/* The same client_id from another sender is another message. */
	CHECK(pl_store_message_insert(s, "lobby", "carol", "mine", "c-1", T0 + 3, &m3, &err) ==
	      PL_OK);
	json_decref(m3);
	/* The same sender and client_id twice cannot be stored. */
	m3 = NULL;
	CHECK(pl_store_message_insert(s, "lobby", "alice", "dup", "c-1", T0 + 4, &m3, &err) !=
	      PL_OK);
	CHECK(m3 == NULL);
	/* A message must be in a room that exists. */
	CHECK(pl_store_message_insert(s, "nope", "alice", "x", NULL, T0, &m3, &err) != PL_OK);

	json_t *got = pl_store_message_get(s, "lobby", id1);
	CHECK(got && json_equal(got, m1));
	json_decref(got);
	CHECK(pl_store_message_get(s, "general", id1) == NULL); /* the room must match */
	CHECK(pl_store_message_get(s, "lobby", 999999) == NULL);

	/* Edit. */
	json_t *ed = NULL;
	CHECK(pl_store_message_edit(s, id1, "edited", T0 + 10, &ed, &err) == PL_OK);
	CHECK(ed && jint(ed, "id") == id1);
	CHECK_STR(jstr(ed, "text"), "edited");
	CHECK_STR(jstr(ed, "edited_at"), "2026-11-24T08:15:30.010Z");
	CHECK_STR(jstr(ed, "created_at"), "2026-11-24T08:15:30.001Z");
	CHECK_STR(jstr(ed, "client_id"), "c-1");
	json_decref(ed);
	got = pl_store_message_get(s, "lobby", id1);
	CHECK_STR(jstr(got, "text"), "edited");
	json_decref(got);
	CHECK(pl_store_message_edit(s, 999999, "x", T0, &ed, &err) == PL_NOT_FOUND);

	/* Delete: no text, deleted, and no more edits. */
	json_t *del = NULL;
	CHECK(pl_store_message_delete(s, id1, T0 + 20, &del, &err) == PL_OK);
	CHECK(del && json_is_true(json_object_get(del, "deleted")));
	CHECK(del && json_is_null(json_object_get(del, "text")));
	CHECK_STR(jstr(del, "sender"), "alice");
	json_decref(del);
	ed = NULL;
	CHECK(pl_store_message_edit(s, id1, "back", T0 + 30, &ed, &err) == PL_NOT_FOUND);
	CHECK(ed == NULL);
	got = pl_store_message_get(s, "lobby", id1);
	CHECK(got && json_is_null(json_object_get(got, "text")));
	CHECK(got && json_is_true(json_object_get(got, "deleted")));
	json_decref(got);
	CHECK(pl_store_message_delete(s, 999999, T0, &del, &err) == PL_NOT_FOUND);
	json_decref(m1);
	json_decref(m2);
}

/* ---- pagination ---- */

static int64_t ids[120];

/* The ids of a page, checked to be ascending and of this room. */
static bool page_is(json_t *page, int first, int count, bool more)
{
	json_t *msgs = json_object_get(page, "messages");
	bool ok = json_is_array(msgs) && (int)json_array_size(msgs) == count &&
		  json_is_boolean(json_object_get(page, "has_more")) &&
		  json_is_true(json_object_get(page, "has_more")) == more;
	for (int i = 0; ok && i < count; i++) {
		json_t *m = json_array_get(msgs, (size_t)i);
		ok = jint(m, "id") == ids[first + i] && strcmp(jstr(m, "room"), "pages") == 0;
	}
	if (!ok) {
		char *t = json_dumps(page, JSON_COMPACT);
		fprintf(stderr, "  page: want %d from #%d (id %lld) has_more %d; got %.300s\n",
			count, first, (long long)ids[first], more, t ? t : "?");
		free(t);
	}
	json_decref(page);
	return ok;
}

/* ---- posting: message, event and JSON text in one ---- */

static bool keep_last(void *ud, const struct pl_event_row *row)
{
	char **out = ud;
	free(*out);
	*out = strdup(row->data);
	return true;
}

/* The last row's sender and message id (pl_event_row). */
struct row_ids {
	char sender[65];
	int64_t message_id;
};

static bool keep_ids(void *ud, const struct pl_event_row *row)
{
	struct row_ids *r = ud;
	snprintf(r->sender, sizeof r->sender, "%s", row->sender);
	r->message_id = row->message_id;
	return true;
}

/* The text pl_store_message_post makes is the message as jansson would
 * write it, and the message.created event's data is that same text; the
 * event row names the sender and the message id (the hub reads them). */
static void check_post(pl_store *s, const struct pl_new_msg *m, bool want_created)
{
	pl_error err = {0};
	char *text = NULL, *data = NULL;
	size_t len = 0;
	bool created = !want_created;
	int64_t before = pl_store_last_event(s);
	CHECK(pl_store_message_post(s, m, &text, &len, &created, &err) == PL_OK);
	CHECK(text && strlen(text) == len);
	CHECK(created == want_created);
	json_t *msg = text ? json_loadb(text, len, 0, NULL) : NULL;
	json_t *got = msg ? pl_store_message_get(s, m->room, jint(msg, "id")) : NULL;
	char *dumped = got ? json_dumps(got, JSON_COMPACT) : NULL;
	CHECK_STR(dumped, text ? text : "");
	pl_store_events_after(s, before, 10, keep_last, &data);
	if (want_created) {
		CHECK(pl_store_last_event(s) == before + 1);
		CHECK_STR(data, text ? text : "");
		struct row_ids ids = {"", 0};
		pl_store_events_after(s, before, 10, keep_ids, &ids);
		CHECK_STR(ids.sender, m->sender);
		CHECK(msg && ids.message_id == jint(msg, "id"));
	} else {
		CHECK(pl_store_last_event(s) == before); /* nothing stored */
	}
	free(data);
	free(dumped);
	json_decref(got);
	json_decref(msg);
	free(text);
}

static void test_post(pl_store *s)
{
	pl_error err = {0};
	/* Every escape jansson makes, and text beyond ASCII. */
	struct pl_new_msg m = {"lobby", "alice", "q\"b\\s\n\t\r\b\f\x01\x1f/\xc3\xa9\xf0\x9f\x98\x80",
			       "post-1", T0 + 10};
	check_post(s, &m, true);
	/* A retry: the first message, whatever the second text says. */
	struct pl_new_msg again = {"lobby", "alice", "other", "post-1", T0 + 11};
	check_post(s, &again, false);
	size_t len;
	char *text = pl_store_message_by_client_text(s, "alice", "post-1", &len);
	CHECK(text && strstr(text, "\"text\":\"q\\\"b") != NULL);
	free(text);
	CHECK(pl_store_message_by_client_text(s, "alice", "post-none", &len) == NULL);
	/* No client_id: every post is a new message. */
	struct pl_new_msg plain = {"lobby", "carol", "plain", NULL, T0 + 12};
	check_post(s, &plain, true);
	check_post(s, &plain, true);
	/* A room that does not exist: an error, nothing stored. */
	int64_t before = pl_store_last_event(s);
	struct pl_new_msg nowhere = {"nope", "alice", "x", "post-2", T0 + 13};
	char *out = NULL;
	bool created = true;
	CHECK(pl_store_message_post(s, &nowhere, &out, &len, &created, &err) != PL_OK);
	CHECK(out == NULL && !created);
	CHECK(pl_store_last_event(s) == before);
	CHECK(pl_store_message_by_client_text(s, "alice", "post-2", &len) == NULL);
}

/* ---- pages ---- */

static void test_pages(pl_store *a, pl_store *b)
{
	pl_error err = {0};
	CHECK(pl_store_room_create(a, "pages", "Pages", false, "alice", T0, &err) == PL_OK);
	CHECK(pl_store_room_create(a, "other", "Other", false, "alice", T0, &err) == PL_OK);
	CHECK(pl_store_begin(a, &err) == PL_OK);
	for (int i = 0; i < 120; i++) {
		json_t *m = NULL, *noise = NULL;
		char text[16];
		snprintf(text, sizeof text, "m%d", i);
		/* created_at: a second apart; interleaved with another room. */
		CHECK(pl_store_message_insert(a, "pages", "alice", text, NULL, T0 + i * 1000LL, &m,
					      &err) == PL_OK);
		CHECK(pl_store_message_insert(a, "other", "alice", text, NULL, T0 + i * 1000LL,
					      &noise, &err) == PL_OK);
		ids[i] = jint(m, "id");
		json_decref(m);
		json_decref(noise);
	}
	CHECK(pl_store_commit(a, &err) == PL_OK);

	/* The newest page by default, oldest first; then "before" walks back.
	 * Read through the other handle: a second process sees it all. */
	struct pl_page p = {.limit = 50};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 70, 50, true));
	p.before = ids[70];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 20, 50, true));
	p.before = ids[20];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 20, false));
	p.before = ids[0];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 0, false));
	/* Exactly as many as asked: no more. */
	p = (struct pl_page){.limit = 20, .before = ids[20]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 20, false));
	p = (struct pl_page){.limit = 120};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 120, false));
	p = (struct pl_page){.limit = 119};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 1, 119, true));
	p = (struct pl_page){.limit = 200};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 120, false));
	p = (struct pl_page){.limit = 1};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 119, 1, true));

	/* "after" walks forwards, oldest first, from just after the id. */
	p = (struct pl_page){.limit = 50, .after = ids[9]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 10, 50, true));
	p.after = ids[59];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 60, 50, true));
	p.after = ids[109];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 110, 10, false));
	p.after = ids[119];
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 0, false));
	p = (struct pl_page){.limit = 10, .after = ids[109]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 110, 10, false));
	/* after and before together: the window between them. */
	p = (struct pl_page){.limit = 50, .after = ids[9], .before = ids[20]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 10, 10, false));
	p = (struct pl_page){.limit = 5, .after = ids[9], .before = ids[20]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 10, 5, true));

	/* "since": created at or after the time, oldest first. */
	p = (struct pl_page){.limit = 50, .has_since = true, .since = T0 + 100 * 1000LL};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 100, 20, false));
	p = (struct pl_page){.limit = 20, .has_since = true, .since = T0 + 100 * 1000LL};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 100, 20, false));
	p = (struct pl_page){.limit = 19, .has_since = true, .since = T0 + 100 * 1000LL};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 100, 19, true));
	p = (struct pl_page){.limit = 50, .has_since = true, .since = T0 + 99 * 1000LL + 1};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 100, 20, false));
	p = (struct pl_page){.limit = 50, .has_since = true, .since = T0 + 120 * 1000LL};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 0, false));
	p = (struct pl_page){.limit = 50, .has_since = true, .since = 1};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 0, 50, true));
	/* since and before: from the time, up to the id. */
	p = (struct pl_page){.limit = 50, .has_since = true, .since = T0 + 100 * 1000LL, .before = ids[105]};
	CHECK(page_is(pl_store_messages(b, "pages", &p), 100, 5, false));

	/* Deleted messages keep their place in the history. */
	json_t *del = NULL;
	CHECK(pl_store_message_delete(a, ids[119], T0 + 999999, &del, &err) == PL_OK);
	json_decref(del);
	p = (struct pl_page){.limit = 2};
	json_t *page = pl_store_messages(b, "pages", &p);
	json_t *last = json_array_get(json_object_get(page, "messages"), 1);
	CHECK(last && jint(last, "id") == ids[119] && json_is_true(json_object_get(last, "deleted")));
	json_decref(page);

	/* An empty or unknown room is an empty page. */
	p = (struct pl_page){.limit = 50};
	page = pl_store_messages(b, "nope", &p);
	CHECK(json_array_size(json_object_get(page, "messages")) == 0);
	CHECK(json_is_false(json_object_get(page, "has_more")));
	json_decref(page);
}

/* ---- pages as text ----
 *
 * pl_store_messages_text writes the JSON itself.  It must be the text
 * jansson would make (parsing and dumping it again changes no byte) of the
 * objects message_row makes (what pl_store_message_get returns), for every
 * escape, null and time, and leave out a row jansson could not hold
 * (text that is not UTF-8) as the tree did. */

static bool sql_exec(const char *q)
{
	sqlite3 *db;
	bool ok = sqlite3_open(path, &db) == SQLITE_OK;
	if (ok) {
		sqlite3_busy_timeout(db, 5000);
		ok = sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK;
	}
	sqlite3_close(db);
	return ok;
}

static bool text_page_ok(pl_store *s, const char *room, const struct pl_page *p)
{
	size_t len = 0;
	bool any, mine;
	char *text = pl_store_messages_text(s, room, NULL, p, &len, &any);
	json_t *page = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL;
	char *again = page ? json_dumps(page, JSON_COMPACT) : NULL;
	bool ok = again && strlen(again) == len && memcmp(again, text, len) == 0 &&
		  json_object_size(page) == 2 && json_is_boolean(json_object_get(page, "has_more"));
	/* A member reads the same page in one statement; anyone else none. */
	size_t mlen = 0;
	char *as_member = pl_store_messages_text(s, room, "alice", p, &mlen, &mine);
	ok = ok && as_member && mlen == len && memcmp(as_member, text, len) == 0 && mine == any;
	free(as_member);
	as_member = pl_store_messages_text(s, room, "mallory", p, &mlen, &mine);
	ok = ok && as_member && !mine &&
	     strcmp(as_member, "{\"messages\":[],\"has_more\":false}") == 0;
	free(as_member);
	json_t *msgs = json_object_get(page, "messages");
	int64_t prev = 0;
	for (size_t i = 0; ok && i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		json_t *want = pl_store_message_get(s, room, jint(m, "id"));
		ok = want && json_equal(m, want) && jint(m, "id") > prev;
		prev = jint(m, "id");
		json_decref(want);
	}
	if (!ok)
		fprintf(stderr, "  text page: %.400s\n  dumped:    %.400s\n", text ? text : "(null)",
			again ? again : "(null)");
	free(again);
	json_decref(page);
	free(text);
	return ok;
}

static void test_page_text(pl_store *a, pl_store *b)
{
	pl_error err = {0};
	CHECK(pl_store_room_create(a, "texts", "Texts", false, "alice", T0, &err) == PL_OK);
	bool joined;
	CHECK(pl_store_member_add(a, "texts", "alice", T0, &joined, &err) == PL_OK);
	/* Every control character, quotes, backslashes, slashes, DEL, BMP and
	 * astral characters, U+2028. */
	char ctl[80];
	size_t k = 0;
	for (int c = 1; c < 0x20; c++)
		ctl[k++] = (char)c;
	memcpy(ctl + k, "\"\\/\x7f", 4);
	k += 4;
	ctl[k] = 0;
	const char *texts[] = {ctl, "plain", "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80 \xe2\x80\xa8",
			       "</script>&amp;", "", "a\"b\\c\nd"};
	/* Times: the epoch, leap days, the ends of years, the last millisecond
	 * of 9999, the first of 10000, before 1970, and pseudo-random ones. */
	int64_t times[64] = {0, 951782400999LL, 1709164800000LL, 1704067199999LL,
			     253402300799999LL, 253402300800000LL, -1500, -86400001LL, T0};
	uint64_t x = 88172645463325252ULL;
	for (int i = 9; i < 64; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		times[i] = (int64_t)(x % 253402300800000ULL);
	}
	int64_t first = 0, last = 0;
	for (int i = 0; i < 64; i++) {
		json_t *m = NULL;
		char cid[16];
		snprintf(cid, sizeof cid, "t-%d", i);
		CHECK(pl_store_message_insert(a, "texts", i % 3 ? "alice" : "b\"ob",
					      texts[i % 6], i % 2 ? cid : NULL, times[i], &m,
					      &err) == PL_OK);
		last = jint(m, "id");
		if (!first)
			first = last;
		json_decref(m);
		if (i % 5 == 1)
			CHECK(pl_store_message_edit(a, last, "edited", times[63 - i], &m, &err) ==
			      PL_OK);
		else if (i % 7 == 2)
			CHECK(pl_store_message_delete(a, last, times[63 - i], &m, &err) == PL_OK);
		else
			m = NULL;
		json_decref(m);
	}
	/* Not UTF-8: jansson refused it, so the page never had it. */
	CHECK(sql_exec("INSERT INTO messages(room, sender, text, created_at)"
		       " VALUES('texts', 'alice', CAST(X'41C328' AS TEXT), 1),"
		       " ('texts', 'alice', CAST(X'41EDA080' AS TEXT), 2),"
		       " ('texts', 'alice', 'fine', 3)"));
	json_t *bad = pl_store_message_get(b, "texts", last + 1);
	CHECK(bad == NULL);
	json_decref(bad);

	struct pl_page pages[] = {
		{.limit = 50},
		{.limit = 200},
		{.limit = 1},
		{.limit = 2},
		{.limit = 3},
		{.limit = 10, .before = last - 5},
		{.limit = 10, .after = first + 3},
		{.limit = 200, .after = first},
		{.limit = 5, .after = first, .before = first + 4},
		{.limit = 20, .has_since = true, .since = T0},
		{.limit = 200, .has_since = true, .since = 0},
		{.limit = 50, .before = first},
	};
	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
		CHECK(text_page_ok(b, "texts", &pages[i]));
	/* The rows around the bad ones: two left out, has_more still counts
	 * what was read. */
	struct pl_page p = {.limit = 3};
	size_t len;
	bool any;
	char *t = pl_store_messages_text(b, "texts", NULL, &p, &len, &any);
	json_t *page = t ? json_loadb(t, len, 0, NULL) : NULL;
	json_t *msgs = json_object_get(page, "messages");
	CHECK(json_array_size(msgs) == 1 && jint(json_array_get(msgs, 0), "id") == last + 3 &&
	      json_is_true(json_object_get(page, "has_more")));
	CHECK(t && strlen(t) == len);
	json_decref(page);
	free(t);
	/* And the tree is the text's. */
	page = pl_store_messages(b, "texts", &p);
	msgs = json_object_get(page, "messages");
	CHECK(json_array_size(msgs) == 1 && json_is_true(json_object_get(page, "has_more")));
	json_decref(page);
	p = (struct pl_page){.limit = 50};
	t = pl_store_messages_text(b, "nope", NULL, &p, &len, &any);
	CHECK(t && strcmp(t, "{\"messages\":[],\"has_more\":false}") == 0 && len == strlen(t));
	CHECK(!any);
	free(t);
}

/* ---- events ---- */

struct seen {
	int n;
	int64_t id[32];
	char room[32][2 * 64 + 8];
	char type[32][32];
	char target[32][65];
	char data[32][128];
	int stop_after; /* 0: never */
};

static bool collect(void *ud, const struct pl_event_row *row)
{
	struct seen *s = ud;
	if (s->n < 32) {
		s->id[s->n] = row->id;
		snprintf(s->room[s->n], sizeof s->room[0], "%s", row->room);
		snprintf(s->type[s->n], sizeof s->type[0], "%s", row->type);
		snprintf(s->target[s->n], sizeof s->target[0], "%s", row->target);
		snprintf(s->data[s->n], sizeof s->data[0], "%s", row->data ? row->data : "(null)");
	}
	s->n++;
	return !(s->stop_after && s->n >= s->stop_after);
}

static void test_events(pl_store *a, pl_store *b)
{
	pl_error err = {0};
	bool changed;
	/* eve is in room ev-a only; frank in ev-a and ev-b. */
	CHECK(pl_store_room_create(a, "ev-a", "A", false, "eve", T0, &err) == PL_OK);
	CHECK(pl_store_room_create(a, "ev-b", "B", true, "frank", T0, &err) == PL_OK);
	CHECK(pl_store_member_add(a, "ev-a", "eve", T0, &changed, &err) == PL_OK);
	CHECK(pl_store_member_add(a, "ev-a", "frank", T0, &changed, &err) == PL_OK);
	CHECK(pl_store_member_add(a, "ev-b", "frank", T0, &changed, &err) == PL_OK);

	int64_t base = pl_store_last_event(b);
	CHECK(base >= 0);
	json_t *d = json_pack("{s:s}", "user", "x");
	int64_t e[6];
	CHECK(pl_store_event_append(a, "ev-a", "message.created", NULL, d, T0, &e[0], &err) == PL_OK);
	CHECK(pl_store_event_append(a, "ev-b", "message.created", NULL, d, T0 + 1, &e[1], &err) ==
	      PL_OK);
	/* Targeted: only eve hears of it, though she is not in ev-b. */
	CHECK(pl_store_event_append(a, "ev-b", "member.joined", "eve", d, T0 + 2, &e[2], &err) ==
	      PL_OK);
	/* Targeted at frank in a room eve is in: not eve's. */
	CHECK(pl_store_event_append(a, "ev-a", "member.left", "frank", d, T0 + 3, &e[3], &err) ==
	      PL_OK);
	/* A room nobody is in. */
	CHECK(pl_store_event_append(a, "ev-z", "message.updated", NULL, d, T0 + 4, &e[4], &err) ==
	      PL_OK);
	CHECK(pl_store_event_append(a, "ev-a", "message.deleted", NULL, d, T0 + 5, &e[5], &err) ==
	      PL_OK);
	json_decref(d);
	for (int i = 0; i < 6; i++)
		CHECK(e[i] > base && (i == 0 || e[i] > e[i - 1]));
	CHECK(pl_store_last_event(b) == e[5]);

	/* Everything after base, in order, from the other handle. */
	struct seen all = {0};
	CHECK(pl_store_events_after(b, base, 100, collect, &all) == 6);
	CHECK(all.n == 6);
	for (int i = 0; i < 6 && i < all.n; i++)
		CHECK(all.id[i] == e[i]);
	CHECK_STR(all.room[0], "ev-a");
	CHECK_STR(all.type[0], "message.created");
	CHECK_STR(all.target[0], "");
	CHECK_STR(all.target[2], "eve");
	CHECK_STR(all.data[0], "{\"user\":\"x\"}");
	/* after is exclusive; limit bounds; the callback may stop early. */
	struct seen some = {0};
	CHECK(pl_store_events_after(b, e[1], 2, collect, &some) == 2);
	CHECK(some.n == 2 && some.id[0] == e[2] && some.id[1] == e[3]);
	struct seen stop = {.stop_after = 1};
	CHECK(pl_store_events_after(b, base, 100, collect, &stop) == 1);
	CHECK(stop.n == 1 && stop.id[0] == e[0]);
	struct seen none = {0};
	CHECK(pl_store_events_after(b, e[5], 100, collect, &none) == 0);

	/* eve: her room's untargeted events and the one targeted at her. */
	struct seen eve = {0};
	CHECK(pl_store_events_for_user(b, "eve", base, 100, collect, &eve) == 3);
	CHECK(eve.n == 3);
	CHECK(eve.id[0] == e[0] && eve.id[1] == e[2] && eve.id[2] == e[5]);
	CHECK_STR(eve.target[1], "eve");
	CHECK_STR(eve.room[1], "ev-b");
	/* frank: both rooms' untargeted events and his own targeted one. */
	struct seen frank = {0};
	CHECK(pl_store_events_for_user(b, "frank", base, 100, collect, &frank) == 4);
	CHECK(frank.id[0] == e[0] && frank.id[1] == e[1] && frank.id[2] == e[3] &&
	      frank.id[3] == e[5]);
	/* Somebody in none of these rooms sees none of it. */
	struct seen nobody = {0};
	CHECK(pl_store_events_for_user(b, "zed", base, 100, collect, &nobody) == 0);
	/* after and limit apply here too. */
	struct seen later = {0};
	CHECK(pl_store_events_for_user(b, "eve", e[0], 1, collect, &later) == 1);
	CHECK(later.id[0] == e[2]);
	/* Membership is now: after eve leaves ev-a its events are not hers. */
	CHECK(pl_store_member_remove(a, "ev-a", "eve", &changed, &err) == PL_OK && changed);
	struct seen gone = {0};
	CHECK(pl_store_events_for_user(b, "eve", base, 100, collect, &gone) == 1);
	CHECK(gone.id[0] == e[2]);

	/* Event objects as the API shows them. */
	json_t *data = json_pack("{s:s}", "user", "eve");
	json_t *ev = pl_event_json(1042, "member.joined", "ev-a", T0 + 123, data);
	CHECK(ev && jint(ev, "id") == 1042);
	CHECK_STR(jstr(ev, "type"), "member.joined");
	CHECK_STR(jstr(ev, "room"), "ev-a");
	CHECK_STR(jstr(ev, "ts"), "2026-11-24T08:15:30.123Z");
	CHECK(json_equal(json_object_get(ev, "data"), data));
	json_decref(ev);
	/* Ephemeral: no id; presence: no room. */
	ev = pl_event_json(0, "presence", NULL, T0, data);
	CHECK(ev && !json_object_get(ev, "id") && !json_object_get(ev, "room"));
	json_decref(ev);
	json_decref(data);
}

/* ---- receipts ---- */

static void test_receipts(pl_store *a, pl_store *b)
{
	pl_error err = {0};
	int64_t del = -1, rd = -1;
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 0 && rd == 0);
	CHECK(pl_store_receipt_update(a, "lobby", "alice", 5, 3, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 5 && rd == 3);
	/* Receipts only move forwards. */
	CHECK(pl_store_receipt_update(a, "lobby", "alice", 2, 1, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 5 && rd == 3);
	CHECK(pl_store_receipt_update(a, "lobby", "alice", 0, 4, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 5 && rd == 4);
	/* Read implies delivered. */
	CHECK(pl_store_receipt_update(a, "lobby", "alice", 0, 9, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 9 && rd == 9);
	CHECK(pl_store_receipt_update(a, "lobby", "alice", 12, 0, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "alice", &del, &rd);
	CHECK(del == 12 && rd == 9);
	/* Not a member: nothing recorded anywhere, and no failure. */
	CHECK(pl_store_receipt_update(a, "lobby", "zed", 7, 7, &err) == PL_OK);
	pl_store_receipt_get(b, "lobby", "zed", &del, &rd);
	CHECK(del == 0 && rd == 0);

	/* The list: members with any receipt, by user. */
	CHECK(pl_store_receipt_update(a, "lobby", "carol", 0, 2, &err) == PL_OK);
	json_t *list = pl_store_receipts(b, "lobby");
	CHECK(json_array_size(list) == 2);
	json_t *r0 = json_array_get(list, 0), *r1 = json_array_get(list, 1);
	CHECK_STR(jstr(r0, "user"), "alice");
	CHECK(jint(r0, "delivered_up_to") == 12 && jint(r0, "read_up_to") == 9);
	CHECK_STR(jstr(r1, "user"), "carol");
	CHECK(jint(r1, "delivered_up_to") == 2 && jint(r1, "read_up_to") == 2);
	json_decref(list);
	list = pl_store_receipts(b, "pages");
	CHECK(json_array_size(list) == 0);
	json_decref(list);
}

/* ---- faults ---- */

static char fpath[160];

/* A failure is an error code and words, never PL_OK with nothing done. */
static bool clean_error(enum pl_code rc, const pl_error *err)
{
	return rc != PL_OK && err->code == rc && err->message[0] != 0;
}

static const char *const kind_name[] = {"", "malloc", "I/O"};
#define FAULT_MAX 20000 /* far more calls than any operation here makes */

/* Opening (and creating and migrating) a new store. */
static void fault_open_once(enum fault_kind kind, bool sticky)
{
	long n, failures = 0;
	for (n = 1; n < FAULT_MAX; n++) {
		static const char *const ext[] = {"", "-wal", "-shm"};
		for (size_t i = 0; i < 3; i++) {
			char f[sizeof fpath + 8];
			snprintf(f, sizeof f, "%s%s", fpath, ext[i]);
			unlink(f);
		}
		pl_store *s = NULL;
		pl_error err = {0};
		fault_arm(kind, n, sticky);
		enum pl_code rc = pl_store_open(fpath, &s, &err);
		long hits = fault_disarm();
		if (rc == PL_OK) {
			pl_store_close(s);
			if (!hits)
				break;
		} else {
			failures++;
			CHECK(clean_error(rc, &err) && s == NULL);
		}
		/* Whatever a failure left, the next open finishes the job. */
		rc = pl_store_open(fpath, &s, &err);
		CHECK(rc == PL_OK);
		pl_store_close(s);
		CHECK(fault_sql_int(fpath, "PRAGMA user_version") == PL_SCHEMA_VERSION);
	}
	CHECK(n < FAULT_MAX);
	printf("  open, %s faults%s: %ld calls, %ld failed cleanly\n", kind_name[kind],
	       sticky ? " (sticky)" : "", n - 1, failures);
}

/* One write in a transaction, as the writer runs it: fn under faults, and
 * a commit, or a rollback when anything failed. */
typedef enum pl_code (*fault_op)(pl_store *s, int64_t i, pl_error *err);

static enum pl_code op_post(pl_store *s, int64_t i, pl_error *err)
{
	char text[64], *json = NULL;
	snprintf(text, sizeof text, "fault post %lld \"\\", (long long)i);
	struct pl_new_msg m = {"f", "fay", text, NULL, T0 + i};
	size_t len;
	bool created;
	enum pl_code rc = pl_store_message_post(s, &m, &json, &len, &created, err);
	if (rc == PL_OK) {
		json_t *o = json_loadb(json, len, 0, NULL);
		/* The text is whole, or the post failed. */
		if (!o || !created)
			rc = pl_fail(err, PL_INTERNAL, "test: the answer is not the message");
		json_decref(o);
	}
	free(json);
	return rc;
}

/* A retry of a client_id stored before: the earlier message, nothing new. */
static enum pl_code op_retry(pl_store *s, int64_t i, pl_error *err)
{
	struct pl_new_msg m = {"f", "fay", "again", "fixed", T0 + i};
	char *json = NULL;
	size_t len;
	bool created;
	enum pl_code rc = pl_store_message_post(s, &m, &json, &len, &created, err);
	if (rc == PL_OK && (created || !json || !strstr(json, "\"id\":1,")))
		rc = pl_fail(err, PL_INTERNAL, "test: the retry did not find the first");
	free(json);
	return rc;
}

/* An edit and its event, as chat/messages.c stores them. */
static enum pl_code op_edit(pl_store *s, int64_t i, pl_error *err)
{
	json_t *msg = NULL;
	char text[64];
	snprintf(text, sizeof text, "edited %lld", (long long)i);
	int64_t ev;
	enum pl_code rc = pl_store_message_edit(s, 1, text, T0 + i, &msg, err);
	if (rc == PL_OK)
		rc = pl_store_event_append(s, "f", "message.updated", NULL, msg, T0 + i, &ev, err);
	json_decref(msg);
	return rc;
}

/* A webhook delivery queued, claimed and finished (db/outbox.c), in one
 * transaction: the outbox is as it was, or the operation failed. */
static enum pl_code op_outbox(pl_store *s, int64_t i, pl_error *err)
{
	char user[32];
	snprintf(user, sizeof user, "hook%lld", (long long)i);
	enum pl_code rc = pl_outbox_add(s, user, "presence", T0 + i, "{\"x\":1}", T0 + i, err);
	if (rc != PL_OK)
		return rc;
	struct pl_delivery d[4];
	int n = pl_outbox_claim(s, "node", T0 + i, T0 + i + 1000, d, 4, err);
	if (n < 0)
		return err->code;
	for (int k = 0; k < n; k++) {
		if (rc == PL_OK && (!d[k].data || strcmp(d[k].data, "{\"x\":1}") != 0))
			rc = pl_fail(err, PL_INTERNAL, "test: a claimed row lost its data");
		if (rc == PL_OK)
			rc = pl_outbox_remove(s, d[k].id, "node", err);
		pl_delivery_clear(&d[k]);
	}
	if (rc == PL_OK && n != 1)
		rc = pl_fail(err, PL_INTERNAL, "test: claimed %d rows, not 1", n);
	return rc;
}

static void fault_write_once(pl_store *s, const char *what, fault_op op, enum fault_kind kind,
			     bool sticky)
{
	long n, failures = 0;
	for (n = 1; n < FAULT_MAX; n++) {
		long long msgs = fault_sql_int(fpath, "SELECT COUNT(*) FROM messages");
		long long evs = fault_sql_int(fpath, "SELECT COUNT(*) FROM events");
		pl_error err = {0};
		fault_arm(kind, n, sticky);
		enum pl_code rc = pl_store_begin(s, &err);
		if (rc == PL_OK) {
			rc = op(s, n, &err);
			if (rc == PL_OK)
				rc = pl_store_commit(s, &err);
			if (rc != PL_OK)
				pl_store_rollback(s);
		}
		long hits = fault_disarm();
		/* Never left inside a transaction, whatever failed. */
		CHECK(!pl_store_in_transaction(s));
		if (pl_store_in_transaction(s))
			pl_store_rollback(s);
		bool wrote = fault_sql_int(fpath, "SELECT COUNT(*) FROM events") != evs;
		CHECK(fault_sql_int(fpath, "SELECT COUNT(*) FROM webhook_outbox") == 0);
		if (rc == PL_OK) {
			CHECK(wrote == (op != op_retry && op != op_outbox));
			if (!hits)
				break;
		} else {
			failures++;
			CHECK(clean_error(rc, &err));
			if (!clean_error(rc, &err))
				fprintf(stderr, "  %s, n=%ld: code %d, \"%s\"\n", what, n, rc,
					err.message);
			/* All or nothing. */
			CHECK(!wrote && fault_sql_int(fpath, "SELECT COUNT(*) FROM messages") == msgs);
		}
		CHECK(fault_consistent(fpath));
	}
	CHECK(n < FAULT_MAX);
	printf("  %s, %s faults%s: %ld calls, %ld failed cleanly\n", what, kind_name[kind],
	       sticky ? " (sticky)" : "", n - 1, failures);
}

struct walk {
	int n;
	int64_t ids[64];
};

static bool walk_fn(void *ud, const struct pl_event_row *row)
{
	struct walk *w = ud;
	if (w->n < 64)
		w->ids[w->n] = row->id;
	w->n++;
	return true;
}

/* Reads: a page is the page or nothing; the events a prefix of the log. */
static void fault_read_once(pl_store *s, enum fault_kind kind)
{
	struct pl_page p = {.limit = 20};
	size_t want_len, len;
	bool any;
	char *want = pl_store_messages_text(s, "f", "fay", &p, &want_len, &any);
	struct walk all = {0};
	pl_store_events_after(s, 0, 64, walk_fn, &all);
	CHECK(want && all.n > 0);
	long n, failures = 0;
	for (n = 1; want && n < FAULT_MAX; n++) {
		/* A connection of its own each time: a cold cache reads the file. */
		pl_store *r = NULL;
		pl_error err = {0};
		CHECK(pl_store_open(fpath, &r, &err) == PL_OK);
		if (!r)
			break;
		fault_arm(kind, n, false);
		char *got = pl_store_messages_text(r, "f", "fay", &p, &len, &any);
		struct walk some = {0};
		int rows = pl_store_events_after(r, 0, 64, walk_fn, &some);
		long hits = fault_disarm();
		pl_store_close(r);
		bool whole = got && len == want_len && memcmp(got, want, len) == 0;
		CHECK(whole || !got);
		CHECK(rows == some.n && some.n <= all.n &&
		      memcmp(some.ids, all.ids, (size_t)some.n * sizeof some.ids[0]) == 0);
		failures += !whole || some.n != all.n;
		free(got);
		if (!hits)
			break;
	}
	free(want);
	CHECK(n < FAULT_MAX);
	printf("  reads, %s faults: %ld calls, %ld failed cleanly\n", kind_name[kind], n - 1,
	       failures);
}

static void test_faults(void)
{
	/* Thousands of stores are opened and closed: on tmpfs when there is
	 * one, where a close's fsync costs nothing. */
	char fdir[64];
	snprintf(fdir, sizeof fdir, "/dev/shm/parley-faults-XXXXXX");
	if (!mkdtemp(fdir))
		snprintf(fdir, sizeof fdir, "%s", dir);
	snprintf(fpath, sizeof fpath, "%s/faults.db", fdir);
	/* The failures are expected: their warnings would be noise. */
	pl_log_set_level((enum pl_log_level)(PL_LOG_ERROR + 1));
	for (int k = FAULT_MALLOC; k <= FAULT_IO; k++) {
		fault_open_once((enum fault_kind)k, false);
		fault_open_once((enum fault_kind)k, true);
	}
	pl_store *s = NULL;
	pl_error err = {0};
	CHECK(pl_store_open(fpath, &s, &err) == PL_OK);
	if (!s)
		return;
	bool changed;
	int64_t id = 0;
	json_t *first = NULL;
	CHECK(pl_store_room_create(s, "f", "Faults", false, "fay", T0, &err) == PL_OK);
	CHECK(pl_store_member_add(s, "f", "fay", T0, &changed, &err) == PL_OK);
	CHECK(pl_store_message_insert(s, "f", "fay", "first", "fixed", T0, &first, &err) == PL_OK);
	CHECK(first && (id = jint(first, "id")) == 1);
	json_decref(first);
	/* message_insert stores no event: give the first message its own. */
	json_t *empty = json_object();
	CHECK(pl_store_event_append(s, "f", "message.created", NULL, empty, T0, &id, &err) ==
	      PL_OK);
	json_decref(empty);
	for (int k = FAULT_MALLOC; k <= FAULT_IO; k++) {
		for (int sticky = 0; sticky < 2; sticky++) {
			fault_write_once(s, "post", op_post, (enum fault_kind)k, sticky);
			fault_write_once(s, "retry", op_retry, (enum fault_kind)k, sticky);
			fault_write_once(s, "edit", op_edit, (enum fault_kind)k, sticky);
			fault_write_once(s, "webhook outbox", op_outbox, (enum fault_kind)k,
					 sticky);
		}
		fault_read_once(s, (enum fault_kind)k);
	}
	pl_store_close(s);
	CHECK(fault_consistent(fpath));
	pl_log_set_level(PL_LOG_INFO);
	if (strcmp(fdir, dir) != 0) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fdir);
		if (system(cmd) != 0)
			fprintf(stderr, "note: could not remove %s\n", fdir);
	}
}

int main(void)
{
	fault_setup();
	snprintf(dir, sizeof dir, "/tmp/parley-store-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/parley.db", dir);
	test_open_and_migrate();
	/* Two handles at once, as two processes would have. */
	pl_store *a = open_store(), *b = open_store();
	test_two_handles(a, b);
	test_users(a);
	test_rooms(a);
	test_messages(a);
	test_post(a);
	test_pages(a, b);
	test_page_text(a, b);
	test_events(a, b);
	test_receipts(a, b);
	pl_store_close(a);
	pl_store_close(b);
	/* After a close and reopen everything is still there. */
	pl_store *c = open_store();
	CHECK(pl_store_user_exists(c, "alice"));
	CHECK(pl_store_room_members(c, "lobby") == 2);
	struct pl_page p = {.limit = 200};
	json_t *page = pl_store_messages(c, "pages", &p);
	CHECK(json_array_size(json_object_get(page, "messages")) == 120);
	json_decref(page);
	pl_store_close(c);
	CHECK(fault_sql_int(path, "PRAGMA user_version") == PL_SCHEMA_VERSION);
	/* The fault loops run one thread: ThreadSanitizer has nothing to find
	 * in them and makes them a hundred seconds of the test command; the
	 * plain and AddressSanitizer builds run them. */
#ifdef __SANITIZE_THREAD__
	const bool tsan = true;
#else
	const bool tsan = false;
#endif
	if (!tsan)
		test_faults();
	else
		printf("# faults: left to the plain and AddressSanitizer builds\n");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: could not remove %s\n", dir);
	return T_DONE();
}
