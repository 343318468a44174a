/* control.h - the control socket's transport: a Unix stream socket only
 * root may use, one command line per connection, served by a thread per
 * connection. The commands themselves, and the reply format, are in
 * commands.h.
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

#include <stddef.h>

#include "device.h"

#define CONTROL_MAX_CONNS 64
#define CONTROL_QUEUE_WAIT_MS 2000
#define CONTROL_READ_TIMEOUT_S 5
#define CONTROL_WRITE_TIMEOUT_S 10

struct control;

/* Can a control socket be served at path? It must fit a socket address
 * and be absent or a stale socket (nothing listening); anything else,
 * a live socket or a file that is not a socket, is refused. Returns 0, or
 * -1 with a one-line reason in err. */
int control_check_path(const char *path, char *err, size_t errlen);
/* Binds path (replacing a stale socket; see control_check_path) and serves
 * it from a thread. Returns NULL with a reason in err. */
struct control *control_start(const char *path, struct device *d, char *err,
                              size_t errlen);
/* Stops serving: wakes every connection, waits for its thread, then
 * removes the socket and frees c. */
void control_stop(struct control *c);

#endif
