/* api/takeover: the sockets of push connections, taken from libmicrohttpd
 * for the hub — the one place that knows how, for SSE streams and for
 * WebSockets (native and Socket.IO's) alike.
 *
 * The takeover (the default).  The hub gets a dup() of MHD's socket and
 * MHD is made to forget the connection, freeing its connection and its
 * 8 KiB pool, so an idle stream costs the hub's ~0.8 KiB and nothing in
 * MHD:
 *  - SSE: the access handler returns MHD_NO after the dup, and MHD closes
 *    the connection (MHD_connection_close_, then close()).
 *  - WebSocket: MHD answers 101 itself; in the upgrade handler the socket
 *    is dup()ed and MHD_UPGRADE_ACTION_CLOSE given at once.
 * Either way the dup keeps the TCP connection open only because MHD
 * close()s its descriptor without shutdown()ing the socket first: a
 * shutdown(SHUT_WR) would send the client a FIN that no later write can
 * take back.
 *  - SSE: MHD's close of a connection (MHD_connection_close_) calls
 *    shutdown(SHUT_WR) unless the daemon runs with MHD_USE_TURBO
 *    ("if (0 == (daemon->options & MHD_USE_TURBO)) shutdown (...)"; plain
 *    TCP, no TLS).  Without the flag the client gets a FIN before the
 *    hub's first byte: tests/unit/test_takeover fails (it was tried).
 *  - WebSocket: MHD_UPGRADE_ACTION_CLOSE on a plain-TCP upgraded socket
 *    closes it without a shutdown, with or without MHD_USE_TURBO (in
 *    0.9.75; the test checks it on every build).
 * That is MHD's behaviour, not its documented API.  It holds in
 * libmicrohttpd 0.9.75 (Debian 12), the version this was tested with;
 * configure warns outside the tested range, and tests/unit/test_takeover
 * (make check) runs the real front end on loopback, takes over one SSE
 * stream and one WebSocket, and fails if either is shut down (it wraps
 * shutdown()) or ends before the server's first write after MHD let go.
 * The mode decides the flag: api/mhd.c starts MHD with
 * pl_takeover_mhd_flags(), MHD_USE_TURBO in takeover mode only.
 *
 * The fallback, `parleyd --no-takeover`: MHD keeps every socket and
 * closes it in its own time; the hub gets one end of a socketpair instead,
 * and a relay thread per stream carries the bytes (more memory: MHD's
 * connection and pool, a small thread and its buffers per stream; still
 * correct, and it rests on documented API only):
 *  - SSE: a response from MHD_create_response_from_callback reads the
 *    relay's end (the hub's own response head is dropped: MHD writes
 *    one); with nothing to read the connection is suspended and the
 *    relay thread resumes it when there is.
 *  - WebSocket: the relay thread copies between MHD's upgraded socket
 *    and the socketpair in both directions, passes each end-of-stream on
 *    (shutdown of the other side), and gives MHD_UPGRADE_ACTION_CLOSE when
 *    both are done, as the documentation asks. */
#ifndef PL_TAKEOVER_H
#define PL_TAKEOVER_H

#include <microhttpd.h>
#include <stdbool.h>

struct pl_takeover;

/* takeover: the default mode (the daemon must then run with
 * MHD_USE_TURBO, and without it in the fallback).  NULL: out of memory. */
struct pl_takeover *pl_takeover_new(bool takeover);
/* The daemon flags the mode needs besides the caller's. */
unsigned pl_takeover_mhd_flags(const struct pl_takeover *t);
/* Before MHD_stop_daemon, once the hub has closed its sockets: waits (up to
 * 2 s) for the relays to end, so none touches MHD after it stopped. */
void pl_takeover_drain(struct pl_takeover *t);
void pl_takeover_free(struct pl_takeover *t);

/* ---- WebSocket ---- */

/* A WebSocket handshake (RFC 6455, version 13): its Sec-WebSocket-Accept
 * into accept; false when the request is none. */
bool pl_upgrade_handshake(struct MHD_Connection *mc, char accept[29]);
/* Queues the 101 answer; fn(cls, ...) gets the socket.  *made: the answer
 * was made (when false, fn never runs and cls is still the caller's). */
enum MHD_Result pl_upgrade_answer(struct MHD_Connection *mc, const char accept[29],
				  MHD_UpgradeHandler fn, void *cls, bool *made);
/* In fn: the socket for the hub (non-blocking, close-on-exec; the hub may
 * close it whenever it likes), MHD's own let go of or relayed; -1 when it
 * could not be had (MHD's is let go of then too). */
int pl_upgrade_take(struct pl_takeover *t, MHD_socket sock,
		    struct MHD_UpgradeResponseHandle *urh);

/* ---- SSE ---- */

struct pl_sse_take;
/* In the access handler: the socket for the hub to answer on (it writes
 * the response head itself), or -1.  *st: for pl_sse_answer or
 * pl_sse_cancel, whichever comes next (NULL in takeover mode). */
int pl_sse_take(struct pl_takeover *t, struct MHD_Connection *mc, struct pl_sse_take **st);
/* The hub has the socket: what the access handler returns. */
enum MHD_Result pl_sse_answer(struct MHD_Connection *mc, struct pl_sse_take *st);
/* The hub will not have the socket (the caller closed it): undo. */
void pl_sse_cancel(struct pl_sse_take *st);

#endif
