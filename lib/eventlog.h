/* eventlog.h - the device's event log: JSON lines kept in a bounded
 * in-memory ring (the last EVENTLOG_KEEP) and, optionally, appended to a
 * file. Every violation and error is an event.
 *
 * Adding an event is all the data path does: it takes the log's lock only
 * to put a line into the ring. Readers (the control socket's "events",
 * "events --follow", and the thread that writes the file) take references
 * to lines under the lock and write them without it, so a reader that
 * stops reading, or a slow disk, never delays a request. The file writer
 * keeps up to EVENTLOG_KEEP lines behind; if it falls further behind (a
 * disk far slower than the events) it writes one "events-dropped" line
 * with the count instead of the lines it lost. */
#ifndef SWAPEMU_EVENTLOG_H
#define SWAPEMU_EVENTLOG_H

#include <stdint.h>
#include <stdio.h>

#define EVENTLOG_KEEP 4096

struct eventlog;

/* path may be NULL (memory only). Returns NULL with a reason in err. */
struct eventlog *eventlog_open(const char *path, char *err, size_t errlen);
/* Writes what the file writer has not yet written, then frees the log. */
void eventlog_close(struct eventlog *l);
/* Adds one event; line is a complete JSON object without newline. */
void eventlog_add(struct eventlog *l, const char *line);
/* Writes the retained events, oldest first, one per line. */
void eventlog_dump(struct eventlog *l, FILE *out);
/* Writes the retained events, then each new one as it is logged, until
 * writing fails or the peer of socket fd hangs up (checked at least once
 * a second). */
void eventlog_follow(struct eventlog *l, FILE *out, int fd);
/* Events logged since open or the last reset (including dropped ones). */
uint64_t eventlog_count(struct eventlog *l);
/* Forgets the retained events (the file keeps them). */
void eventlog_reset(struct eventlog *l);

#endif
