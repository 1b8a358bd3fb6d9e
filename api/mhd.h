/* api/mhd: the libmicrohttpd front end of parleyd.
 *
 * It turns MHD requests into pl_req for the shared handlers, serves the
 * web client from www/, and connects the push routes to the hub:
 * - SSE streams and WebSockets get a socket of the hub's own, which the
 *   hub thread reads and writes on its loop (push/stream.c, push/wsconn.c):
 *   MHD's socket taken over, MHD forgetting the connection, or with
 *   --no-takeover a relay to a socket MHD keeps (api/takeover.h);
 * - a long-poll stays in MHD as a suspended request the hub resumes when
 *   its answer is sealed. */
#ifndef PL_MHD_H
#define PL_MHD_H

#include "chat/ctx.h"
#include "push/hub.h"

struct pl_http;

struct pl_http *pl_http_start(struct pl_ctx *ctx, struct pl_hub *hub, pl_error *err);
/* Stops accepting new connections (the first step of a graceful stop);
 * from then on every request is answered 503 unavailable with
 * "Connection: close", and pl_http_stop waits (up to 2 s) for the requests
 * begun to be answered before it closes the connections left. */
void pl_http_quiesce(struct pl_http *s);
void pl_http_stop(struct pl_http *s);

/* Adds the CORS headers (--cors-origin, api/cors.h) for the request's
 * Origin to an answer on mc: every answer of parleyd's HTTP side carries
 * them, the Socket.IO polling ones (api/sio_http.c) included. */
struct MHD_Connection;
struct MHD_Response;
void pl_http_cors(struct MHD_Connection *mc, struct MHD_Response *resp);

#endif
