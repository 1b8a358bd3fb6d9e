/* db/checkpoint: see checkpoint.h. */
#include "db/checkpoint.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/log.h"

/* SQLite's own threshold: pages in the WAL before a checkpoint is due. */
#define WAL_DUE 1000
/* The WAL starts again from its beginning only when a write transaction
 * begins with every page copied back, which a checkpoint running beside a
 * busy writer never sees.  So at twice the threshold the writer waits for
 * the thread's checkpoint to end, copies what is left (little: the thread
 * started 1,000 pages ago) itself, and the next transaction rewinds the
 * WAL: it stays near 8 MB whatever the load. */
#define WAL_REWIND (2 * WAL_DUE)

struct pl_checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	bool due, running, stopping;
	pl_store *own;    /* this thread's connection */
	pl_store *writer; /* the hooked one */
};

/* The writer's wal hook, on the writer thread after each commit. */
static void on_wal(void *ud, int pages)
{
	pl_checkpointer *c = ud;
	if (pages < WAL_DUE)
		return;
	pthread_mutex_lock(&c->lock);
	if (pages >= WAL_REWIND) {
		/* Two checkpoints cannot run at once: wait for the thread's (a
		 * few milliseconds at most) rather than let the WAL grow on. */
		while (c->running)
			pthread_cond_wait(&c->idle, &c->lock);
		c->due = false; /* this one does it */
		pthread_mutex_unlock(&c->lock);
		pl_store_checkpoint(c->writer);
		return;
	}
	c->due = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

static void *checkpoint_main(void *arg)
{
	pl_checkpointer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->due && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stopping)
			break;
		c->due = false;
		c->running = true;
		pthread_mutex_unlock(&c->lock);
		pl_store_checkpoint(c->own);
		pthread_mutex_lock(&c->lock);
		c->running = false;
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

enum pl_code pl_checkpointer_start(const char *db_path, pl_store *w, pl_checkpointer **out,
				   pl_error *err)
{
	pl_checkpointer *c = calloc(1, sizeof *c);
	if (!c)
		return pl_fail(err, PL_INTERNAL, "out of memory");
	if (pl_store_open(db_path, &c->own, err) != PL_OK) {
		free(c);
		return err->code;
	}
	c->writer = w;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->idle, NULL);
	if (pthread_create(&c->thread, NULL, checkpoint_main, c) != 0) {
		pl_store_close(c->own);
		free(c);
		return pl_fail(err, PL_INTERNAL, "cannot start the checkpoint thread");
	}
	pl_store_on_wal(w, on_wal, c);
	*out = c;
	return PL_OK;
}

void pl_checkpointer_stop(pl_checkpointer *c)
{
	if (!c)
		return;
	pl_store_on_wal(c->writer, NULL, NULL); /* SQLite's own checkpoints again */
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pl_store_close(c->own);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->idle);
	free(c);
}
