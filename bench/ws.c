/*
 * ws.c - RFC 6455 client framing for the load generator: the upgrade
 * request, masked client frames (clients must mask, servers must refuse
 * unmasked ones) and parsing of the server's unmasked frames, answering pings.
 */
#include "lg.h"

#include <stdio.h>
#include <string.h>

static uint32_t g_rand = 2463534242u;

/* xorshift32: mask keys need only be unpredictable to the network path,
 * which here is loopback, so a fast generator is enough. */
static uint32_t next_mask(void)
{
	g_rand ^= g_rand << 13;
	g_rand ^= g_rand >> 17;
	g_rand ^= g_rand << 5;
	return g_rand;
}

void ws_upgrade(struct conn *c, const char *path)
{
	http_get(c, path,
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n");
}

static void ws_frame(struct conn *c, int op, const char *p, size_t n)
{
	unsigned char h[14];
	size_t hl = 2;
	uint32_t m = next_mask();
	h[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		h[1] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memcpy(h + hl, &m, 4);
	hl += 4;
	buf_append(&c->out, h, hl);
	char *dst = buf_reserve(&c->out, n);
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(p[i] ^ h[hl - 4 + (i & 3)]);
	c->out.len += n;
	net_send(c, "", 0);
}

void ws_send_text(struct conn *c, const char *p, size_t n)
{
	ws_frame(c, 1, p, n);
}

/* Length of the frame header at p, and the payload length; 0 if incomplete. */
static size_t frame_header(const unsigned char *p, size_t avail, uint64_t *len)
{
	size_t hl = 2;
	if (avail < 2)
		return 0;
	*len = p[1] & 0x7f;
	if (*len == 126) {
		hl = 4;
		if (avail < hl)
			return 0;
		*len = (uint64_t)p[2] << 8 | p[3];
	} else if (*len == 127) {
		hl = 10;
		if (avail < hl)
			return 0;
		*len = 0;
		for (int i = 0; i < 8; i++)
			*len = *len << 8 | p[2 + i];
	}
	if (p[1] & 0x80)
		hl += 4; /* a masked server frame is a protocol error; skip the key */
	return avail < hl ? 0 : hl;
}

/* Handles every complete frame in c->in; -1 on close or protocol error. */
int ws_input(struct conn *c)
{
	size_t off = 0;
	int r = 0;
	while (off < c->in.len && r == 0) {
		const unsigned char *p = (const unsigned char *)c->in.p + off;
		uint64_t len;
		size_t hl = frame_header(p, c->in.len - off, &len);
		if (!hl || c->in.len - off - hl < len)
			break;
		int op = p[0] & 0x0f;
		const char *pl = (const char *)p + hl;
		if (op == 0 || op == 1 || op == 2)
			lg_on_frame(c, pl, (size_t)len);
		else if (op == 9)
			ws_frame(c, 10, pl, (size_t)len);
		else if (op == 8)
			r = -1;
		off += hl + (size_t)len;
	}
	buf_consume(&c->in, off);
	return r;
}
