/* push/sio_bind: Socket.IO sockets on Engine.IO sessions, and the chat
 * binding: what a client's events do and how Parley's events are emitted.
 *
 * The binding is two tables (push/sio_bind.c): client event name -> chat
 * operation, and Parley event type -> emitted name + shape builder.  Another
 * dialect is another pair of tables; the conformance app of the upstream
 * test suites (--socketio-conformance) is one. */
#ifndef PL_SIO_BIND_H
#define PL_SIO_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl_eio_sess;
struct pl_hub;
struct pl_event_out;
struct pl_buf;

/* A Socket.IO packet (an Engine.IO message) arrived; false when it is
 * malformed (the session ends). */
bool pl_sio_on_text(struct pl_eio_sess *s, const char *p, size_t n);
/* A binary attachment arrived; false when none was announced. */
bool pl_sio_on_binary(struct pl_eio_sess *s, const uint8_t *p, size_t n);
/* The session ends: the socket leaves the hub. */
void pl_sio_on_end(struct pl_eio_sess *s);
/* A Parley event as Socket.IO packets ('4'-prefixed Engine.IO messages
 * separated by 0x1e), shared by every socket that gets it. */
struct pl_buf *pl_sio_event_buf(struct pl_hub *h, const struct pl_event_out *e);

#endif
