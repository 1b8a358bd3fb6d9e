/* db/checkpoint: WAL checkpoints on a thread and connection of their own.
 *
 * SQLite checkpoints when a commit leaves the WAL over 1,000 pages, on the
 * committing connection: the writer would copy pages into the database
 * file and fsync it while every queued message waited.  Instead the
 * writer's connection only reports the WAL's size (pl_store_on_wal), and
 * this thread copies the pages back with a PASSIVE checkpoint, which never
 * blocks the writer or a reader.  The writer finishes the copy itself when
 * the WAL reaches twice SQLite's threshold, so that the WAL can start again
 * from its beginning (see checkpoint.c). */
#ifndef PL_CHECKPOINT_H
#define PL_CHECKPOINT_H

#include "base/err.h"
#include "db/store.h"

typedef struct pl_checkpointer pl_checkpointer;

/* Starts the thread and hooks the writer's connection w to it. */
enum pl_code pl_checkpointer_start(const char *db_path, pl_store *w, pl_checkpointer **out,
				   pl_error *err);
/* Finishes a checkpoint under way, stops the thread, unhooks w. */
void pl_checkpointer_stop(pl_checkpointer *c);

#endif
