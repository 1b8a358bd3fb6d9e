/* tests/unit/test_json: db/json's hand-written JSON against jansson's.
 *
 * Each writer of db/json.h promises the bytes json_dumps(JSON_COMPACT)
 * makes of the same object.  This checks that on many random inputs from a
 * fixed seed (the same run every time): strings of random UTF-8 with
 * quotes, backslashes, every control character (NUL included), DEL,
 * U+2028/9 and characters outside the BMP, NULL strings, times in and out
 * of the fast path's range, and, for events, random data objects.  The
 * writer's text is parsed back (json_loads + json_equal against the object
 * jansson built) and compared byte for byte with jansson's own text.
 * Strings that are not valid UTF-8 must be refused by both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "db/json.h"
#include "tests/unit/t.h"

#define ITERATIONS 20000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned below(unsigned n) { return (unsigned)(next() % n); }

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One random code point, weighted towards what escaping gets wrong. */
static unsigned code_point(void)
{
	switch (below(10)) {
	case 0: return below(0x20);                         /* controls, NUL too */
	case 1: return "\"\\/'\x7f"[below(5)];
	case 2: return 0x80 + below(0x780);                  /* two bytes */
	case 3: {
		unsigned cp = 0x800 + below(0xf800);         /* three, no surrogates */
		return cp >= 0xd800 && cp < 0xe000 ? 0x2028 + below(2) : cp;
	}
	case 4: return 0x10000 + below(0x100000);           /* outside the BMP */
	default: return 0x20 + below(0x5f);                  /* printable ASCII */
	}
}

/* A random string in buf (n bytes); sometimes broken UTF-8 when bad. */
static size_t random_str(char *buf, size_t cap, bool may_break)
{
	size_t n = 0, want = below(40);
	for (size_t i = 0; i < want && n + 4 < cap; i++)
		n += put_utf8(buf + n, code_point());
	if (may_break && below(50) == 0 && n + 1 < cap) {
		/* a lone continuation byte, a truncated sequence, or a surrogate */
		static const char *const bad[] = {"\x80", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf"};
		const char *b = bad[below(4)];
		size_t at = n ? below((unsigned)n + 1) : 0, bl = strlen(b);
		if (n + bl < cap) {
			memmove(buf + at + bl, buf + at, n - at);
			memcpy(buf + at, b, bl);
			n += bl;
		}
	}
	buf[n] = 0;
	return n;
}

static int64_t random_time(void)
{
	switch (below(8)) {
	case 0: return (int64_t)(next() % 253402300800000ULL); /* up to 9999 */
	case 1: return 253402300800000LL + (int64_t)below(1000000); /* past the fast path */
	case 2: return 0;
	default: return 1700000000000LL + (int64_t)(next() % 400000000000ULL);
	}
}

static json_t *time_json(int64_t ms)
{
	char t[PL_TIME_LEN];
	pl_time_format(ms, t);
	return json_string(t);
}

/* jansson's string for s, or json_null() for NULL; NULL when refused. */
static json_t *jstring(struct pl_jstr s)
{
	return s.p ? json_stringn(s.p, s.n) : json_null();
}

/* Compares the writer's text with jansson's for the object want (NULL:
 * jansson refused the input, and so must the writer have). */
static void compare(const char *what, bool wrote, const struct pl_jbuf *b, json_t *want,
		    int iter)
{
	if (!want) {
		CHECK(!wrote);
		if (wrote)
			fprintf(stderr, "  %s %d: written though jansson refused it\n", what, iter);
		return;
	}
	CHECK(wrote && !b->oom);
	if (!wrote || b->oom)
		return;
	char *text = json_dumps(want, JSON_COMPACT);
	json_error_t e;
	json_t *got = json_loadb(b->p, b->len, JSON_ALLOW_NUL, &e);
	bool same_obj = got && json_equal(got, want);
	bool same_bytes = text && strlen(text) == b->len && memcmp(text, b->p, b->len) == 0;
	CHECK(same_obj);
	CHECK(same_bytes);
	if (!same_obj || !same_bytes)
		fprintf(stderr, "  %s %d:\n   ours:    %.*s\n   jansson: %s\n", what, iter,
			(int)b->len, b->p, text ? text : "(null)");
	free(text);
	json_decref(got);
}

static void message_once(int iter)
{
	char room[256], sender[256], text[256], cid[256];
	struct pl_msg_view m = {.id = (int64_t)(next() >> 1)};
	struct { char *buf; struct pl_jstr *s; } f[] = {
		{room, &m.room}, {sender, &m.sender}, {text, &m.text}, {cid, &m.client_id}};
	for (size_t i = 0; i < 4; i++) {
		size_t n = random_str(f[i].buf, sizeof room, true);
		*f[i].s = below(8) == 0 ? (struct pl_jstr){NULL, 0} : (struct pl_jstr){f[i].buf, n};
	}
	m.created_at = random_time();
	m.edited = below(2);
	m.edited_at = m.edited ? random_time() : 0;
	m.deleted = below(2);
	json_t *r = jstring(m.room), *s = jstring(m.sender), *t = jstring(m.text),
	       *c = jstring(m.client_id);
	json_t *want = NULL;
	if (r && s && t && c)
		want = json_pack("{s:I, s:O, s:O, s:O, s:O, s:o, s:o, s:b}", "id",
				 (json_int_t)m.id, "room", r, "sender", s, "text", t, "client_id",
				 c, "created_at", time_json(m.created_at), "edited_at",
				 m.edited ? time_json(m.edited_at) : json_null(), "deleted",
				 m.deleted);
	json_decref(r), json_decref(s), json_decref(t), json_decref(c);
	/* After some text already in the buffer, as a page writes it. */
	struct pl_jbuf b = {0};
	PL_JB_LIT(&b, "[");
	size_t start = b.len;
	bool wrote = pl_json_message(&b, &m, NULL);
	struct pl_jbuf just = {b.p + start, b.len - start, 0, b.oom};
	compare("message", wrote, &just, want, iter);
	if (!wrote)
		CHECK(b.len == start); /* nothing written */
	json_t *obj = pl_json_message_obj(&m);
	CHECK(want ? obj && json_equal(obj, want) : !obj);
	json_decref(obj);
	json_decref(want);
	pl_jb_free(&b);
}

/* A random data object: strings, numbers, booleans, null, a nested one. */
static json_t *random_data(int depth)
{
	json_t *o = json_object();
	unsigned n = below(5);
	for (unsigned i = 0; i < n; i++) {
		char k[256], v[256];
		random_str(k, sizeof k, false);
		size_t vn = random_str(v, sizeof v, false);
		json_t *val;
		switch (below(6)) {
		case 0: val = json_integer((json_int_t)(next() >> 2) * (below(2) ? 1 : -1)); break;
		case 1: val = json_boolean(below(2)); break;
		case 2: val = json_null(); break;
		case 3: val = depth < 2 ? random_data(depth + 1) : json_array(); break;
		default: val = json_stringn(v, vn); break;
		}
		json_object_set_new(o, k, val);
	}
	return o;
}

static void event_once(int iter)
{
	char type[256], room[256];
	random_str(type, sizeof type, true);
	random_str(room, sizeof room, true);
	/* NUL-terminated C strings here: cut at a NUL they may hold. */
	const char *rm = below(6) == 0 ? NULL : below(6) == 0 ? "" : room;
	int64_t id = below(4) == 0 ? 0 : (int64_t)(next() >> 1);
	int64_t ts = random_time();
	json_t *data = random_data(0);
	char *dtext = json_dumps(data, JSON_COMPACT);
	json_t *jt = json_string(type), *jr = rm && *rm ? json_string(rm) : NULL;
	json_t *want = NULL;
	if (jt && (jr || !(rm && *rm))) {
		/* The API's order: id, type, room, ts, data. */
		want = json_object();
		if (id > 0)
			json_object_set_new(want, "id", json_integer(id));
		json_object_set(want, "type", jt);
		if (jr)
			json_object_set(want, "room", jr);
		json_object_set_new(want, "ts", time_json(ts));
		json_object_set(want, "data", data);
	}
	json_decref(jt);
	json_decref(jr);
	struct pl_jbuf b = {0};
	bool wrote = pl_json_event(&b, id, type, rm, ts, dtext, strlen(dtext));
	compare("event", wrote, &b, want, iter);
	json_t *ev = pl_event_json(id, type, rm, ts, data);
	CHECK(want ? ev && json_equal(ev, want) : !ev);
	json_decref(ev);
	json_decref(want);
	json_decref(data);
	free(dtext);
	pl_jb_free(&b);
}

int main(void)
{
	for (int i = 0; i < ITERATIONS; i++) {
		message_once(i);
		event_once(i);
	}
	/* A receipt is jansson's own; its members in order. */
	json_t *r = pl_json_receipt("ann", 7, 5);
	char *t = json_dumps(r, JSON_COMPACT);
	CHECK_STR(t, "{\"user\":\"ann\",\"delivered_up_to\":7,\"read_up_to\":5}");
	free(t);
	json_decref(r);
	return T_DONE();
}
