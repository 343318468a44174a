/* device.h - the device model both front ends serve: a block store with a
 * checksum per 4 KiB block, classification of captured stamped pages, the
 * stable-writes policy, counters, latency histograms and the event log.
 *
 * A front end calls device_begin() when it receives a request,
 * device_write()/device_read()/... to perform it (for a write, the moment
 * of the call *is* the capture), and device_end() when it replies, however
 * much later that is. All functions are thread-safe.
 */
#ifndef SWAPEMU_DEVICE_H
#define SWAPEMU_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#include "profile.h"

#define DEVICE_BLOCK 4096u

enum dev_op { OP_READ, OP_WRITE, OP_FLUSH, OP_TRIM, OP_ZERO, OP_COUNT };

struct device;

/* Opens the model for profile p (copied). gentab_path, if not NULL, is the
 * generation table to create (or reuse) for the torture workload;
 * events_path, if not NULL, receives every event as a JSON line. Returns
 * NULL with a one-line reason in err. */
struct device *device_open(const struct profile *p, const char *gentab_path,
                           const char *events_path, char *err, size_t errlen);
void device_close(struct device *d);

/* The profile the device started with: read only the keys a running
 * target cannot change (size, store, checksum, advertise, swap.*). */
const struct profile *device_profile(const struct device *d);
uint64_t device_size(const struct device *d);
const char *dev_op_name(enum dev_op op);

/* Request bookkeeping: begin returns the start time (ns, CLOCK_MONOTONIC)
 * and counts the request in flight; end records latency, bytes and errors
 * (err is 0 or a negative errno). */
uint64_t device_begin(struct device *d, enum dev_op op);
void device_end(struct device *d, enum dev_op op, uint64_t start_ns,
                uint64_t bytes, int err);

/* What the device asks of the front end for one request, besides its
 * result: hold the reply delay_ns (a write's completion delay plus any
 * fault-injection delays), or until device_release() if stall is set, and
 * drop the connection to the device if disconnect is set. */
struct dev_io {
	uint64_t delay_ns;
	int stall;
	int disconnect;
};

/* Operations. Each returns 0 or a negative errno (-EIO, -EINVAL for a
 * request outside the device) and fills io (which may be NULL to ignore
 * it). device_write classifies every whole 4 KiB block it carries; with
 * require=yes and on-violation=eio a violating write is refused with -EIO
 * and nothing of it is stored. Fault-injection rules apply to all. */
int device_write(struct device *d, const void *buf, size_t len, uint64_t off,
                 struct dev_io *io);
int device_read(struct device *d, void *buf, size_t len, uint64_t off,
                struct dev_io *io);
/* A read answered straight from the store, for a front end that can reply
 * from the store's memory: when nothing can alter or delay the data (no
 * rules in force, a memory store, whole aligned blocks, at most
 * DEVICE_DIRECT_MAX bytes, checksums good, no damaged block), calls
 * reply(arg, iov, n) with the data in place, under the blocks' locks (so
 * reply must copy it before returning, as a writev does), and returns 0.
 * Otherwise returns -EAGAIN having done nothing (not even logged): the
 * front end then calls device_read. */
#define DEVICE_DIRECT_MAX (128u * 1024)
int device_read_direct(struct device *d, size_t len, uint64_t off,
                       void (*reply)(void *arg, const struct iovec *iov, int n),
                       void *arg);
int device_flush(struct device *d, struct dev_io *io);
int device_trim(struct device *d, uint64_t len, uint64_t off,
                struct dev_io *io);
int device_zero(struct device *d, uint64_t len, uint64_t off,
                struct dev_io *io);

/* The capture delay for the next request, drawn from the profile's
 * distribution (deterministic in the seed and the request's number). */
uint64_t device_capture_delay(struct device *d);

/* Stalled requests: a front end holds each stalled reply itself, counts it
 * with device_stall_note(), and lets it go when the callback it registered
 * with device_on_release() runs: device_release() calls it and zeroes the
 * count. */
void device_release(struct device *d);
void device_on_release(struct device *d, void (*fn)(void *), void *opaque);
void device_stall_note(struct device *d);
uint64_t device_stalled(struct device *d);

/* Live changes (the injector). Each returns 0 or -1 with a reason. */
/* Replaces the rules and the settings a running target may change (delays,
 * require, on-violation, verify-reads, seed) with np's, atomically;
 * refuses a profile that changes anything else. */
int device_load_profile(struct device *d, const struct profile *np, char *err,
                        size_t errlen);
int device_add_rule(struct device *d, const struct rule_spec *r, char *err,
                    size_t errlen);
int device_remove_rule(struct device *d, const char *name, char *err,
                       size_t errlen);
void device_clear_rules(struct device *d);
void device_list_rules(struct device *d, FILE *out);
/* Copies the effective profile (rules included). */
void device_get_profile(struct device *d, struct profile *out);

/* Reporting (the control socket's commands). */
void device_stats_json(struct device *d, FILE *out);
void device_counters(struct device *d, FILE *out); /* "key value" lines */
void device_events(struct device *d, FILE *out);   /* JSON lines */
/* Streams the event log: what it holds, then each new event as it comes,
 * until writing to out fails. */
void device_follow_events(struct device *d, FILE *out);
void device_reset(struct device *d);

/* The front end's transport ("dev", "uring"), named in the statistics
 * ("transport"; absent until set). A transport that captures before the
 * front end can wait (FUSE over io_uring: the kernel copies a write into
 * a ring entry when it dispatches it) passes why in no_capture_delay:
 * live profiles with a capture delay are then refused with that reason.
 * Both strings must outlive the device. */
void device_set_transport(struct device *d, const char *name,
                          const char *no_capture_delay);

/* Logs an event (JSON line) from a front end, e.g. a startup note; op
 * OP_COUNT means "none". detail is extra JSON members or NULL. */
void device_event(struct device *d, const char *event, enum dev_op op,
                  uint64_t off, uint64_t len, const char *detail);
/* Logs the "start" event: the profile (its name escaped), the seed and the
 * front end's name. */
void device_event_start(struct device *d, const char *front_end);

#endif
