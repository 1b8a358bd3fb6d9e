/* tests/unit/test_ws: push/ws against the examples of RFC 6455 (1.3, 5.7)
 * and its server-side rules: masking, RSV bits, opcodes, control frames,
 * length encodings, size limits, truncation at every byte, close payloads
 * and the handshake key. */
#include "push/ws.h"

#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/t.h"

#define MAXP UINT64_MAX

static const uint8_t rfc_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Masking done the RFC's way (5.3), independent of ws_unmask. */
static void ref_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(off + i) % 4];
}

enum len_form { LEN_MIN, LEN_16, LEN_64 };

/* Builds a masked client frame; form forces a (possibly non-minimal)
 * length encoding.  Returns the frame length. */
static size_t client_frame(uint8_t *out, uint8_t b0, const uint8_t mask[4], const void *payload,
			   size_t n, enum len_form form)
{
	size_t h = 2;
	out[0] = b0;
	if (form == LEN_MIN && n < 126) {
		out[1] = (uint8_t)(0x80 | n);
	} else if (form != LEN_64 && n <= 0xFFFF) {
		out[1] = 0x80 | 126;
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	} else {
		out[1] = 0x80 | 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			out[h++] = (uint8_t)((uint64_t)n >> shift);
	}
	memcpy(out + h, mask, 4);
	h += 4;
	if (n)
		memcpy(out + h, payload, n);
	ref_mask(out + h, n, mask, 0);
	return h + n;
}

/* Parses an exact-size heap copy, so that under ASan reading one byte
 * beyond what has arrived is an error, not a lucky read. */
static enum ws_parse_result parse_exact(const uint8_t *buf, size_t n, uint64_t max,
					struct ws_frame *f, uint16_t *code)
{
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return WS_PARSE_ERROR;
	if (n)
		memcpy(copy, buf, n);
	enum ws_parse_result r = ws_parse_frame(copy, n, max, f, code);
	free(copy);
	return r;
}

/* Every proper prefix of a good frame must ask for more, and the frame
 * followed by the start of the next one must still parse alone. */
static bool needs_more_until_whole(const uint8_t *buf, size_t n, uint64_t max)
{
	struct ws_frame f;
	uint16_t code;
	for (size_t i = 0; i < n; i++)
		if (parse_exact(buf, i, max, &f, &code) != WS_PARSE_NEED_MORE) {
			fprintf(stderr, "  prefix of %zu/%zu bytes did not need more\n", i, n);
			return false;
		}
	return parse_exact(buf, n, max, &f, &code) == WS_PARSE_OK &&
	       f.header_len + f.payload_len == n;
}

static enum ws_parse_result parse_err(const uint8_t *buf, size_t n, uint64_t max, uint16_t *code)
{
	struct ws_frame f;
	*code = 0;
	return ws_parse_frame(buf, n, max, &f, code);
}

static void test_rfc_5_7_client_frames(void)
{
	struct ws_frame f;
	uint16_t code = 0;

	/* A single-frame unmasked text message is fine from a server, but a
	 * server must fail a client that sends one. */
	static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	CHECK(parse_err(unmasked, sizeof unmasked, MAXP, &code) == WS_PARSE_ERROR);
	CHECK(code == WS_CLOSE_PROTOCOL);
	CHECK(parse_err(unmasked, 2, MAXP, &code) == WS_PARSE_ERROR); /* known at byte 2 */

	uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	CHECK(ws_parse_frame(hello, sizeof hello, MAXP, &f, &code) == WS_PARSE_OK);
	CHECK(f.fin && f.opcode == WS_TEXT && f.masked);
	CHECK(f.payload_len == 5 && f.header_len == 6);
	CHECK(memcmp(f.mask, rfc_mask, 4) == 0);
	ws_unmask(hello + f.header_len, 5, f.mask, 0);
	CHECK(memcmp(hello + 6, "Hello", 5) == 0);
	ws_unmask(hello + 6, 5, f.mask, 0); /* masking twice is the identity */
	CHECK(memcmp(hello + 6, "\x7f\x9f\x4d\x51\x58", 5) == 0);
	CHECK(needs_more_until_whole(hello, sizeof hello, MAXP));

	/* The fragmented "Hel" + "lo", as a client would send it. */
	uint8_t frag[32];
	size_t n1 = client_frame(frag, 0x01, rfc_mask, "Hel", 3, LEN_MIN);
	size_t n2 = client_frame(frag + n1, 0x80, rfc_mask, "lo", 2, LEN_MIN);
	CHECK(ws_parse_frame(frag, n1 + n2, MAXP, &f, &code) == WS_PARSE_OK);
	CHECK(!f.fin && f.opcode == WS_TEXT && f.payload_len == 3 && f.header_len + 3 == n1);
	ws_unmask(frag + f.header_len, 3, f.mask, 0);
	CHECK(memcmp(frag + f.header_len, "Hel", 3) == 0);
	CHECK(ws_parse_frame(frag + n1, n2, MAXP, &f, &code) == WS_PARSE_OK);
	CHECK(f.fin && f.opcode == WS_CONT && f.payload_len == 2);
	ws_unmask(frag + n1 + f.header_len, 2, f.mask, 0);
	CHECK(memcmp(frag + n1 + f.header_len, "lo", 2) == 0);

	/* Masked ping and the example's masked pong. */
	uint8_t ping[16];
	size_t np = client_frame(ping, 0x89, rfc_mask, "Hello", 5, LEN_MIN);
	CHECK(ws_parse_frame(ping, np, MAXP, &f, &code) == WS_PARSE_OK);
	CHECK(f.fin && f.opcode == WS_PING && f.payload_len == 5);
	uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	CHECK(ws_parse_frame(pong, sizeof pong, MAXP, &f, &code) == WS_PARSE_OK);
	CHECK(f.fin && f.opcode == WS_PONG && f.payload_len == 5);
	ws_unmask(pong + 6, 5, f.mask, 0);
	CHECK(memcmp(pong + 6, "Hello", 5) == 0);
}

static void test_rfc_5_7_server_headers(void)
{
	uint8_t h[10];
	CHECK(ws_frame_header(h, WS_TEXT, true, 5) == 2 && h[0] == 0x81 && h[1] == 0x05);
	CHECK(ws_frame_header(h, WS_TEXT, false, 3) == 2 && h[0] == 0x01 && h[1] == 0x03);
	CHECK(ws_frame_header(h, WS_CONT, true, 2) == 2 && h[0] == 0x80 && h[1] == 0x02);
	CHECK(ws_frame_header(h, WS_PING, true, 5) == 2 && h[0] == 0x89 && h[1] == 0x05);
	CHECK(ws_frame_header(h, WS_PONG, true, 0) == 2 && h[0] == 0x8a && h[1] == 0x00);
	CHECK(ws_frame_header(h, WS_BINARY, true, 256) == 4);
	CHECK(memcmp(h, "\x82\x7E\x01\x00", 4) == 0);
	CHECK(ws_frame_header(h, WS_BINARY, true, 65536) == 10);
	CHECK(memcmp(h, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);

	/* The boundaries between the three encodings. */
	CHECK(ws_frame_header(h, WS_TEXT, true, 125) == 2 && h[1] == 125);
	CHECK(ws_frame_header(h, WS_TEXT, true, 126) == 4 && memcmp(h + 1, "\x7E\x00\x7E", 3) == 0);
	CHECK(ws_frame_header(h, WS_TEXT, true, 65535) == 4 && memcmp(h + 1, "\x7E\xFF\xFF", 3) == 0);
	CHECK(ws_frame_header(h, WS_CLOSE, true, 0x0102030405060708ull) == 10);
	CHECK(memcmp(h, "\x88\x7F\x01\x02\x03\x04\x05\x06\x07\x08", 10) == 0);
}

/* Server headers, turned into client frames by setting the mask bit and
 * inserting a mask, must parse back to what was encoded. */
static void test_header_round_trip(void)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20, 1ull << 40};
	static const enum ws_opcode ops[] = {WS_CONT, WS_TEXT, WS_BINARY};
	int wrong = 0;
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (size_t o = 0; o < 3; o++)
			for (int fin = 0; fin < 2; fin++) {
				uint8_t b[16];
				size_t h = ws_frame_header(b, ops[o], fin, lens[i]);
				b[1] |= 0x80;
				memcpy(b + h, rfc_mask, 4);
				struct ws_frame f;
				uint16_t code;
				enum ws_parse_result r = ws_parse_frame(b, h + 4, MAXP, &f, &code);
				bool ok = (lens[i] == 0 ? r == WS_PARSE_OK : r == WS_PARSE_NEED_MORE) &&
					  f.fin == (fin != 0) && f.opcode == ops[o] &&
					  f.payload_len == lens[i] && f.header_len == h + 4 &&
					  memcmp(f.mask, rfc_mask, 4) == 0;
				wrong += !ok;
			}
	CHECK(wrong == 0);
}

static void test_lengths(void)
{
	static const size_t sizes[] = {0, 1, 125, 126, 127, 300, 65535, 65536, 70000};
	uint8_t *pay = malloc(70000), *buf = malloc(70000 + 14 + 2);
	if (!pay || !buf) {
		CHECK(!"out of memory");
		free(pay);
		free(buf);
		return;
	}
	for (size_t i = 0; i < 70000; i++)
		pay[i] = (uint8_t)(i * 7 + 3);

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		size_t want_h = n < 126 ? 6 : n <= 0xFFFF ? 8 : 14;
		size_t total = client_frame(buf, 0x82, rfc_mask, pay, n, LEN_MIN);
		struct ws_frame f;
		uint16_t code;
		CHECK(total == want_h + n);
		if (n <= 300) /* every prefix: quadratic, so the small ones only */
			CHECK(needs_more_until_whole(buf, total, MAXP));
		else
			CHECK(ws_parse_frame(buf, total - 1, MAXP, &f, &code) == WS_PARSE_NEED_MORE);
		buf[total] = 0x81; /* the next frame has begun arriving */
		buf[total + 1] = 0x80;
		CHECK(ws_parse_frame(buf, total + 2, MAXP, &f, &code) == WS_PARSE_OK);
		CHECK(f.header_len == want_h && f.payload_len == n);
		ws_unmask(buf + f.header_len, n, f.mask, 0);
		CHECK(n == 0 || memcmp(buf + f.header_len, pay, n) == 0);
	}

	/* Non-minimal length encodings are allowed (the header says so). */
	uint8_t b[400];
	size_t t = client_frame(b, 0x81, rfc_mask, "abcde", 5, LEN_16);
	CHECK(t == 13 && needs_more_until_whole(b, t, MAXP));
	t = client_frame(b, 0x81, rfc_mask, "abcde", 5, LEN_64);
	CHECK(t == 19 && needs_more_until_whole(b, t, MAXP));
	t = client_frame(b, 0x82, rfc_mask, pay, 300, LEN_64);
	CHECK(t == 314 && needs_more_until_whole(b, t, MAXP));
	free(pay);
	free(buf);
}

static void test_huge_lengths(void)
{
	struct ws_frame f;
	uint16_t code;
	/* 2^63 and beyond are forbidden outright (5.2), whatever the limit. */
	uint8_t top[14] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	CHECK(parse_err(top, sizeof top, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
	CHECK(parse_err(top, 10, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
	CHECK(parse_err(top, 9, MAXP, &code) == WS_PARSE_NEED_MORE);
	memset(top + 2, 0xFF, 8);
	CHECK(parse_err(top, sizeof top, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
	CHECK(parse_err(top, sizeof top, 10, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);

	/* 2^63 - 1 is legal; it just never finishes arriving. */
	uint8_t big[14] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
	CHECK(ws_parse_frame(big, sizeof big, MAXP, &f, &code) == WS_PARSE_NEED_MORE);
	CHECK(f.payload_len == UINT64_MAX >> 1 && f.header_len == 14);
}

static void test_too_big(void)
{
	uint8_t pay[300] = {0};
	uint8_t b[400];
	uint16_t code;
	struct ws_frame f;

	size_t t = client_frame(b, 0x82, rfc_mask, pay, 100, LEN_MIN);
	CHECK(ws_parse_frame(b, t, 100, &f, &code) == WS_PARSE_OK);
	CHECK(parse_err(b, t, 99, &code) == WS_PARSE_ERROR && code == WS_CLOSE_TOO_BIG);
	/* Reported from the length alone, before the payload is buffered. */
	CHECK(parse_err(b, 2, 99, &code) == WS_PARSE_ERROR && code == WS_CLOSE_TOO_BIG);
	CHECK(parse_err(b, 1, 99, &code) == WS_PARSE_NEED_MORE);

	t = client_frame(b, 0x82, rfc_mask, pay, 300, LEN_MIN);
	CHECK(parse_err(b, 4, 299, &code) == WS_PARSE_ERROR && code == WS_CLOSE_TOO_BIG);
	CHECK(parse_err(b, 3, 299, &code) == WS_PARSE_NEED_MORE);
	CHECK(parse_err(b, t, 300, &code) == WS_PARSE_OK);

	uint8_t h64[10] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0};
	CHECK(parse_err(h64, 10, 1u << 20, &code) == WS_PARSE_ERROR && code == WS_CLOSE_TOO_BIG);
	CHECK(parse_err(h64, 10, 1ull << 32, &code) == WS_PARSE_NEED_MORE);
	CHECK(parse_err(h64, 0, 0, &code) == WS_PARSE_NEED_MORE);
}

static void test_bad_headers(void)
{
	uint8_t b[200];
	uint16_t code;
	struct ws_frame f;

	/* Any RSV bit, alone or together, from the first byte on. */
	for (unsigned rsv = 1; rsv < 8; rsv++) {
		size_t t = client_frame(b, (uint8_t)(0x81 | rsv << 4), rfc_mask, "x", 1, LEN_MIN);
		CHECK(parse_err(b, t, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
		CHECK(parse_err(b, 1, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
	}

	/* Opcodes: the six defined ones parse, the ten reserved ones fail. */
	for (unsigned op = 0; op < 16; op++) {
		bool known = op <= 2 || (op >= 8 && op <= 10);
		size_t t = client_frame(b, (uint8_t)(0x80 | op), rfc_mask, "", 0, LEN_MIN);
		enum ws_parse_result r = parse_err(b, t, MAXP, &code);
		CHECK(known ? r == WS_PARSE_OK : r == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
		if (!known)
			CHECK(parse_err(b, 1, MAXP, &code) == WS_PARSE_ERROR);
	}

	/* Control frames: never fragmented, never over 125 bytes. */
	static const uint8_t ctl[] = {0x08, 0x09, 0x0A};
	uint8_t pay[126] = {0};
	for (size_t i = 0; i < 3; i++) {
		size_t t = client_frame(b, ctl[i], rfc_mask, "", 0, LEN_MIN);
		CHECK(parse_err(b, t, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
		CHECK(parse_err(b, 1, MAXP, &code) == WS_PARSE_ERROR);

		t = client_frame(b, (uint8_t)(0x80 | ctl[i]), rfc_mask, pay, 125, LEN_MIN);
		CHECK(needs_more_until_whole(b, t, MAXP));
		t = client_frame(b, (uint8_t)(0x80 | ctl[i]), rfc_mask, pay, 126, LEN_MIN);
		CHECK(parse_err(b, t, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
		CHECK(parse_err(b, 2, MAXP, &code) == WS_PARSE_ERROR);
		/* Even a small payload in the 16- or 64-bit form is too long a form. */
		t = client_frame(b, (uint8_t)(0x80 | ctl[i]), rfc_mask, pay, 5, LEN_16);
		CHECK(parse_err(b, t, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
		t = client_frame(b, (uint8_t)(0x80 | ctl[i]), rfc_mask, pay, 5, LEN_64);
		CHECK(parse_err(b, t, MAXP, &code) == WS_PARSE_ERROR && code == WS_CLOSE_PROTOCOL);
	}

	/* Data frames may be fragmented, and a NULL close_code is tolerated. */
	size_t t = client_frame(b, 0x00, rfc_mask, "ab", 2, LEN_MIN);
	CHECK(ws_parse_frame(b, t, MAXP, &f, NULL) == WS_PARSE_OK && !f.fin && f.opcode == WS_CONT);
	b[0] = 0xF1;
	CHECK(ws_parse_frame(b, t, MAXP, &f, NULL) == WS_PARSE_ERROR);
}

static void test_unmask_pieces(void)
{
	static const char text[] = "Hello, fragmented world!";
	const size_t n = sizeof text - 1;
	uint8_t masked[sizeof text];
	memcpy(masked, text, n);
	ref_mask(masked, n, rfc_mask, 0);

	/* Cut into three pieces at every pair of points, as data arrives. */
	int wrong = 0;
	for (size_t a = 0; a <= n; a++)
		for (size_t c = a; c <= n; c++) {
			uint8_t p[sizeof text];
			memcpy(p, masked, n);
			ws_unmask(p, a, rfc_mask, 0);
			ws_unmask(p + a, c - a, rfc_mask, a);
			ws_unmask(p + c, n - c, rfc_mask, c);
			wrong += memcmp(p, text, n) != 0;
		}
	CHECK(wrong == 0);

	/* Only the offset modulo 4 matters, even beyond 32 bits. */
	uint8_t p[8];
	memcpy(p, masked + 1, 7);
	ws_unmask(p, 7, rfc_mask, (1ull << 40) + 1);
	CHECK(memcmp(p, text + 1, 7) == 0);

	/* The word-at-a-time path against the RFC's loop, at every length,
	 * offset and alignment; exact-size heap buffers so ASan sees
	 * over-runs. */
	static const uint8_t m[4] = {0x01, 0x80, 0xFE, 0x5A};
	wrong = 0;
	for (size_t len = 0; len <= 40; len++)
		for (uint64_t off = 0; off < 8; off++)
			for (size_t align = 0; align < 8; align++) {
				uint8_t *x = malloc((len + align) ? len + align : 1), want[48];
				if (!x)
					continue;
				for (size_t i = 0; i < len; i++)
					want[i] = x[align + i] = (uint8_t)(i * 31 + off);
				ws_unmask(x + align, len, m, off);
				ref_mask(want, len, m, off);
				wrong += len && memcmp(x + align, want, len) != 0;
				free(x);
			}
	CHECK(wrong == 0);
	ws_unmask(NULL, 0, m, 3);
}

static void test_close_payload(void)
{
	uint8_t out[130];
	uint16_t code = 0;

	memset(out, 0xAA, sizeof out);
	CHECK(ws_close_payload(out, 1000, "bye") == 5);
	CHECK(memcmp(out, "\x03\xE8" "bye", 5) == 0);
	CHECK(ws_close_payload(out, 4001, NULL) == 2 && out[0] == 0x0F && out[1] == 0xA1);
	CHECK(ws_close_payload(out, 1001, "") == 2);

	/* Long reasons are cut at 125 bytes... */
	char longr[300];
	memset(longr, 'r', sizeof longr - 1);
	longr[sizeof longr - 1] = '\0';
	memset(out, 0xAA, sizeof out);
	CHECK(ws_close_payload(out, 1008, longr) == 125);
	CHECK(out[125] == 0xAA && out[129] == 0xAA);
	CHECK(ws_close_payload_valid(out, 125, &code) && code == 1008);

	/* ...but never inside a character, or the peer would reject it. */
	static const char *const chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
	static const size_t want_len[] = {2 + 122, 2 + 123, 2 + 120};
	for (size_t c = 0; c < 3; c++) {
		size_t cl = strlen(chars[c]), k = 0;
		while (k + cl < sizeof longr) {
			memcpy(longr + k, chars[c], cl);
			k += cl;
		}
		longr[k] = '\0';
		memset(out, 0xAA, sizeof out);
		size_t n = ws_close_payload(out, 1000, longr);
		CHECK(n == want_len[c]);
		CHECK(out[125] == 0xAA);
		CHECK(ws_close_payload_valid(out, n, &code) && code == 1000);
	}

	/* Codes that only exist in local reports must not reach the wire. */
	CHECK(ws_close_payload(out, 1005, "x") == 0);
	CHECK(ws_close_payload(out, 1006, NULL) == 0);
	CHECK(ws_close_payload(out, 1015, NULL) == 0);
}

static bool close_ok(uint16_t c)
{
	uint8_t p[2] = {(uint8_t)(c >> 8), (uint8_t)c};
	uint16_t got = 0;
	return ws_close_payload_valid(p, 2, &got) && got == c;
}

/* Autobahn 7.7 (valid codes) and 7.9 (invalid ones), plus edges. */
static void test_close_valid(void)
{
	static const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
					3000, 3999, 4000, 4999};
	static const uint16_t bad[] = {0,    999,  1004, 1005, 1006, 1012, 1013, 1014, 1015,
				       1016, 1100, 2000, 2999, 5000, 65535};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(close_ok(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!close_ok(bad[i]));

	uint16_t code = 0;
	CHECK(ws_close_payload_valid((const uint8_t *)"", 0, &code) && code == 1005);
	CHECK(ws_close_payload_valid(NULL, 0, NULL));
	uint8_t *one = malloc(1); /* exact size: a 1-byte payload has no code to read */
	if (one) {
		one[0] = 0x03;
		CHECK(!ws_close_payload_valid(one, 1, &code));
		free(one);
	}
	CHECK(ws_close_payload_valid((const uint8_t *)"\x03\xE8" "Hello \xE2\x82\xAC", 11, &code));
	/* 7.5.1: a reason that is not UTF-8. */
	static const uint8_t bad_reason[] = {0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF,
					     0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
					     0x65, 0x64, 0x69, 0x74, 0x65, 0x64};
	code = 0;
	CHECK(!ws_close_payload_valid(bad_reason, sizeof bad_reason, &code) && code == 0);
	CHECK(!ws_close_payload_valid((const uint8_t *)"\x03\xE8\xC3", 3, &code));

	uint8_t p[126];
	memset(p, 'a', sizeof p);
	p[0] = 0x03, p[1] = 0xE8;
	CHECK(ws_close_payload_valid(p, 125, &code));
	CHECK(!ws_close_payload_valid(p, 126, &code));
}

static void test_accept_key(void)
{
	char out[29];
	memset(out, 'X', sizeof out);
	CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out));
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	CHECK(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out));
	CHECK_STR(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	CHECK(ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", out));
	CHECK_STR(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");

	static const char *const bad[] = {
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
		"dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
		"dGhlIHNhbXBsZSBub25jZQAA",  /* 18 bytes */
		"dGhlIHNhbXBsZSBub25jZQA=",  /* 17 bytes */
		"dGhlIHNhbXBsZSBub25jZQ=A",
		"dGhlIHNhbXBsZSBub25jZ!==",
		"dGhlIHNhbXBsZSBub25jZ ==",
		"dGhlIHNhbXBsZSBub25jZ-==",  /* base64url is not base64 */
		"dGhl=HNhbXBsZSBub25jZQ==",
		" dGhlIHNhbXBsZSBub25jZQ==",
		"dGhlIHNhbXBsZSBub25jZQ==\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!ws_accept_key(bad[i], out));
	CHECK(!ws_accept_key(NULL, out));
}

int main(void)
{
	test_rfc_5_7_client_frames();
	test_rfc_5_7_server_headers();
	test_header_round_trip();
	test_lengths();
	test_huge_lengths();
	test_too_big();
	test_bad_headers();
	test_unmask_pieces();
	test_close_payload();
	test_close_valid();
	test_accept_key();
	return T_DONE();
}
