/*
 * lg.h - shared types and module interfaces of the Parley load generator
 * (bench/loadgen).  The generator is one single-threaded epoll process:
 *   net.c    non-blocking TCP clients and the epoll loop
 *   http.c   HTTP/1.1 requests and incremental response parsing (chunked, SSE)
 *   ws.c     RFC 6455 client framing
 *   sio.c    Engine.IO / Socket.IO client packets over ws.c
 *   jwt.c    HS256 token minting, so thousands of users need no server round trip
 *   stats.c  latency histogram, clock, /proc readings of the server under test
 *   loadgen.c  options, scenarios and reporting (owns the callbacks below)
 */
#ifndef LG_H
#define LG_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; data lives in p[0..len). */
struct buf {
	char *p;
	size_t len, cap;
};

void buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
char *buf_reserve(struct buf *b, size_t n);

enum role { R_SSE, R_WSSUB, R_REST, R_WSPUB, R_FLOOD, R_SIOPUB };
enum cstate { C_IDLE, C_CONNECTING, C_HEAD, C_BODY, C_STREAM };

/* Outstanding requests per connection (HTTP pipelining / WS send window). */
#define LG_WIN 512

struct conn {
	int fd;
	enum role role;
	enum cstate st;
	int id;        /* index in its pool, for the scenario code */
	int room;      /* room index this connection subscribes or posts to */
	int ready;     /* stream established (subscribers) or usable (clients) */
	int want_out;  /* EPOLLOUT currently registered */
	int tries;     /* connection attempts so far */
	char *tok;     /* bearer token of this connection's user */
	/* response parser state */
	int status;
	int chunked;
	int chunk_st;
	long chunk_left;
	long clen;
	struct buf in, out, body;
	/* FIFO of send times of outstanding requests */
	uint64_t sent[LG_WIN];
	unsigned head, tail;
};

static inline unsigned conn_inflight(const struct conn *c)
{
	return c->head - c->tail;
}

/* net.c */
int net_init(const char *host, int port, int nsrc);
int net_connect(struct conn *c);
void net_send(struct conn *c, const void *p, size_t n);
void net_close(struct conn *c);
int net_poll(int timeout_ms);

/* http.c */
void http_get(struct conn *c, const char *path, const char *extra_hdrs);
void http_request(struct conn *c, const char *method, const char *path,
		  const char *ctype, const char *body, size_t blen);
int http_input(struct conn *c);
void fifo_push(struct conn *c, uint64_t t);
uint64_t fifo_pop(struct conn *c);
const char *lg_host(void);

/* ws.c */
void ws_upgrade(struct conn *c, const char *path);
void ws_send_text(struct conn *c, const char *p, size_t n);
int ws_input(struct conn *c);

/* sio.c */
enum sio_kind {
	SIO_K_OTHER, SIO_K_OPEN, SIO_K_PING, SIO_K_CONNECTED, SIO_K_CONNECT_ERROR,
	SIO_K_EVENT, SIO_K_ACK
};
void sio_path(char *out, size_t n, const char *tok);
enum sio_kind sio_parse(const char *p, size_t n, long *ack);
int sio_event_is(const char *p, size_t n, const char *name);
void sio_connect(struct conn *c);
void sio_pong(struct conn *c);
void sio_emit(struct conn *c, long ack, const char *args);

/* jwt.c */
char *jwt_mint(const unsigned char *key, size_t klen, const char *sub, long ttl);

/* stats.c */
#define H_SUB 64
struct hist {
	uint64_t n, max, sum;
	uint64_t b[64 * H_SUB];
};
uint64_t lg_now(void);
void hist_add(struct hist *h, uint64_t v);
double hist_pct_ms(const struct hist *h, double q);
struct procstat {
	long rss_kb;
	double cpu_s;
};
struct procstat proc_read(const char *pids);
double machine_busy_s(void);

/* Callbacks implemented by loadgen.c. */
void lg_on_head(struct conn *c);
void lg_on_line(struct conn *c, const char *p, size_t n);
void lg_on_frame(struct conn *c, const char *p, size_t n);
void lg_on_response(struct conn *c, int status, const char *body, size_t n,
		    uint64_t sent_ns);
void lg_on_close(struct conn *c, int err);

#endif
