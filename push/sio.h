/* push/sio: the Socket.IO 5 packet format, with no I/O.
 *
 * A packet is one Engine.IO message: a type digit, for the binary types
 * the number of attachments and '-', a namespace ("/chat,") unless it is
 * the main one, an acknowledgement id, then a JSON payload.  Binary
 * attachments follow as that many binary Engine.IO messages, referenced
 * from the payload by {"_placeholder":true,"num":N}.
 *
 * sio_parse reads the header without allocating; sio_payload checks the
 * JSON payload against the packet type the way the reference parser does
 * (strict: anything else is a protocol error, and the session closes). */
#ifndef PL_SIO_H
#define PL_SIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sio_type {
	SIO_CONNECT = 0, SIO_DISCONNECT, SIO_EVENT, SIO_ACK, SIO_CONNECT_ERROR,
	SIO_BINARY_EVENT, SIO_BINARY_ACK,
};

#define SIO_MAX_ATTACHMENTS 16
#define SIO_NSP_MAX 64
#define SIO_HEADER_MAX (2 + 4 + SIO_NSP_MAX + 2 + 20)

struct sio_packet {
	enum sio_type type;
	int attachments;          /* binary types: how many follow */
	const char *nsp;          /* "/" for the main namespace */
	size_t nsp_len;
	int64_t ack_id;           /* -1: none asked */
	const char *data;         /* the JSON payload ("" when none) */
	size_t data_len;
};

/* Parses the header of the text message p[0..len).  False for anything
 * malformed: an unknown type, a missing '-', too many attachments, a
 * namespace that does not start with '/', is too long or holds a
 * control byte, an ack id over
 * 2^53. */
bool sio_parse(const char *p, size_t len, struct sio_packet *out);

/* Decodes and checks the payload for the packet's type: CONNECT an object
 * or nothing, DISCONNECT nothing, EVENT a non-empty array starting with an
 * event name, ACK an array, CONNECT_ERROR refused (servers send it, clients
 * do not).  Placeholders must name an attachment the packet announced.
 * *out is the payload (NULL when none); false when invalid. */
bool sio_payload(const struct sio_packet *p, json_t **out);

/* Writes a packet header into out (SIO_HEADER_MAX bytes); ack_id < 0 for
 * none, nsp NULL or "/" for the main namespace.  Returns its length. */
size_t sio_header(char *out, enum sio_type type, int attachments, const char *nsp,
		  int64_t ack_id);

/* Counts the placeholders in v, false when one is malformed or names an
 * attachment >= n. */
bool sio_placeholders_ok(json_t *v, int n);

#endif
