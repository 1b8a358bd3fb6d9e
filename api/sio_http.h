/* api/sio_http: Engine.IO's HTTP side in parleyd (libmicrohttpd).
 *
 * Checks a /socket.io/ request the way the reference server does (400 with
 * {"code":N,"message":..} for a bad EIO, transport, sid or method), then
 * hands it to the hub: a polling GET or POST is suspended until the hub's
 * Engine.IO sessions (push/eiosess.c) answer it; a WebSocket handshake is
 * completed here and the socket given to the hub.  In
 * --socketio-conformance mode /engine.io/ is the echo app of the Engine.IO
 * test suite. */
#ifndef PL_SIO_HTTP_H
#define PL_SIO_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "push/eiosess.h"
#include "push/hub.h"

/* Whether url is served here; *engine_only for /engine.io/. */
bool pl_sio_http_path(const struct pl_config *cfg, const char *url, bool *engine_only);
/* Starts serving the request; *slot gets a suspended polling request (the
 * caller answers it with pl_sio_http_answer when MHD calls again, and
 * drops it with pl_eio_req_unref when the request completes).  *body is
 * taken over. */
struct pl_takeover;
/* tk: how an upgraded socket reaches the hub (api/takeover.h). */
enum MHD_Result pl_sio_http_start(struct pl_hub *hub, struct pl_takeover *tk,
				  struct MHD_Connection *mc, const char *method, bool engine_only,
				  char **body, size_t len, bool too_large, struct pl_eio_req **slot);
enum MHD_Result pl_sio_http_answer(struct MHD_Connection *mc, struct pl_eio_req *r);

#endif
