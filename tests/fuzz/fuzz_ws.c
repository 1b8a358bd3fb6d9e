/* Run: clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz/fuzz_ws.c push/ws.c base/utf8.c -lcrypto -o /tmp/fuzz_ws && /tmp/fuzz_ws -max_total_time=60 */
/* tests/fuzz/fuzz_ws: libFuzzer harness for push/ws and base/utf8.
 *
 * Treats the input as a stream of client frames and walks it the way the
 * connection code does: parse, unmask, track UTF-8 across fragments, check
 * close payloads.  Besides the sanitizers it checks properties that must
 * hold for any input, aborting when one does not:
 *  - an OK frame fits in the buffer, is masked, respects the limit and the
 *    control-frame rules, and every shorter prefix of it needs more bytes;
 *  - unmasking in two pieces equals unmasking at once;
 *  - incremental UTF-8 agrees with whole-buffer UTF-8;
 *  - a valid close payload survives re-encoding;
 *  - a server header with the mask bit set parses back to its fields. */
#include "base/utf8.h"
#include "push/ws.h"

#include <stdlib.h>
#include <string.h>

struct message {
	bool open;             /* inside a fragmented data message */
	bool text;
	pl_utf8_state utf8;
};

static void must(bool cond)
{
	if (!cond)
		abort();
}

static bool utf8_in_two(const uint8_t *p, size_t n, size_t cut)
{
	pl_utf8_state st = 0;
	bool ok = pl_utf8_feed(&st, p, cut);
	ok = pl_utf8_feed(&st, p + cut, n - cut) && ok;
	return ok && pl_utf8_done(st);
}

static void check_utf8(const uint8_t *p, size_t n, size_t cut)
{
	bool whole = pl_utf8_valid((const char *)p, n);
	must(whole == utf8_in_two(p, n, cut));
	if (whole)
		must(pl_utf8_count((const char *)p, n) <= n);
}

static void check_frame(const uint8_t *buf, size_t avail, uint64_t max, const struct ws_frame *f)
{
	struct ws_frame g;
	uint16_t code;
	size_t total = f->header_len + (size_t)f->payload_len;
	must(f->masked && f->header_len >= 6 && f->header_len <= 14);
	must(f->payload_len <= max && total <= avail);
	if (f->opcode & 0x8)
		must(f->fin && f->payload_len <= 125);
	for (size_t i = 0; i < f->header_len; i++)
		must(ws_parse_frame(buf, i, max, &g, &code) == WS_PARSE_NEED_MORE);
	if (f->payload_len)
		must(ws_parse_frame(buf, total - 1, max, &g, &code) == WS_PARSE_NEED_MORE);
}

static void check_header_round_trip(const struct ws_frame *f)
{
	uint8_t h[14];
	struct ws_frame g;
	uint16_t code;
	size_t n = ws_frame_header(h, f->opcode, f->fin, f->payload_len);
	h[1] |= 0x80;
	memcpy(h + n, f->mask, 4);
	enum ws_parse_result r = ws_parse_frame(h, n + 4, UINT64_MAX, &g, &code);
	must(r == (f->payload_len ? WS_PARSE_NEED_MORE : WS_PARSE_OK));
	must(g.fin == f->fin && g.opcode == f->opcode && g.payload_len == f->payload_len);
	must(g.header_len <= f->header_len); /* ours is minimal; theirs need not be */
}

static void check_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t cut)
{
	uint8_t *whole = malloc(n ? n : 1);
	if (!whole)
		return;
	if (n)
		memcpy(whole, p, n);
	ws_unmask(whole, n, mask, 0);
	ws_unmask(p, cut, mask, 0);
	ws_unmask(p + cut, n - cut, mask, cut);
	must(n == 0 || memcmp(whole, p, n) == 0);
	free(whole);
}

static void check_close(const uint8_t *p, size_t n)
{
	uint16_t code;
	if (!ws_close_payload_valid(p, n, &code))
		return;
	must(n == 0 ? code == 1005 : n >= 2);
	char reason[126] = {0};
	if (n > 2)
		memcpy(reason, p + 2, n - 2);
	uint8_t out[125];
	size_t m = ws_close_payload(out, code, reason);
	uint16_t again = 0;
	must(m == 0 ? code == 1005 : ws_close_payload_valid(out, m, &again) && again == code);
}

/* Returns false when the connection would be closed. */
static bool on_data(struct message *msg, const struct ws_frame *f, const uint8_t *p, size_t cut)
{
	size_t n = (size_t)f->payload_len;
	if (f->opcode == WS_CONT ? !msg->open : msg->open)
		return false;
	if (f->opcode != WS_CONT) {
		msg->open = true;
		msg->text = f->opcode == WS_TEXT;
		msg->utf8 = 0;
	}
	if (msg->text) {
		if (f->fin && f->opcode == WS_TEXT) /* a whole message in one frame */
			check_utf8(p, n, cut);
		if (!pl_utf8_feed(&msg->utf8, p, cut) || !pl_utf8_feed(&msg->utf8, p + cut, n - cut))
			return false;
	}
	if (f->fin) {
		msg->open = false;
		if (msg->text && !pl_utf8_done(msg->utf8))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte picks the size limit and where payloads are cut. */
	uint8_t knob = data[0];
	uint64_t max = knob & 0x80 ? UINT64_MAX : (uint64_t)(knob & 0x7F) * 4;
	size_t n = size - 1;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	if (n)
		memcpy(buf, data + 1, n);
	check_utf8(buf, n, n ? knob % (n + 1) : 0);

	struct message msg = {0};
	size_t pos = 0;
	for (;;) {
		struct ws_frame f;
		uint16_t code = 0;
		enum ws_parse_result r = ws_parse_frame(buf + pos, n - pos, max, &f, &code);
		if (r == WS_PARSE_ERROR)
			must(code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_TOO_BIG);
		if (r != WS_PARSE_OK)
			break;
		check_frame(buf + pos, n - pos, max, &f);
		check_header_round_trip(&f);
		uint8_t *p = buf + pos + f.header_len;
		size_t plen = (size_t)f.payload_len;
		size_t cut = knob % (plen + 1);
		check_unmask(p, plen, f.mask, cut);
		pos += f.header_len + plen;
		if (f.opcode == WS_CLOSE) {
			check_close(p, plen);
			break;
		}
		if (!(f.opcode & 0x8) && !on_data(&msg, &f, p, cut))
			break;
	}
	free(buf);
	return 0;
}
