/* fusefs.h - pieces of the FUSE front end (swapemu-fuse). */
#ifndef SWAPEMU_FUSEFS_H
#define SWAPEMU_FUSEFS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <stdint.h>

#include "device.h"

/* The filesystem: a root directory holding one file, the target. */
struct fusefs {
	struct device *dev;
	const char *file_name;
	struct completer *completer;
	char mountpoint[4096];
};

/* Drops the connection, as a device that vanished would: every request
 * after it fails, and the daemon exits. */
void fusefs_disconnect(struct fusefs *fs);

extern const struct fuse_lowlevel_ops fusefs_ops;

/* Capture: threads that read requests from /dev/fuse. Each waits the
 * profile's capture delay after it sees a request pending and before it
 * reads it: the kernel copies a direct write's data at that read, so the
 * delay is how long the page stays exposed. Returns 0 or -1. */
int capture_run(struct fuse_session *se, struct device *dev, int nthreads);

/* Completer: replies to requests at their completion time, from its own
 * thread, so that a slow completion never holds back other requests; holds
 * stalled ones until the device releases them. */
struct completer;
struct reply {
	fuse_req_t req;
	enum dev_op op;
	int result;  /* 0 or a negative errno */
	size_t size; /* bytes written or read */
	char *buf;   /* a read's data; the completer frees it */
	uint64_t start_ns;
};
struct completer *completer_start(struct device *dev);
/* Replies as io says: after io->delay_ns, or at the next release if
 * io->stall; at once otherwise. */
void completer_add(struct completer *c, const struct reply *r,
                   const struct dev_io *io);
/* Replies to everything still pending, now, and stops the thread. */
void completer_stop(struct completer *c);

#endif
