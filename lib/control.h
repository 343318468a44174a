/* control.h - the control socket: a Unix stream socket only root may use, one
 * command line per connection. The reply is the command's output followed
 * by a last line "ok" or "error: REASON". Commands:
 *   help       list the commands
 *   stats      JSON statistics
 *   counters   "key value" lines (for scripts and the torture workload)
 *   events     the event log, JSON lines
 *   profile    the effective profile, INI
 *   reset      zero counters, histograms and the event log
 * Front ends and later features add commands with control_add().
 *
 * Limits, so that no client can pin the server or the device: at most
 * CONTROL_MAX_CONNS connections at once (more wait in the listen queue;
 * when no connection has ended for CONTROL_QUEUE_WAIT_MS, the next one
 * gets "error: too many control connections ..." and is closed); the command
 * line must arrive within CONTROL_READ_TIMEOUT_S; a client that takes no reply
 * data for CONTROL_WRITE_TIMEOUT_S is dropped. "events --follow" may idle for
 * as long as no events come (the server checks every second whether the client
 * has gone), but a follower that stops reading while events come is dropped
 * after CONTROL_WRITE_TIMEOUT_S like any other client. No command holds a lock
 * of the device while it writes to the client.
 */
#ifndef SWAPEMU_CONTROL_H
#define SWAPEMU_CONTROL_H

#include <stdio.h>

#include "device.h"

#define CONTROL_MAX_CONNS 64
#define CONTROL_QUEUE_WAIT_MS 2000
#define CONTROL_READ_TIMEOUT_S 5
#define CONTROL_WRITE_TIMEOUT_S 10

struct control;

/* A command handler writes its output to out and returns 0, or returns -1
 * after writing a one-line reason to err (without "error: "). args is the
 * rest of the line after the command word (never NULL). */
typedef int (*control_fn)(struct device *d, const char *args, FILE *out,
                          char *err, size_t errlen, void *opaque);

/* Can a control socket be served at path? It must fit a socket address
 * and be absent or a stale socket (nothing listening); anything else,
 * a live socket or a file that is not a socket, is refused. Returns 0, or
 * -1 with a one-line reason in err. */
int control_check_path(const char *path, char *err, size_t errlen);
/* Binds path (replacing a stale socket; see control_check_path) and serves
 * it from a thread. Returns NULL with a reason in err. */
struct control *control_start(const char *path, struct device *d, char *err,
                              size_t errlen);
int control_add(struct control *c, const char *name, const char *help,
                control_fn fn, void *opaque);
/* Stops serving: wakes every connection, waits for its thread, then
 * removes the socket and frees c. */
void control_stop(struct control *c);

#endif
