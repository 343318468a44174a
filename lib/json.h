/* json.h - building JSON text of any length: a growing string buffer with
 * printf-style appends and JSON string escaping. Used for event-log lines
 * and the stats object, so that every line is valid JSON whatever the
 * names (rules, profiles) and sizes (page lists) in it. */
#ifndef SWAPEMU_JSON_H
#define SWAPEMU_JSON_H

#include <stddef.h>
#include <stdio.h>

/* A NUL-terminated string that grows as needed. Zero-initialise it; free
 * p when done. On allocation failure it stops growing and sets failed
 * (what was appended so far stays valid). */
struct jbuf {
	char *p;
	size_t len, cap;
	int failed;
};

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string, quotes included. */
void jbuf_str(struct jbuf *b, const char *s);
/* The text so far ("" when empty); valid until the next append. */
const char *jbuf_text(const struct jbuf *b);

/* Writes s as a JSON string, quotes included, to f. */
void json_fputs(const char *s, FILE *f);

#endif
