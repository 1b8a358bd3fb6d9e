/* db/perms: who may read the data folder, the store and the bus.
 *
 * The data folder holds every message (parley.db and its -wal/-shm), the
 * dev secret and the bus socket through which a process can make users
 * look online or type.  By default it is private to the server's user:
 * the folder is created 0700, the store 0600, the socket 0600, and the bus
 * accepts datagrams only from that uid (or root).
 *
 * When parley.fcgi runs as another user (the web server's), the operator
 * shares the folder with a group: `chgrp GROUP dir && chmod 2770 dir`
 * (setgid, so new files take the group).  A folder whose group may write
 * is "shared": files are made 0660, the socket 0660, and the bus also
 * accepts senders whose group is the folder's.  Others never get a bit. */
#ifndef PL_PERMS_H
#define PL_PERMS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"

struct pl_perms {
	bool shared;   /* the folder's group may write */
	gid_t group;   /* the folder's group */
	mode_t file;   /* 0600 or 0660 */
};

/* Creates dir (0700) if missing and reads who shares it. */
enum pl_code pl_perms_data_dir(const char *dir, struct pl_perms *out, pl_error *err);
/* Gives path (created empty if missing and create) the mode p->file.
 * SQLite gives -wal and -shm the mode of the database file, so creating
 * parley.db this way before SQLite opens it covers all three. */
enum pl_code pl_perms_file(const char *path, const struct pl_perms *p, bool create,
			    pl_error *err);
/* Whether a sender's credentials may use the bus. */
bool pl_perms_sender_ok(const struct pl_perms *p, uid_t uid, gid_t gid);

#endif
