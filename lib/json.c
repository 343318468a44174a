/* json.c - a growing string buffer and JSON string escaping (see json.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int reserve(struct jbuf *b, size_t more)
{
	if (b->failed)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The escape for byte c, or NULL if it stands for itself. buf holds a
 * \u00XX form. */
static const char *escape(unsigned char c, char buf[8])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	}
	/* Control characters, and bytes that are not ASCII: names come from
	 * files and command lines and need not be UTF-8, so each such byte
	 * becomes the code point of the same value (Latin-1). */
	if (c < 0x20 || c >= 0x7f) {
		snprintf(buf, 8, "\\u%04x", c);
		return buf;
	}
	return NULL;
}

void jbuf_str(struct jbuf *b, const char *s)
{
	char u[8];
	jbuf_printf(b, "\"");
	for (const char *run = s;; s++) {
		const char *e = *s ? escape((unsigned char)*s, u) : "";
		if (!e)
			continue;
		if (s > run && !reserve(b, (size_t)(s - run))) {
			memcpy(b->p + b->len, run, (size_t)(s - run));
			b->len += (size_t)(s - run);
			b->p[b->len] = 0;
		}
		if (!*s)
			break;
		jbuf_printf(b, "%s", e);
		run = s + 1;
	}
	jbuf_printf(b, "\"");
}

const char *jbuf_text(const struct jbuf *b)
{
	return b->p ? b->p : "";
}

void json_fputs(const char *s, FILE *f)
{
	struct jbuf b = {0};
	jbuf_str(&b, s);
	fputs(b.failed ? "\"\"" : jbuf_text(&b), f);
	free(b.p);
}
