/* profile.c - loading, overriding, comparing and writing whole profiles,
 * key by key through the key table (profile_keys.c). */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"
#include "hash.h"

_Static_assert(PROFILE_LINE_MAX == INI_MAX_LINE - 2,
               "PROFILE_LINE_MAX follows libinih's INI_MAX_LINE");
/* libinih's section buffer (MAX_SECTION in ini.c): it cuts longer section
 * names silently, so they are refused before it sees them. */
#define INI_NAME_MAX 49
_Static_assert(5 + RULE_NAME_MAX - 1 <= INI_NAME_MAX,
               "[rule NAME] fits libinih's section buffer");

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		return -1;                                                     \
	} while (0)

void profile_defaults(struct profile *p)
{
	char err[256];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "(defaults)");
	for (unsigned i = 0; i < profile_nkeys; i++)
		if (*profile_keys[i].def &&
		    profile_key_parse(p, &profile_keys[i], profile_keys[i].def,
		                      err, sizeof err)) {
			/* The table is wrong: unit-profile catches it. */
			fprintf(stderr, "swapemu: bad default for %s: %s\n",
			        profile_keys[i].name, err);
			abort();
		}
}

/* Sets a key of [rule NAME], adding the rule if it is new. On failure p is
 * as it was: a new rule is dropped, an existing one restored. */
static int set_rule_key(struct profile *p, const char *name, const char *key,
                        const char *v, char *err, size_t errlen)
{
	name += strspn(name, " ");
	if (rule_name_check(name, err, errlen))
		return -1;
	unsigned n = p->nrules, i = 0;
	while (i < n && strcmp(p->rules[i].name, name))
		i++;
	if (i == n) {
		if (n == RULES_MAX)
			FAIL("too many rules (at most %d)", RULES_MAX);
		rule_spec_init(&p->rules[i], name);
		p->nrules++;
	}
	struct rule_spec saved = p->rules[i];
	if (rule_spec_set(&p->rules[i], key, v, err, errlen) == 0)
		return 0;
	p->rules[i] = saved;
	p->nrules = n;
	return -1;
}

/* Replaces control characters, which the messages may quote from the input,
 * so that an error stays one line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			*s = '?';
}

static int set_key(struct profile *p, const char *section, const char *key,
                   const char *v, char *err, size_t errlen)
{
	int known_section = 0, r;
	if (!strncasecmp(section, "rule ", 5)) {
		r = set_rule_key(p, section + 5, key, v, err, errlen);
		goto out;
	}
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		if (strcasecmp(section, k->section))
			continue;
		known_section = 1;
		if (!strcasecmp(key, k->name)) {
			r = profile_key_parse(p, k, v, err, errlen);
			goto out;
		}
	}
	if (known_section)
		snprintf(err, errlen, "unknown key '%s' in [%s]", key, section);
	else
		snprintf(err, errlen, "unknown section [%s]", section);
	r = -1;
out:
	if (r)
		one_line(err);
	return r;
}

int profile_set_key(struct profile *p, const char *section, const char *key,
                    const char *value, char *err, size_t errlen)
{
	return set_key(p, section, key, value, err, errlen);
}

struct load_ctx {
	struct profile *p;
	FILE *f;
	char *buf; /* the whole current line (getline) */
	size_t cap;
	int line;       /* lines read so far: the line being handled */
	int error_line; /* line of the first error found */
	char why[512];
};

static void load_error(struct load_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void load_error(struct load_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	c->error_line = c->line;
}

/* Refuses a section name libinih would cut (key names it passes whole). */
static int names_fit(struct load_ctx *c, const char *s)
{
	if (c->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3; /* libinih skips a UTF-8 BOM */
	s += strspn(s, " \t\f\v\r");
	if (*s == '[') {
		const char *end = strchr(s, ']');
		size_t n = end ? (size_t)(end - s - 1) : 0;
		if (n > INI_NAME_MAX && !strncasecmp(s + 1, "rule ", 5))
			load_error(c,
			           "rule name too long (at most %d characters)",
			           RULE_NAME_MAX - 1);
		else if (n > INI_NAME_MAX)
			load_error(c,
			           "section name too long (at most %d "
			           "characters)",
			           INI_NAME_MAX);
	}
	return !c->error_line;
}

/* Hands libinih one line at a time, counting them (Debian's libinih is
 * built without INI_HANDLER_LINENO) and stopping, with a reason, at a line
 * it would cut or misread. */
static char *checking_reader(char *out, int size, void *stream)
{
	struct load_ctx *c = stream;
	if (c->error_line)
		return NULL; /* keep the first error only */
	ssize_t n = getline(&c->buf, &c->cap, c->f);
	if (n < 0)
		return NULL;
	c->line++;
	size_t body = (size_t)n - (n && c->buf[n - 1] == '\n');
	if ((size_t)n + 1 > (size_t)size)
		load_error(c, "line longer than %d bytes (%zu)", size - 2,
		           body);
	else if (memchr(c->buf, 0, (size_t)n))
		load_error(c, "line contains a NUL byte");
	if (c->error_line || !names_fit(c, c->buf))
		return NULL;
	memcpy(out, c->buf, (size_t)n + 1);
	return out;
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value)
{
	struct load_ctx *c = user;
	if (c->error_line)
		return 0; /* keep the first error only */
	if (!*section) {
		load_error(c, "key '%s' outside any section", key);
		return 0;
	}
	if (set_key(c->p, section, key, value, c->why, sizeof c->why)) {
		c->error_line = c->line;
		return 0;
	}
	/* Remember where each rule was defined, for later errors. */
	for (unsigned i = 0; i < c->p->nrules; i++)
		if (!c->p->rules[i].line)
			c->p->rules[i].line = c->line;
	return 1;
}

int profile_load(struct profile *p, const char *file, char *err, size_t errlen)
{
	struct profile *tmp = malloc(sizeof *tmp);
	struct load_ctx c = {.p = tmp};
	struct stat st;
	if (!tmp) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	*tmp = *p;
	c.f = fopen(file, "r");
	if (!c.f || fstat(fileno(c.f), &st)) {
		snprintf(err, errlen, "%s: cannot open profile: %m", file);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a profile (not a regular file)",
		         file);
		goto fail;
	}
	int line = ini_parse_stream(checking_reader, &c, on_key, &c);
	if (line && (!c.error_line || line < c.error_line))
		snprintf(err, errlen, "%s:%d: %s", file, line,
		         "malformed line (expected [section] or key = value)");
	else if (c.error_line)
		snprintf(err, errlen, "%s:%d: %s", file, c.error_line, c.why);
	if (line || c.error_line)
		goto fail;
	fclose(c.f);
	free(c.buf);
	const char *base = strrchr(file, '/');
	snprintf(tmp->name, sizeof tmp->name, "%s", base ? base + 1 : file);
	*p = *tmp;
	free(tmp);
	return 0;
fail:
	if (c.f)
		fclose(c.f);
	free(c.buf);
	free(tmp);
	return -1;
}

int profile_set(struct profile *p, const char *assignment, char *err,
                size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	const char *dot =
	    eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
	if (!eq || !dot)
		FAIL("bad setting '%s' (use section.key=value, e.g. "
		     "delay.capture=5ms)",
		     assignment);
	char *section = strndup(assignment, (size_t)(dot - assignment));
	char *key = strndup(dot + 1, (size_t)(eq - dot - 1));
	char why[512];
	int r = -1;
	if (!section || !key)
		snprintf(err, errlen, "%s: out of memory", assignment);
	else if ((r = profile_set_key(p, section, key, eq + 1, why,
	                              sizeof why)))
		snprintf(err, errlen, "%s: %s", assignment, why);
	if (r)
		one_line(err);
	free(section);
	free(key);
	return r;
}

int profile_finish(struct profile *p, char *err, size_t errlen)
{
	if (p->store == STORE_FILE && !p->store_path[0]) {
		snprintf(err, errlen, "%s: store = file needs a path", p->name);
		return -1;
	}
	if (p->store == STORE_MEMORY && p->store_path[0]) {
		snprintf(err, errlen, "%s: path is set but store is memory",
		         p->name);
		return -1;
	}
	for (unsigned i = 0; i < p->nrules; i++) {
		char why[512];
		if (rule_spec_check(&p->rules[i], p->size, why, sizeof why)) {
			if (p->rules[i].line)
				snprintf(err, errlen, "%s:%d: %s", p->name,
				         p->rules[i].line, why);
			else
				snprintf(err, errlen, "%s", why);
			return -1;
		}
	}
	if (!p->seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		p->seed =
		    mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		          (uint64_t)getpid()) >>
		    16;
		if (!p->seed)
			p->seed = 1;
	}
	return 0;
}

int profile_same_fixed(const struct profile *a, const struct profile *b,
                       char *err, size_t errlen)
{
	char va[PROFILE_LINE_MAX + 1], vb[PROFILE_LINE_MAX + 1];
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		if (k->live)
			continue;
		profile_key_format(a, k, va, sizeof va);
		profile_key_format(b, k, vb, sizeof vb);
		if (strcmp(va, vb))
			FAIL("%s: cannot change %s.%s on a running target",
			     b->name, k->section, k->name);
	}
	return 0;
}

void profile_write(const struct profile *p, FILE *out)
{
	char v[PROFILE_LINE_MAX + 1];
	const char *section = NULL;
	fprintf(out, "# effective profile, from ");
	for (const char *c = p->name; *c; c++)
		fputc((unsigned char)*c < ' ' || *c == 0x7f ? '?' : *c, out);
	fputc('\n', out);
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		if (!section || strcmp(section, k->section)) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "",
			        k->section);
			section = k->section;
		}
		profile_key_format(p, k, v, sizeof v);
		if (*v || k->type != PK_PATH)
			fprintf(out, "%s = %s\n", k->name, v);
	}
	for (unsigned i = 0; i < p->nrules; i++)
		rule_spec_write(&p->rules[i], out);
}
