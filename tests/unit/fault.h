/* tests/unit/fault.h: fault injection for the unit tests of the store and
 * the writer, the way SQLite tests itself.
 *
 * fault_arm(kind, n, sticky) makes the n-th countable call from then on
 * fail (and, sticky, every one after it); a test runs an operation with
 * n = 1, 2, ... until it succeeds with no fault reached, and checks after
 * each failure that the error is clean, nothing leaked (the ASan build's
 * LeakSanitizer) and the store is consistent.  Kinds:
 *   FAULT_MALLOC  every allocation: SQLite's (SQLITE_CONFIG_MALLOC with a
 *                 counting allocator around its own), jansson's
 *                 (json_set_alloc_funcs) and Parley's own malloc, calloc,
 *                 realloc and strdup (the test is linked with
 *                 -Wl,--wrap=malloc,... : see Makefile.am);
 *   FAULT_IO      SQLite's reads, writes, syncs, truncates, file sizes and
 *                 shared-memory maps, through a VFS wrapped around the
 *                 default one (SQLITE_IOERR_* as a failing disk returns).
 * Nothing here is compiled into parleyd: the hooks are this header and the
 * link flags of the two test programs.  Include it in one file per
 * program, and call fault_setup() first thing in main. */
#ifndef PL_FAULT_H
#define PL_FAULT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum fault_kind { FAULT_NONE, FAULT_MALLOC, FAULT_IO };

static _Atomic int fault_kind;
static _Atomic long fault_at, fault_calls, fault_hits;
static _Atomic bool fault_sticky;

static void fault_arm(enum fault_kind kind, long n, bool sticky)
{
	atomic_store(&fault_kind, FAULT_NONE);
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_hits, 0);
	atomic_store(&fault_at, n);
	atomic_store(&fault_sticky, sticky);
	atomic_store(&fault_kind, kind);
}

/* Disarms; returns how many calls failed. */
static long fault_disarm(void)
{
	atomic_store(&fault_kind, FAULT_NONE);
	return atomic_load(&fault_hits);
}

static bool fault_now(enum fault_kind kind)
{
	if (atomic_load(&fault_kind) != (int)kind)
		return false;
	long n = atomic_fetch_add(&fault_calls, 1) + 1, at = atomic_load(&fault_at);
	bool fail = n == at || (atomic_load(&fault_sticky) && n > at);
	if (fail)
		atomic_fetch_add(&fault_hits, 1);
	return fail;
}

/* ---- Parley's own allocations (-Wl,--wrap) ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n) { return fault_now(FAULT_MALLOC) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n)
{
	return fault_now(FAULT_MALLOC) ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
	return fault_now(FAULT_MALLOC) ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = __wrap_malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

/* ---- jansson's ---- */

static void *fault_json_malloc(size_t n) { return __wrap_malloc(n); }
static void fault_json_free(void *p) { free(p); }

/* ---- SQLite's ---- */

static sqlite3_mem_methods fault_sqlite_real;

static void *fault_sqlite_malloc(int n)
{
	return fault_now(FAULT_MALLOC) ? NULL : fault_sqlite_real.xMalloc(n);
}
static void fault_sqlite_free(void *p) { fault_sqlite_real.xFree(p); }
static void *fault_sqlite_realloc(void *p, int n)
{
	return fault_now(FAULT_MALLOC) ? NULL : fault_sqlite_real.xRealloc(p, n);
}
static int fault_sqlite_size(void *p) { return fault_sqlite_real.xSize(p); }
static int fault_sqlite_roundup(int n) { return fault_sqlite_real.xRoundup(n); }
static int fault_sqlite_init(void *ud) { return fault_sqlite_real.xInit(ud); }
static void fault_sqlite_shutdown(void *ud) { fault_sqlite_real.xShutdown(ud); }

/* ---- SQLite's I/O: a VFS around the default one ---- */

static sqlite3_vfs *fault_vfs_real;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* right after this struct, szOsFile of the real VFS */
};

#define REAL(f) (((struct fault_file *)(f))->real)

static int fault_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
	f->pMethods = NULL;
	return rc;
}
static int fault_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_READ;
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int fault_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_WRITE;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int fault_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_TRUNCATE;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int fault_sync(sqlite3_file *f, int flags)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int fault_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_FSTAT;
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int fault_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int fault_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int fault_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int fault_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int fault_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int fault_caps(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int fault_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	if (fault_now(FAULT_IO))
		return SQLITE_IOERR_SHMMAP;
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int fault_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void fault_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int fault_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int fault_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	if (REAL(f)->pMethods->iVersion < 3) {
		*pp = NULL;
		return SQLITE_OK;
	}
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int fault_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	if (REAL(f)->pMethods->iVersion < 3)
		return SQLITE_OK;
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	(void)vfs;
	struct fault_file *ff = (struct fault_file *)f;
	ff->real = (sqlite3_file *)(ff + 1);
	memset(ff->real, 0, (size_t)fault_vfs_real->szOsFile);
	f->pMethods = NULL;
	int rc = fault_vfs_real->xOpen(fault_vfs_real, name, ff->real, flags, out);
	if (ff->real->pMethods)
		f->pMethods = &fault_io; /* xClose is called even when the open failed */
	return rc;
}

/* Installs the hooks; before any other SQLite or jansson call. */
static void fault_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault_sqlite_real);
	static const sqlite3_mem_methods m = {
		fault_sqlite_malloc, fault_sqlite_free, fault_sqlite_realloc, fault_sqlite_size,
		fault_sqlite_roundup, fault_sqlite_init, fault_sqlite_shutdown, NULL,
	};
	sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	json_set_alloc_funcs(fault_json_malloc, fault_json_free);
	sqlite3_initialize();
	fault_vfs_real = sqlite3_vfs_find(NULL);
	fault_vfs = *fault_vfs_real;
	fault_vfs.zName = "fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault_vfs_real->szOsFile;
	fault_vfs.xOpen = fault_open;
	fault_vfs.pNext = NULL;
	fault_io = (sqlite3_io_methods){
		3, fault_close, fault_read, fault_write, fault_truncate, fault_sync,
		fault_file_size, fault_lock, fault_unlock, fault_check_lock, fault_control,
		fault_sector, fault_caps, fault_shm_map, fault_shm_lock, fault_shm_barrier,
		fault_shm_unmap, fault_fetch, fault_unfetch,
	};
	sqlite3_vfs_register(&fault_vfs, 1);
}


/* One integer from SQL on a read-only connection of the test's own to the
 * file at path (what another process would see); -2 when it cannot open. */
static inline long long fault_sql_int(const char *path, const char *q)
{
	long long v = -1;
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -2;
	}
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* The file at path is whole and every message has its message.created
 * event: what every failure must leave. */
static inline bool fault_consistent(const char *path)
{
	bool ok = false;
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		ok = sqlite3_step(st) == SQLITE_ROW &&
		     strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return ok && fault_sql_int(path, "SELECT COUNT(*) FROM messages") ==
			     fault_sql_int(path, "SELECT COUNT(*) FROM events WHERE type = 'message.created'");
}

#endif
