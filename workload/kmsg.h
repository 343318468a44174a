/* kmsg.h - new kernel messages that tell of a kernel problem (BUG, Oops,
 * WARNING, general protection fault, soft lockup, hung task, panic), read
 * from /dev/kmsg during a run. */
#ifndef SWAPEMU_KMSG_H
#define SWAPEMU_KMSG_H

#include <stdbool.h>
#include <stddef.h>

/* Starts watching: later calls see only messages logged from now on.
 * Returns false (with a reason in err) if /dev/kmsg cannot be read. */
bool kmsg_open(char *err, size_t errlen);

/* Calls found(msg, arg) for each new message of a problem kind since the
 * last call; returns how many. */
unsigned kmsg_collect(void (*found)(const char *msg, void *arg), void *arg);

/* Is this message text (without the record prefix) a kernel problem? */
bool kmsg_is_problem(const char *msg);

void kmsg_close(void);

#endif
