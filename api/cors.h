/* api/cors: Cross-Origin Resource Sharing for parleyd (--cors-origin).
 *
 * A web app served from another origin may use REST, SSE and long-polling
 * (Socket.IO's included) when its origin is listed: the answers then carry
 * Access-Control-Allow-Origin (the origin itself, with
 * Access-Control-Allow-Credentials, or "*" for a list of "*", never with
 * credentials, as browsers require), and preflight OPTIONS requests are
 * answered 204 with the methods and headers the API uses.  With an empty
 * list nothing is added: same origin only (the browser's default).
 * WebSocket handshakes need none of it (browsers do not apply CORS to
 * them).  Pure functions of the list and the request's Origin; the callers
 * (api/mhd.c, api/sio_http.c) add what they return to their answers. */
#ifndef PL_CORS_H
#define PL_CORS_H

#include <stdbool.h>
#include <stddef.h>

/* The Access-Control-Allow-Origin value for origin under list (the
 * config's comma list): origin itself when listed, "*" for a list of "*",
 * NULL when the list is empty or the origin not in it. */
const char *pl_cors_allow(const char *list, const char *origin);

/* What the headers of an answer to origin are, as callbacks: add(ud,
 * name, value) once per header.  Nothing when the list is empty; only
 * "Vary: Origin" when the origin is not allowed (so caches keep answers
 * per origin). */
typedef void pl_cors_add_fn(void *ud, const char *name, const char *value);
void pl_cors_headers(const char *list, const char *origin, pl_cors_add_fn *add, void *ud);

/* A preflight is an OPTIONS request carrying Access-Control-Request-Method. */
bool pl_cors_is_preflight(const char *method, const char *request_method);
/* The headers of a preflight's 204 for an allowed origin (the answer
 * headers plus the methods, request headers and max age allowed); false
 * (nothing added) when the origin is not allowed. */
bool pl_cors_preflight(const char *list, const char *origin, pl_cors_add_fn *add, void *ud);

/* The answer headers as "Name: value\r\n" lines (for a head written by
 * hand, the SSE stream's); NULL when there are none or out of memory.
 * The caller frees it. */
char *pl_cors_lines(const char *list, const char *origin);

#endif
