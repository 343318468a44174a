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
 */
#ifndef SWAPEMU_CONTROL_H
#define SWAPEMU_CONTROL_H

#include <stdio.h>

#include "device.h"

struct control;

/* A command handler writes its output to out and returns 0, or returns -1
 * after writing a one-line reason to err (without "error: "). args is the
 * rest of the line after the command word (never NULL). */
typedef int (*control_fn)(struct device *d, const char *args, FILE *out,
                          char *err, size_t errlen, void *opaque);

/* Binds path (replacing a stale socket, refusing a live one) and serves it
 * from a thread. Returns NULL with a reason in err. */
struct control *control_start(const char *path, struct device *d, char *err,
                              size_t errlen);
int control_add(struct control *c, const char *name, const char *help,
                control_fn fn, void *opaque);
void control_stop(struct control *c);

#endif
