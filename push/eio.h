/* push/eio: the Engine.IO 4 wire format, with no I/O and no allocation.
 *
 * An Engine.IO packet is one type character followed by its data; over
 * HTTP long-polling several travel in one body separated by 0x1e, and a
 * binary packet is written "b" + base64 of its bytes.  Over WebSocket each
 * packet is one message (a binary frame for a binary packet).  The session
 * code (push/eiosess.c) owns sockets and buffers; this module only splits
 * payloads and converts base64, so it can be unit-tested and fuzzed. */
#ifndef PL_EIO_H
#define PL_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum eio_type {
	EIO_OPEN = '0', EIO_CLOSE = '1', EIO_PING = '2', EIO_PONG = '3',
	EIO_MESSAGE = '4', EIO_UPGRADE = '5', EIO_NOOP = '6',
};

#define EIO_SEP '\x1e'

/* The next packet of a polling payload at *pos: [*pkt, *pkt + *n).  False
 * at the end.  Empty packets (two separators in a row, or an empty body)
 * come back with *n == 0: the caller refuses them. */
bool eio_payload_next(const char *p, size_t len, size_t *pos, const char **pkt, size_t *n);

/* Base64 (RFC 4648, with padding).  encode writes 4 * ((n + 2) / 3) bytes
 * and a NUL after them, and returns that count; decode is strict (length a multiple of 4, padding
 * only at the end, no other bytes, no stray bits before the padding) and writes at most 3 * len / 4 bytes. */
size_t eio_b64_encode(const uint8_t *in, size_t n, char *out);
bool eio_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);

/* True when type is one a client may send (0 and 1..6 except 0/open). */
bool eio_client_type(char type);

#endif
