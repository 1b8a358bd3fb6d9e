/* push/ws: RFC 6455 framing, with no I/O and no allocation.
 *
 * The connection code (push/wsconn.c) owns buffers and sockets; this module
 * only parses what has arrived and encodes what will be sent, so it can be
 * unit-tested and fuzzed alone. */
#ifndef PL_WS_H
#define PL_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_CONT = 0x0, WS_TEXT = 0x1, WS_BINARY = 0x2,
	WS_CLOSE = 0x8, WS_PING = 0x9, WS_PONG = 0xA,
};

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002, WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009, WS_CLOSE_INTERNAL = 1011,
	WS_CLOSE_TRY_AGAIN = 1013,
};

struct ws_frame {
	bool fin;
	enum ws_opcode opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t payload_len;
	size_t header_len;      /* bytes before the payload */
};

enum ws_parse_result {
	WS_PARSE_OK,            /* a whole frame is in buf: header_len + payload_len bytes */
	WS_PARSE_NEED_MORE,     /* not enough bytes yet */
	WS_PARSE_ERROR,         /* protocol error: close with *close_code */
};

/* Parses one client frame header at buf.  Enforces the server-side rules:
 * the frame must be masked, reserved bits zero (no extensions are
 * negotiated), known opcodes only, control frames FIN and <= 125 bytes,
 * 64-bit lengths with the top bit clear and minimal length encodings are not
 * required (RFC allows non-minimal).  payload_len above max_payload gives
 * WS_PARSE_ERROR with WS_CLOSE_TOO_BIG.  WS_PARSE_OK is returned only when
 * the whole payload has arrived too.  Errors are reported as soon as the
 * offending header byte is in buf, before the rest of the frame. */
enum ws_parse_result ws_parse_frame(const uint8_t *buf, size_t len, uint64_t max_payload,
				    struct ws_frame *f, uint16_t *close_code);

/* XORs payload in place with the mask; offset is the position of payload[0]
 * within the frame's payload (for unmasking in pieces). */
void ws_unmask(uint8_t *payload, size_t len, const uint8_t mask[4], uint64_t offset);

/* Writes a server (unmasked) frame header for a payload of len bytes into
 * out (>= 10 bytes); returns the header length. */
size_t ws_frame_header(uint8_t *out, enum ws_opcode op, bool fin, uint64_t len);

/* Builds a close frame payload: 2-byte code + reason (truncated to fit 125
 * bytes, at a UTF-8 character boundary).  Returns the payload length written
 * to out (>= 125 bytes).  Codes that must never be sent (1005, 1006, 1015)
 * give an empty payload, i.e. 0. */
size_t ws_close_payload(uint8_t *out, uint16_t code, const char *reason);

/* Validates a received close payload: empty, or a 2-byte code that is
 * allowed on the wire (1000-1003, 1007-1011, 3000-4999) followed by valid
 * UTF-8.  On success *code is the peer's code (1005 when empty). */
bool ws_close_payload_valid(const uint8_t *p, size_t len, uint16_t *code);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64 of
 * SHA-1(key + GUID), via libcrypto.  out must hold 29 bytes. */
bool ws_accept_key(const char *client_key, char out[29]);

#endif
