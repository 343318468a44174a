/* eventlog.h - the device's event log: JSON lines kept in a bounded
 * in-memory ring (the last EVENTLOG_KEEP) and, optionally, appended to a
 * file. Every violation and error is an event. */
#ifndef SWAPEMU_EVENTLOG_H
#define SWAPEMU_EVENTLOG_H

#include <stdint.h>
#include <stdio.h>

#define EVENTLOG_KEEP 4096

struct eventlog;

/* path may be NULL (memory only). Returns NULL with a reason in err. */
struct eventlog *eventlog_open(const char *path, char *err, size_t errlen);
void eventlog_close(struct eventlog *l);
/* Adds one event; line is a complete JSON object without newline. */
void eventlog_add(struct eventlog *l, const char *line);
/* Writes the retained events, oldest first, one per line. */
void eventlog_dump(struct eventlog *l, FILE *out);
/* Writes the retained events, then each new one as it is logged, until
 * writing fails or the peer of socket fd hangs up. */
void eventlog_follow(struct eventlog *l, FILE *out, int fd);
/* Events logged since open or the last reset (including dropped ones). */
uint64_t eventlog_count(struct eventlog *l);
void eventlog_reset(struct eventlog *l);

#endif
