/* push/wsbuf: the receive buffer of a WebSocket the hub reads, shared by
 * native WebSockets (push/wsconn.c) and Engine.IO's (push/eiows.c).
 *
 * Bytes received and not yet parsed as frames.  It grows with the bytes
 * that came, 4 KiB at a time, never to the size a frame announces nor by
 * doubling, so an unfinished frame pins what its sender actually sent; and
 * an emptied buffer is freed, so idle sockets keep none. */
#ifndef PL_WSBUF_H
#define PL_WSBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for want more bytes after len in *buf (of *cap bytes); false (the
 * buffer unchanged) when len + want would pass limit, or out of memory. */
bool ws_rbuf_room(uint8_t **buf, size_t len, size_t *cap, size_t want, size_t limit);
/* The first off bytes were parsed: the rest moves to the front, and an
 * empty buffer is freed. */
void ws_rbuf_consume(uint8_t **buf, size_t *len, size_t *cap, size_t off);

#endif
