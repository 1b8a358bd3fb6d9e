/* db/perms: see perms.h. */
#include "db/perms.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

enum pl_code pl_perms_data_dir(const char *dir, struct pl_perms *out, pl_error *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return pl_fail(err, PL_INTERNAL, "cannot create data folder %s: %s", dir,
			       strerror(errno));
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return pl_fail(err, PL_INTERNAL, "data folder %s: %s", dir,
			       errno ? strerror(errno) : "not a folder");
	if (st.st_mode & S_IWOTH)
		log_warn("the data folder %s is writable by every local user: anyone can replace "
			 "the store or the bus socket (chmod 700, or 2770 for a shared group)",
			 dir);
	out->shared = (st.st_mode & S_IWGRP) != 0;
	out->group = st.st_gid;
	out->file = out->shared ? 0660 : 0600;
	return PL_OK;
}

enum pl_code pl_perms_file(const char *path, const struct pl_perms *p, bool create,
			    pl_error *err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), p->file);
	if (fd < 0 && !create && errno == ENOENT)
		return PL_OK;
	if (fd < 0)
		return pl_fail(err, PL_INTERNAL, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	enum pl_code rc = PL_OK;
	/* Exactly p->file: the umask may have taken the group's write bit of
	 * a shared folder, and files an older version made 0644 lose what
	 * they should not have.  A file owned by someone else is its owner's. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != p->file && st.st_uid == geteuid() &&
	    fchmod(fd, p->file) != 0)
		rc = pl_fail(err, PL_INTERNAL, "cannot restrict %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

bool pl_perms_sender_ok(const struct pl_perms *p, uid_t uid, gid_t gid)
{
	return uid == 0 || uid == geteuid() || (p->shared && gid == p->group);
}
