/* api/upgrade: taking a WebSocket over from libmicrohttpd.
 *
 * parleyd answers the handshake through MHD, then keeps the socket for the
 * hub and lets MHD go: a dup() of the socket outlives
 * MHD_UPGRADE_ACTION_CLOSE, after which MHD frees its connection (about
 * 0.4 KiB per WebSocket remains, not MHD's buffers).  This relies on MHD
 * closing, not shutting down, an upgraded socket it is told to close (with
 * MHD_USE_TURBO it skips the shutdown()); one place states and does it for
 * native WebSockets (api/mhd.c) and Socket.IO's (api/sio_http.c). */
#ifndef PL_UPGRADE_H
#define PL_UPGRADE_H

#include <microhttpd.h>
#include <stdbool.h>

/* A WebSocket handshake (RFC 6455, version 13): its Sec-WebSocket-Accept
 * into accept; false when the request is none. */
bool pl_upgrade_handshake(struct MHD_Connection *mc, char accept[29]);
/* Queues the 101 answer; fn(cls, ...) gets the socket.  *made: the answer
 * was made (when false, fn never runs and cls is still the caller's). */
enum MHD_Result pl_upgrade_answer(struct MHD_Connection *mc, const char accept[29],
				  MHD_UpgradeHandler fn, void *cls, bool *made);
/* In fn: the socket for the hub (non-blocking, close-on-exec), MHD told to
 * let go of its own; -1 when it could not be kept. */
int pl_upgrade_take(MHD_socket sock, struct MHD_UpgradeResponseHandle *urh);

#endif
