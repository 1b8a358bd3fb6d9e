/* Run: clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. $(pkg-config --cflags jansson) tests/fuzz/fuzz_sio.c push/eio.c push/sio.c $(pkg-config --libs jansson) -o /tmp/fuzz_sio && /tmp/fuzz_sio -max_total_time=60 */
/* tests/fuzz/fuzz_sio: libFuzzer harness for push/eio and push/sio.
 *
 * Treats the input as an HTTP long-polling body and walks it the way the
 * session code does: split into Engine.IO packets, decode "b" packets from
 * base64, and parse every message packet as Socket.IO.  Besides the
 * sanitizers it checks properties that must hold for any input, aborting
 * when one does not:
 *  - the packets of a payload lie inside it and, joined with separators,
 *    give the payload back;
 *  - base64 that decodes re-encodes to the same text;
 *  - a parsed Socket.IO header lies inside the packet, and writing it back
 *    with sio_header and parsing again gives the same fields;
 *  - an accepted payload has the shape its type requires. */
#include "push/eio.h"
#include "push/sio.h"

#include <stdlib.h>
#include <string.h>

static void must(bool cond)
{
	if (!cond)
		abort();
}

static void check_b64(const char *p, size_t n)
{
	uint8_t *out = malloc(n + 1);
	char *back = malloc(n + 4);
	size_t len;
	if (out && back && eio_b64_decode(p, n, out, &len)) {
		must(len <= n * 3 / 4);
		must(eio_b64_encode(out, len, back) == n && memcmp(back, p, n) == 0);
	}
	free(out);
	free(back);
}

static void check_sio(const char *p, size_t n)
{
	struct sio_packet pk;
	if (!sio_parse(p, n, &pk))
		return;
	must(pk.data >= p && pk.data + pk.data_len == p + n);
	must(pk.type <= SIO_BINARY_ACK && pk.nsp_len >= 1 && pk.nsp_len <= SIO_NSP_MAX);
	must(pk.nsp[0] == '/');
	/* The header written back parses to the same fields. */
	char nsp[SIO_NSP_MAX + 1];
	memcpy(nsp, pk.nsp, pk.nsp_len);
	nsp[pk.nsp_len] = 0;
	if (!memchr(nsp, ',', pk.nsp_len)) {
		char head[SIO_HEADER_MAX + 1];
		size_t hn = sio_header(head, pk.type, pk.attachments, nsp, pk.ack_id);
		struct sio_packet again;
		/* A payload starting with a digit would extend the ack id. */
		head[hn] = '[';
		must(sio_parse(head, hn + 1, &again));
		must(again.type == pk.type && again.ack_id == pk.ack_id &&
		     again.attachments == pk.attachments && again.nsp_len == pk.nsp_len &&
		     memcmp(again.nsp, pk.nsp, pk.nsp_len) == 0);
	}
	json_t *data;
	if (!sio_payload(&pk, &data))
		return;
	switch (pk.type) {
	case SIO_CONNECT: must(!data || json_is_object(data)); break;
	case SIO_DISCONNECT: must(!data); break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT: must(json_is_array(data) && json_array_size(data) > 0); break;
	case SIO_ACK:
	case SIO_BINARY_ACK: must(json_is_array(data)); break;
	default: must(false);
	}
	if (pk.type >= SIO_BINARY_EVENT)
		must(sio_placeholders_ok(data, pk.attachments));
	json_decref(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	size_t pos = 0, n, total = 0, count = 0;
	const char *pkt;
	while (eio_payload_next(body, size, &pos, &pkt, &n)) {
		must(pkt >= body && pkt + n <= body + size);
		must(pkt + n == body + size || pkt[n] == EIO_SEP);
		total += n;
		count++;
		if (n && pkt[0] == 'b')
			check_b64(pkt + 1, n - 1);
		else if (n && pkt[0] == EIO_MESSAGE)
			check_sio(pkt + 1, n - 1);
	}
	must(count >= 1 && total + count - 1 == size);
	return 0;
}
