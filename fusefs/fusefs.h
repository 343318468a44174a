/* fusefs.h - pieces of the FUSE front end (swapemu-fuse). */
#ifndef SWAPEMU_FUSEFS_H
#define SWAPEMU_FUSEFS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <stdint.h>

#include "device.h"

enum transport { TRANSPORT_AUTO, TRANSPORT_DEV, TRANSPORT_URING };

/* The filesystem: a root directory holding one file, the target. */
struct fusefs {
	struct device *dev;
	const char *file_name;
	struct completer *completer;
	char mountpoint[4096];
	/* The transport (transport.c): DEV or URING once chosen. */
	enum transport transport;
	int transport_explicit;   /* --transport=uring: no fallback */
	int restore_enable_uring; /* we set enable_uring to Y */
	struct fuse_session *se;
	struct uring *uring;
	uint64_t init_unique; /* the INIT request, seen by the read hook */
	int init_offered, init_done;
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

/* Transport: /dev/fuse reads (capture.c) or FUSE over io_uring (uring.c).
 * transport_choose() decides before mounting (auto: /dev/fuse today, see
 * AUTO_PREFERS_URING in transport.c; uring: also switches the
 * kernel's enable_uring on for this mount, saying so, or fails with a
 * one-line reason in err); transport_install() sets it up after
 * daemonizing, before the capture threads run; transport_stop() ends
 * it. */
int transport_parse(const char *s, enum transport *t);
const char *transport_name(enum transport t);
int transport_choose(struct fusefs *fs, enum transport want,
                     const struct profile *p, char *err, size_t errlen);
int transport_install(struct fusefs *fs, struct fuse_session *se);
void transport_stop(struct fusefs *fs);

/* The io_uring queues (uring.c): uring_start() starts a thread per
 * kernel queue, waiting; uring_go() gives them the /dev/fuse fd and the
 * payload size from INIT and lets them register their entries (on_fail
 * runs if a queue cannot); uring_reply() sends a reply (libfuse's iovec,
 * out header first) to the ring entry holding its request and returns
 * its length, or -2 if no entry holds it (or u is NULL); uring_stop()
 * joins the threads and frees u, once nothing else can reply. */
struct uring;
struct uring *uring_new(struct fuse_session *se);
int uring_start(struct uring *u, void (*on_fail)(void *), void *arg);
int uring_go(struct uring *u, int fd, size_t payload_sz);
ssize_t uring_reply(struct uring *u, struct iovec *iov, int count);
void uring_stop(struct uring *u);

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
/* Replies to everything still pending, now, and stops the thread; later
 * completer_add() calls reply at once. completer_free() then frees it. */
void completer_stop(struct completer *c);
void completer_free(struct completer *c);

#endif
