/* db/json: one writer for each JSON shape the store's data takes.
 *
 * A message, an event's envelope and a receipt each have exactly one
 * function here that writes them, and every path that shows one (history
 * pages, the post's ack and 201, the stored event data, edits, deletes,
 * replays, live fan-out, parley.fcgi's long-poll, ephemeral events) goes
 * through it, so the same value is the same bytes everywhere.  The text
 * writers are byte for byte what json_dumps(JSON_COMPACT) makes of the
 * same object (tests/unit/test_json.c checks it on random input); the
 * jansson forms are parsed from that text, never built a second way. */
#ifndef PL_JSON_H
#define PL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/jbuf.h"

/* A string with its length; p NULL stands for JSON null. */
struct pl_jstr {
	const char *p;
	size_t n;
};
#define PL_JSTR(s) ((struct pl_jstr){(s), (s) ? strlen(s) : 0})

/* A message's fields, borrowed. */
struct pl_msg_view {
	int64_t id;
	struct pl_jstr room, sender, text, client_id;
	int64_t created_at;  /* ms */
	int64_t edited_at;   /* ms; null unless edited */
	bool edited, deleted;
};

/* {"id":N,"room":..,"sender":..,"text":..,"client_id":..,"created_at":..,
 *  "edited_at":..,"deleted":b}.  False, with nothing written, when a
 * string is not valid UTF-8 (jansson would refuse it too).  memo may be
 * NULL; a page passes one for all its rows. */
bool pl_json_message(struct pl_jbuf *b, const struct pl_msg_view *m, struct pl_jb_day *memo);
/* The same as a jansson object (NULL when not UTF-8 or out of memory). */
json_t *pl_json_message_obj(const struct pl_msg_view *m);

/* An event as the API shows it: {"id":N,"type":..,"room":..,"ts":..,
 * "data":D}; no id when id is 0 (ephemeral events), no room when room is
 * NULL or "" (presence).  data is JSON text of data_len bytes (NULL: {}).
 * False, nothing written, when type or room is not valid UTF-8. */
bool pl_json_event(struct pl_jbuf *b, int64_t id, const char *type, const char *room,
		   int64_t ts, const char *data, size_t data_len);
/* The same as a jansson object, data borrowed (NULL when out of memory). */
json_t *pl_event_json(int64_t id, const char *type, const char *room, int64_t ts, json_t *data);

/* A receipt: {"user":..,"delivered_up_to":N,"read_up_to":N}. */
json_t *pl_json_receipt(const char *user, int64_t delivered, int64_t read);

#endif
