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
};

extern const struct fuse_lowlevel_ops fusefs_ops;

/* Capture: threads that read requests from /dev/fuse. Each waits the
 * profile's capture delay after it sees a request pending and before it
 * reads it: the kernel copies a direct write's data at that read, so the
 * delay is how long the page stays exposed. Returns 0 or -1. */
int capture_run(struct fuse_session *se, struct device *dev, int nthreads);

/* Completer: replies to writes at their completion time, from its own
 * thread, so that a slow completion never holds back other requests. */
struct completer;
struct completer *completer_start(struct device *dev);
/* Replies to req (a write of size bytes that returned result, begun at
 * start_ns) after delay_ns; replies at once when delay_ns is 0. */
void completer_add(struct completer *c, fuse_req_t req, size_t size, int result,
                   uint64_t start_ns, uint64_t delay_ns);
/* Replies to everything still pending, now, and stops the thread. */
void completer_stop(struct completer *c);

#endif
