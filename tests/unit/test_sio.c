/* tests/unit/test_sio: the Engine.IO payload and base64 codec (push/eio.c)
 * and the Socket.IO packet parser and header writer (push/sio.c), against
 * the examples of the protocols' documentation and the malformed packets a
 * strict server must refuse. */
#include "push/eio.h"
#include "push/sio.h"

#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/t.h"

static void payloads(void)
{
	const char *p = "4hello\x1e" "4€\x1e" "bAQIDBA==";
	size_t pos = 0, n;
	const char *pkt;
	CHECK(eio_payload_next(p, strlen(p), &pos, &pkt, &n) && n == 6 && memcmp(pkt, "4hello", 6) == 0);
	CHECK(eio_payload_next(p, strlen(p), &pos, &pkt, &n) && n == 4 && memcmp(pkt, "4€", 4) == 0);
	CHECK(eio_payload_next(p, strlen(p), &pos, &pkt, &n) && n == 9 && pkt[0] == 'b');
	CHECK(!eio_payload_next(p, strlen(p), &pos, &pkt, &n));
	uint8_t bin[8];
	size_t bl;
	CHECK(eio_b64_decode(pkt + 1, n - 1, bin, &bl) && bl == 4 && bin[0] == 1 && bin[3] == 4);
	/* an empty body and a trailing separator give empty packets */
	pos = 0;
	CHECK(eio_payload_next("", 0, &pos, &pkt, &n) && n == 0);
	CHECK(!eio_payload_next("", 0, &pos, &pkt, &n));
	pos = 0;
	CHECK(eio_payload_next("2\x1e", 2, &pos, &pkt, &n) && n == 1);
	CHECK(eio_payload_next("2\x1e", 2, &pos, &pkt, &n) && n == 0);
	CHECK(!eio_payload_next("2\x1e", 2, &pos, &pkt, &n));
}

static void base64(void)
{
	static const struct {
		const char *raw, *b64;
	} v[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		 {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		char out[16];
		uint8_t back[16];
		size_t n = eio_b64_encode((const uint8_t *)v[i].raw, strlen(v[i].raw), out), bn;
		CHECK(n == strlen(v[i].b64) && memcmp(out, v[i].b64, n) == 0);
		CHECK(eio_b64_decode(v[i].b64, n, back, &bn) && bn == strlen(v[i].raw) &&
		      memcmp(back, v[i].raw, bn) == 0);
	}
	uint8_t out[16];
	size_t n;
	CHECK(!eio_b64_decode("Zg=", 3, out, &n));     /* not a multiple of 4 */
	CHECK(!eio_b64_decode("Z===", 4, out, &n));    /* too much padding */
	CHECK(!eio_b64_decode("Zg==Zg==", 8, out, &n)); /* padding in the middle */
	CHECK(!eio_b64_decode("Zm9*", 4, out, &n));
	CHECK(!eio_b64_decode("Zg=a", 4, out, &n));
	CHECK(!eio_b64_decode("Zh==", 4, out, &n));    /* stray bits: not canonical */
	CHECK(!eio_b64_decode("Zm9=", 4, out, &n));
}

static bool parses(const char *p, struct sio_packet *pk, json_t **data)
{
	*data = NULL;
	return sio_parse(p, strlen(p), pk) && sio_payload(pk, data);
}

static void packets(void)
{
	struct sio_packet pk;
	json_t *d;
	CHECK(parses("0", &pk, &d) && pk.type == SIO_CONNECT && !d && pk.nsp_len == 1);
	CHECK(parses("0{\"token\":\"x\"}", &pk, &d) && json_is_object(d));
	json_decref(d);
	CHECK(parses("0/admin,{\"a\":1}", &pk, &d) && pk.nsp_len == 6 &&
	      memcmp(pk.nsp, "/admin", 6) == 0);
	json_decref(d);
	CHECK(parses("1", &pk, &d) && pk.type == SIO_DISCONNECT);
	CHECK(parses("2[\"hello\",1]", &pk, &d) && pk.type == SIO_EVENT && pk.ack_id == -1 &&
	      json_array_size(d) == 2);
	json_decref(d);
	CHECK(parses("212[\"hello\"]", &pk, &d) && pk.ack_id == 12);
	json_decref(d);
	CHECK(parses("2/chat,7[\"a\"]", &pk, &d) && pk.ack_id == 7 && pk.nsp_len == 5);
	json_decref(d);
	CHECK(parses("3456[]", &pk, &d) && pk.type == SIO_ACK && pk.ack_id == 456);
	json_decref(d);
	CHECK(parses("51-[\"up\",{\"_placeholder\":true,\"num\":0}]", &pk, &d) &&
	      pk.type == SIO_BINARY_EVENT && pk.attachments == 1);
	json_decref(d);
	CHECK(parses("61-/a,3[{\"_placeholder\":true,\"num\":0}]", &pk, &d) &&
	      pk.type == SIO_BINARY_ACK && pk.ack_id == 3);
	json_decref(d);
	/* refused */
	const char *bad[] = {
		"", "7", "x", "0[1]", "0\"s\"", "1{}", "2", "2{}", "2[]", "2[{}]", "2[\"a\"",
		"4{\"message\":\"x\"}", "3{}", "5[\"a\"]", "5-[\"a\"]", "51[\"a\"]", "50-[\"a\"]",
		"599-[\"a\"]", "51-[\"a\",{\"_placeholder\":true,\"num\":1}]",
		"51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]", "29999999999999999[\"a\"]",
		"2[\"a\",1,]", "0{\"a\":1,\"a\":2}", "0/a\x01b,{}",
		"0/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bool ok = parses(bad[i], &pk, &d);
		if (ok)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(!ok);
		json_decref(d);
	}
}

static void headers(void)
{
	char h[SIO_HEADER_MAX];
	size_t n = sio_header(h, SIO_EVENT, 0, "/", -1);
	CHECK(n == 1 && h[0] == '2');
	n = sio_header(h, SIO_ACK, 0, NULL, 12);
	CHECK(n == 3 && memcmp(h, "312", 3) == 0);
	n = sio_header(h, SIO_BINARY_EVENT, 2, "/custom", -1);
	CHECK(n == 11 && memcmp(h, "52-/custom,", 11) == 0);
	n = sio_header(h, SIO_CONNECT_ERROR, 0, "/x", -1);
	CHECK(n == 4 && memcmp(h, "4/x,", 4) == 0);
}

int main(void)
{
	payloads();
	base64();
	packets();
	headers();
	return T_DONE();
}
