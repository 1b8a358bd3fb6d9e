/* push/latency: delivery latency, from an event's commit to the hub's
 * write of it.
 *
 * The writer reports each commit of this process (its event ids and the
 * monotonic time COMMIT returned) through the sink; the hub keeps the last
 * few in a small ring and, as it fans an event out, finds its commit time
 * there.  The time travels in the event's shared buffers (pl_buf.commit_us),
 * and the hub records now - commit time when it writes a buffer whole to a
 * WebSocket or SSE socket, or seals a long-poll answer: one histogram
 * observation per delivery, added in runs (the events of one write share a
 * clock reading, and a run of one commit's events one atomic add).
 *
 * Events of other processes (parley.fcgi, other nodes through the bus) have
 * no commit time here: they are not measured, nor are replayed events
 * (resumes read old events from the store: their age is not latency). */
#ifndef PL_LATENCY_H
#define PL_LATENCY_H

#include <pthread.h>
#include <stdint.h>

#include "base/histo.h"
#include "db/writer.h"
#include "push/conn.h"

#define PL_COMMITS_KEPT 256

struct pl_commits {
	pthread_mutex_t lock;
	struct pl_commit ring[PL_COMMITS_KEPT];
	unsigned head, n;             /* oldest entry, entries in use */
	struct pl_commit cur;         /* the hub's last match (hub thread only) */
};

void pl_commits_init(struct pl_commits *k);
void pl_commits_free(struct pl_commits *k);
/* A commit of this process (the writer thread).  When the hub falls 256
 * commits behind, the oldest are forgotten (their events go unmeasured). */
void pl_commits_add(struct pl_commits *k, const struct pl_commit *c);
/* The commit time (pl_mono_us) of event id, 0 when unknown (another
 * process's event).  Hub thread; ids must come in increasing order. */
int64_t pl_commits_time(struct pl_commits *k, int64_t id);

/* Records the latency of the whole buffers among the first n bytes of c's
 * queue (from head_off on), which were just written: call before
 * pl_conn_consume(c, n). */
void pl_latency_written(struct pl_histo *h, const struct pl_conn *c, size_t n);
/* The same for every buffer queued on c (a long-poll answer sealed). */
void pl_latency_queued(struct pl_histo *h, const struct pl_conn *c);

#endif
