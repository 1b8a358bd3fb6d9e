/*
 * sio.c - the load generator's Socket.IO client: Engine.IO 4 and Socket.IO 5
 * packets over the WebSocket transport (ws.c), the way socket.io-client
 * speaks them once upgraded: the server opens with "0{..}", the client
 * connects to the main namespace with "40", pings ("2") are answered with
 * pongs ("3"), events are "42[name,..]", acks "43<id>[..]".  Only what the
 * Socket.IO scenarios need: text packets, the main namespace.
 */
#include "lg.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void sio_path(char *out, size_t n, const char *tok)
{
	snprintf(out, n, "/socket.io/?EIO=4&transport=websocket%s%s",
		 tok ? "&token=" : "", tok ? tok : "");
}

/* Classifies one WebSocket text payload; *ack gets an ACK's id. */
enum sio_kind sio_parse(const char *p, size_t n, long *ack)
{
	if (n == 0)
		return SIO_K_OTHER;
	if (p[0] == '0')
		return SIO_K_OPEN;
	if (p[0] == '2')
		return SIO_K_PING;
	if (p[0] != '4' || n < 2)
		return SIO_K_OTHER;
	switch (p[1]) {
	case '0':
		return SIO_K_CONNECTED;
	case '4':
		return SIO_K_CONNECT_ERROR;
	case '2':
		return SIO_K_EVENT;
	case '3':
		*ack = 0;
		for (size_t i = 2; i < n && isdigit((unsigned char)p[i]); i++)
			*ack = *ack * 10 + (p[i] - '0');
		return SIO_K_ACK;
	default:
		return SIO_K_OTHER;
	}
}

/* Whether an EVENT packet's name is the given one ("42[\"name\""). */
int sio_event_is(const char *p, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n >= l + 5 && !memcmp(p, "42[\"", 4) && !memcmp(p + 4, name, l) &&
	       p[4 + l] == '"';
}

void sio_connect(struct conn *c)
{
	ws_send_text(c, "40", 2);
}

void sio_pong(struct conn *c)
{
	ws_send_text(c, "3", 1);
}

/* Emits "42<ack>[args]"; args is the JSON array's inside. */
void sio_emit(struct conn *c, long ack, const char *args)
{
	char pkt[1024];
	int n = snprintf(pkt, sizeof pkt, "42%ld[%s]", ack, args);
	if (n > 0 && (size_t)n < sizeof pkt)
		ws_send_text(c, pkt, (size_t)n);
}
