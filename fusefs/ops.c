/* ops.c - the filesystem: a root directory with one file, the target,
 * whose reads and writes go to the device model. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fusefs.h"

#define ROOT_INO FUSE_ROOT_ID
#define FILE_INO 2
#define ATTR_TIMEOUT 3600.0 /* nothing about the file ever changes */

static struct fusefs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_attr(struct fusefs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	/* Owned by the daemon's user (root under swapemu attach). */
	st->st_uid = geteuid();
	st->st_gid = getegid();
	if (ino == ROOT_INO) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)device_size(fs->dev);
		st->st_blocks = st->st_size / 512;
		st->st_blksize = DEVICE_BLOCK;
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Splice would change when the payload is copied; keep plain reads so
	 * the capture is the read of /dev/fuse. */
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
	                          FUSE_CAP_SPLICE_MOVE);
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	/* Many writes in flight at once (loop submits direct I/O async). */
	conn->max_background = 128;
	conn->congestion_threshold = 96;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fs_of(req);
	if (parent != ROOT_INO || strcmp(name, fs->file_name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {.ino = FILE_INO,
	                             .attr_timeout = ATTR_TIMEOUT,
	                             .entry_timeout = ATTR_TIMEOUT};
	fill_attr(fs, FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
                       struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	if (ino != ROOT_INO && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs_of(req), ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
	struct fusefs *fs = fs_of(req);
	/* The size is the device's: refuse to change it, accept no-ops and
	 * time updates so ordinary tools don't fail. */
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (ino != FILE_INO ||
	     (uint64_t)attr->st_size != device_size(fs->dev))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (to_set &
	    (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op_getattr(req, ino, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, ino == ROOT_INO ? EISDIR : ENOENT);
		return;
	}
	if (fi->flags & O_TRUNC) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* Defence in depth behind default_permissions: the file holds every
	 * process's swapped memory, so only the daemon's user (root) opens
	 * it, whatever capabilities the caller has. */
	if (fuse_req_ctx(req)->uid != geteuid()) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/* Hands a finished request to the completer, and drops the connection
 * afterwards if a rule said so. */
static void finish(struct fusefs *fs, struct reply *r, struct dev_io *io)
{
	int disconnect = io->disconnect;
	completer_add(fs->completer, r, io);
	if (disconnect)
		fusefs_disconnect(fs);
}

/* Replies to a read with the data in place: writev copies it into the
 * kernel before it returns. */
static void reply_iov(void *req, const struct iovec *iov, int n)
{
	fuse_reply_iov(req, iov, n);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	struct fusefs *fs = fs_of(req);
	uint64_t devsize = device_size(fs->dev);
	struct dev_io io = {0};
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((uint64_t)off >= devsize)
		size = 0;
	else if (size > devsize - (uint64_t)off)
		size = devsize - (uint64_t)off;
	uint64_t start = device_begin(fs->dev, OP_READ);
	/* Most reads: replied from the store's memory, no copy of our own. */
	if (!device_read_direct(fs->dev, size, (uint64_t)off, reply_iov, req)) {
		device_end(fs->dev, OP_READ, start, size, 0);
		return;
	}
	struct reply r = {req,  OP_READ, 0, size, malloc(size ? size : 1),
	                  start};
	r.result = r.buf ? device_read(fs->dev, r.buf, size, (uint64_t)off, &io)
	                 : -ENOMEM;
	finish(fs, &r, &io);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	struct fusefs *fs = fs_of(req);
	struct dev_io io = {0};
	struct reply r = {req,  OP_WRITE, 0,
	                  size, NULL,     device_begin(fs->dev, OP_WRITE)};
	/* A write past the end of the fixed-size file is ENOSPC, as a file
	 * system says it; any other error (a rule's error:EINVAL too) is the
	 * device's own, exactly as over NBD. */
	if (off < 0)
		r.result = -EINVAL;
	else if ((uint64_t)off > device_size(fs->dev) ||
	         size > device_size(fs->dev) - (uint64_t)off)
		r.result = -ENOSPC;
	else
		r.result = device_write(fs->dev, buf, size, (uint64_t)off, &io);
	finish(fs, &r, &io);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	struct fusefs *fs = fs_of(req);
	struct dev_io io = {0};
	struct reply r = {req, OP_FLUSH, 0,
	                  0,   NULL,     device_begin(fs->dev, OP_FLUSH)};
	r.result = device_flush(fs->dev, &io);
	finish(fs, &r, &io);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0); /* close(): nothing to do */
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
                         off_t len, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	struct fusefs *fs = fs_of(req);
	enum dev_op op;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		op = OP_TRIM;
	else if (mode == FALLOC_FL_ZERO_RANGE ||
	         mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
		op = OP_ZERO;
	else if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
		/* Every block already exists. */
		fuse_reply_err(req, (uint64_t)off + (uint64_t)len >
		                            device_size(fs->dev)
		                        ? EINVAL
		                        : 0);
		return;
	} else {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	struct dev_io io = {0};
	struct reply r = {req,         op,   0,
	                  (size_t)len, NULL, device_begin(fs->dev, op)};
	r.result =
	    op == OP_TRIM
	        ? device_trim(fs->dev, (uint64_t)len, (uint64_t)off, &io)
	        : device_zero(fs->dev, (uint64_t)len, (uint64_t)off, &io);
	finish(fs, &r, &io);
}

/* The FUSE connection of our mount is named by the mount's device number,
 * found in mountinfo (a stat of the mount point would ask ourselves). */
static int connection_id(const char *mountpoint, unsigned *id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f)) {
		unsigned major, minor;
		char mnt[4096];
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor,
		           mnt) == 3 &&
		    !strcmp(mnt, mountpoint))
			*id = minor, found = 1;
	}
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

void fusefs_disconnect(struct fusefs *fs)
{
	char path[128];
	unsigned id;
	device_event(fs->dev, "disconnect", OP_COUNT, 0, 0, NULL);
	if (connection_id(fs->mountpoint, &id) == 0) {
		snprintf(path, sizeof path, "/sys/fs/fuse/connections/%u/abort",
		         id);
		FILE *f = fopen(path, "w");
		int ok = f && fputs("1", f) >= 0;
		if (f && fclose(f))
			ok = 0;
		if (ok)
			return;
	}
	/* No fusectl here: a daemon that exits drops the connection too. */
	fprintf(stderr, "swapemu-fuse: disconnect: cannot abort the "
	                "connection through fusectl; exiting\n");
	_exit(3);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	(void)fi;
	struct fusefs *fs = fs_of(req);
	if (ino != ROOT_INO) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char buf[1024];
	size_t used = 0;
	const char *names[] = {".", "..", fs->file_name};
	fuse_ino_t inos[] = {ROOT_INO, ROOT_INO, FILE_INO};
	for (off_t i = off; i < 3; i++) {
		struct stat st = {.st_ino = inos[i]};
		st.st_mode = i == 2 ? S_IFREG : S_IFDIR;
		size_t need = fuse_add_direntry(
		    req, buf + used, sizeof buf - used, names[i], &st, i + 1);
		if (used + need > size || used + need > sizeof buf)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

const struct fuse_lowlevel_ops fusefs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
    .readdir = op_readdir,
};
