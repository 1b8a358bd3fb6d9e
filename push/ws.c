/* push/ws: RFC 6455 framing for the server side, with no I/O and no
 * allocation, so that every rule about what a client may send is checked
 * here, where it can be unit-tested and fuzzed without sockets. */
#include "push/ws.h"

#include "base/utf8.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24           /* base64 of the 16-byte nonce */
#define WS_CONTROL_MAX 125
#define WS_CLOSE_REASON_MAX (WS_CONTROL_MAX - 2)

static enum ws_parse_result fail(uint16_t *close_code, uint16_t code)
{
	if (close_code)
		*close_code = code;
	return WS_PARSE_ERROR;
}

static bool known_opcode(unsigned op)
{
	switch (op) {
	case WS_CONT:
	case WS_TEXT:
	case WS_BINARY:
	case WS_CLOSE:
	case WS_PING:
	case WS_PONG:
		return true;
	default:
		return false;
	}
}

static bool is_control(enum ws_opcode op) { return (op & 0x8) != 0; }

static uint64_t read_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void write_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)(v & 0xFF);
}

/* Each check runs as soon as the byte it needs has arrived, so a peer that
 * breaks the protocol is failed without waiting for (or buffering) the
 * rest of its frame. */
enum ws_parse_result ws_parse_frame(const uint8_t *buf, size_t len, uint64_t max_payload,
				    struct ws_frame *f, uint16_t *close_code)
{
	memset(f, 0, sizeof *f);
	if (len < 1)
		return WS_PARSE_NEED_MORE;

	/* RSV bits mean an extension, and none is ever negotiated (5.2). */
	if (buf[0] & 0x70)
		return fail(close_code, WS_CLOSE_PROTOCOL);
	if (!known_opcode(buf[0] & 0x0F))
		return fail(close_code, WS_CLOSE_PROTOCOL);
	f->fin = (buf[0] & 0x80) != 0;
	f->opcode = (enum ws_opcode)(buf[0] & 0x0F);
	/* Control frames may arrive in the middle of a fragmented message, so
	 * they cannot be fragmented themselves (5.5). */
	if (is_control(f->opcode) && !f->fin)
		return fail(close_code, WS_CLOSE_PROTOCOL);
	if (len < 2)
		return WS_PARSE_NEED_MORE;

	/* Client masking is what stops a page from writing chosen bytes
	 * through intermediaries' caches; 5.1 says to fail the connection. */
	f->masked = (buf[1] & 0x80) != 0;
	if (!f->masked)
		return fail(close_code, WS_CLOSE_PROTOCOL);
	unsigned len7 = buf[1] & 0x7F;
	if (is_control(f->opcode) && len7 > WS_CONTROL_MAX)
		return fail(close_code, WS_CLOSE_PROTOCOL);
	size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
	if (len < 2 + ext)
		return WS_PARSE_NEED_MORE;

	f->payload_len = ext ? read_be(buf + 2, ext) : len7;
	if (f->payload_len >> 63)
		return fail(close_code, WS_CLOSE_PROTOCOL);
	if (f->payload_len > max_payload)
		return fail(close_code, WS_CLOSE_TOO_BIG);
	f->header_len = 2 + ext + 4;
	if (len < f->header_len)
		return WS_PARSE_NEED_MORE;
	memcpy(f->mask, buf + 2 + ext, 4);
	if (len - f->header_len < f->payload_len)
		return WS_PARSE_NEED_MORE;
	return WS_PARSE_OK;
}

void ws_unmask(uint8_t *payload, size_t len, const uint8_t mask[4], uint64_t offset)
{
	/* The mask rotated to start at offset, repeated to word width, lets
	 * most of the payload be XORed eight bytes at a time. */
	uint8_t key[8];
	for (size_t k = 0; k < sizeof key; k++)
		key[k] = mask[(offset + k) & 3];
	uint64_t kw;
	memcpy(&kw, key, sizeof kw);

	size_t i = 0;
	for (; len - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, payload + i, sizeof w);
		w ^= kw;
		memcpy(payload + i, &w, sizeof w);
	}
	for (; i < len; i++)
		payload[i] ^= key[i & 7];
}

size_t ws_frame_header(uint8_t *out, enum ws_opcode op, bool fin, uint64_t len)
{
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0F));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xFFFF) {
		out[1] = 126;
		write_be(out + 2, len, 2);
		return 4;
	}
	out[1] = 127;
	write_be(out + 2, len, 8);
	return 10;
}

/* 1005, 1006 and 1015 stand for "no code", "no close frame" and "TLS
 * failure" in local reports only; 7.4.1 forbids sending them. */
static bool close_code_local_only(uint16_t code)
{
	return code == 1005 || code == 1006 || code == 1015;
}

size_t ws_close_payload(uint8_t *out, uint16_t code, const char *reason)
{
	if (close_code_local_only(code))
		return 0;
	write_be(out, code, 2);
	size_t n = reason ? strnlen(reason, WS_CLOSE_REASON_MAX + 1) : 0;
	if (n > WS_CLOSE_REASON_MAX) {
		/* Back up to a character boundary: a reason cut inside a
		 * character is invalid UTF-8, and the peer would fail us for it. */
		n = WS_CLOSE_REASON_MAX;
		while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
			n--;
	}
	if (n > 0)
		memcpy(out + 2, reason, n);
	return 2 + n;
}

static bool close_code_allowed(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

bool ws_close_payload_valid(const uint8_t *p, size_t len, uint16_t *code)
{
	if (len == 0) {
		if (code)
			*code = 1005;
		return true;
	}
	if (len < 2 || len > WS_CONTROL_MAX)
		return false;
	uint16_t c = (uint16_t)read_be(p, 2);
	if (!close_code_allowed(c) || !pl_utf8_valid((const char *)p + 2, len - 2))
		return false;
	if (code)
		*code = c;
	return true;
}

static bool is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* 16 bytes encode as 22 base64 characters and "==" (4.1). */
static bool key_well_formed(const char *key)
{
	if (!key || strnlen(key, WS_KEY_LEN + 1) != WS_KEY_LEN)
		return false;
	for (size_t i = 0; i < WS_KEY_LEN - 2; i++)
		if (!is_base64_char(key[i]))
			return false;
	return key[WS_KEY_LEN - 2] == '=' && key[WS_KEY_LEN - 1] == '=';
}

bool ws_accept_key(const char *client_key, char out[29])
{
	if (!key_well_formed(client_key))
		return false;
	unsigned char in[WS_KEY_LEN + sizeof WS_GUID - 1];
	memcpy(in, client_key, WS_KEY_LEN);
	memcpy(in + WS_KEY_LEN, WS_GUID, sizeof WS_GUID - 1);
	unsigned char md[SHA_DIGEST_LENGTH];
	if (!SHA1(in, sizeof in, md))
		return false;
	return EVP_EncodeBlock((unsigned char *)out, md, (int)sizeof md) == 28;
}
