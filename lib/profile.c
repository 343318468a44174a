/* profile.c - the profile key table, and loading, overriding, comparing and
 * printing profiles from it. */
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
#include "stamp.h"

_Static_assert(PROFILE_LINE_MAX == INI_MAX_LINE - 2,
               "PROFILE_LINE_MAX follows libinih's INI_MAX_LINE");
_Static_assert(sizeof(enum store_kind) == sizeof(int) &&
                   sizeof(enum csum_kind) == sizeof(int) &&
                   sizeof(enum on_error) == sizeof(int),
               "PK_CHOICE fields are read and written as int");

/* libinih's section buffer (MAX_SECTION in ini.c): it cuts longer section
 * names silently, so they are refused before it sees them. */
#define INI_NAME_MAX 49
_Static_assert(5 + RULE_NAME_MAX - 1 <= INI_NAME_MAX,
               "[rule NAME] fits libinih's section buffer");

static const char *const store_names[] = {"memory", "file", NULL};
static const char *const csum_names[] = {"none", "crc32c", "xxh3", NULL};
static const char *const on_error_names[] = {"log", "eio", NULL};

#define F(field)                                                               \
	.offset = offsetof(struct profile, field),                             \
	.size = sizeof(((struct profile *)0)->field)

/* Every key, once (a key without .live is fixed). The order is the order
 * of profile_write and of the documents. */
const struct profile_key profile_keys[] = {
    {.section = "device",
     .name = "size",
     .type = PK_SIZE,
     F(size),
     .def = "256M",
     .use = "e.g. 256M, 1G",
     .help = "bytes with K/M/G/T suffix, multiple of 4096"},
    {.section = "device",
     .name = "store",
     .type = PK_CHOICE,
     F(store),
     .def = "memory",
     .choices = store_names,
     .use = "memory or file",
     .help = "`memory` (sparse, locked) or `file`"},
    {.section = "device",
     .name = "path",
     .type = PK_PATH,
     F(store_path),
     .def = "",
     .help = "the file for `store = file`; an existing file of another "
             "size is refused, never resized; at most 191 characters"},
    {.section = "device",
     .name = "checksum",
     .type = PK_CHOICE,
     F(checksum),
     .def = "crc32c",
     .choices = csum_names,
     .use = "crc32c, xxh3 or none",
     .help = "`crc32c`, `xxh3`, `none`"},
    {.section = "device",
     .name = "verify-reads",
     .type = PK_CHOICE,
     F(verify_reads),
     .def = "eio",
     .live = 1,
     .choices = on_error_names,
     .use = "log or eio",
     .help = "on a checksum mismatch: `log` or `eio`"},
    {.section = "device",
     .name = "seed",
     .type = PK_U64,
     F(seed),
     .def = "0",
     .live = 1,
     .use = "a number; 0 picks one",
     .help = "number; 0 picks one (always shown in `stats` and the event "
             "log)"},
    {.section = "stable-writes",
     .name = "advertise",
     .type = PK_BOOL,
     F(advertise),
     .def = "no",
     .use = "yes or no",
     .help = "`yes`/`no`: stable_writes written before swapon"},
    {.section = "stable-writes",
     .name = "require",
     .type = PK_BOOL,
     F(require),
     .def = "no",
     .live = 1,
     .use = "yes or no",
     .help = "`yes`/`no`: torn or modified captures are violations"},
    {.section = "stable-writes",
     .name = "on-violation",
     .type = PK_CHOICE,
     F(on_violation),
     .def = "log",
     .live = 1,
     .choices = on_error_names,
     .use = "log or eio",
     .help = "`log` or `eio`"},
    {.section = "delay",
     .name = "capture",
     .type = PK_DIST,
     F(capture),
     .def = "0",
     .live = 1,
     .help = "a delay: `0`, `5ms`, `fixed:5ms`, `uniform:1ms..5ms`, "
             "`exp:3ms` (units ns, us, ms, s; decimals allowed)"},
    {.section = "delay",
     .name = "completion",
     .type = PK_DIST,
     F(completion),
     .def = "0",
     .live = 1,
     .help = "a delay, as above"},
    {.section = "swap",
     .name = "direct-io",
     .type = PK_BOOL,
     F(direct_io),
     .def = "yes",
     .use = "yes or no",
     .help = "`yes`/`no`: the loop device's direct I/O"},
    {.section = "swap",
     .name = "priority",
     .type = PK_INT,
     F(priority),
     .def = "32767",
     .min = -1,
     .max = 32767,
     .use = "-1 to 32767",
     .help = "swap priority, -1 to 32767"},
};
const unsigned profile_nkeys = sizeof profile_keys / sizeof *profile_keys;
#undef F

#define FIELD(p, k, type) ((type *)((char *)(p) + (k)->offset))
#define CFIELD(p, k, type) ((const type *)((const char *)(p) + (k)->offset))

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		return -1;                                                     \
	} while (0)

static int parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	         !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Why a text value would not load back as written by profile_write, or
 * NULL: libinih strips the spaces around a value and ends it at a ';' that
 * follows a space (the one after "=" included). */
static const char *unwritable(const char *v)
{
	size_t n = strlen(v);
	if (n && (strchr(" \t", v[0]) || strchr(" \t", v[n - 1])))
		return "it starts or ends with a space";
	for (const char *c = v; *c; c++) {
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return "it contains a control character";
		if (*c == ';' && (c == v || strchr(" \t", c[-1])))
			return "a ';' at its start or after a space starts a "
			       "comment in a profile";
	}
	return NULL;
}

/* Parses v into key k of p. Returns 0, or -1 with the reason in err and p
 * unchanged. */
static int set_one(struct profile *p, const struct profile_key *k,
                   const char *v, char *err, size_t errlen)
{
	switch (k->type) {
	case PK_SIZE: {
		uint64_t x;
		if (parse_size(v, &x) || x == 0)
			FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
		if (x % STAMP_PAGE_SIZE)
			FAIL("%s '%s' is not a multiple of 4096", k->name, v);
		*FIELD(p, k, uint64_t) = x;
		return 0;
	}
	case PK_PATH: {
		/* What fits on one "name = value" line. */
		size_t n = strlen(v),
		       room = PROFILE_LINE_MAX - strlen(k->name) - 3;
		const char *why = unwritable(v);
		if (!n)
			FAIL("bad %s '' (empty)", k->name);
		if (n > room || n >= k->size)
			FAIL("%s too long (%zu characters, at most %zu)",
			     k->name, n,
			     room < k->size - 1 ? room : k->size - 1);
		if (why)
			FAIL("bad %s '%s': %s", k->name, v, why);
		memcpy(FIELD(p, k, char), v, n + 1);
		return 0;
	}
	case PK_CHOICE:
		for (int i = 0; k->choices[i]; i++)
			if (!strcasecmp(v, k->choices[i])) {
				*FIELD(p, k, int) = i;
				return 0;
			}
		FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
	case PK_BOOL:
		if (parse_bool(v, FIELD(p, k, int)))
			FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
		return 0;
	case PK_U64: {
		char *end;
		if (!*v || *v == '-')
			FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
		errno = 0;
		unsigned long long x = strtoull(v, &end, 0);
		if (*end)
			FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
		if (errno == ERANGE || x > UINT64_MAX)
			FAIL("%s '%s' out of range (at most %llu)", k->name, v,
			     (unsigned long long)UINT64_MAX);
		*FIELD(p, k, uint64_t) = x;
		return 0;
	}
	case PK_INT: {
		char *end;
		errno = 0;
		long x = strtol(v, &end, 10);
		if (!*v || *end || errno || x < k->min || x > k->max)
			FAIL("bad %s '%s' (use %s)", k->name, v, k->use);
		*FIELD(p, k, int) = (int)x;
		return 0;
	}
	case PK_DIST:
		return dist_parse(FIELD(p, k, struct dist), v, err, errlen);
	}
	FAIL("key %s has no type", k->name);
}

/* Key k of p as a profile writes it. */
static void format_one(const struct profile *p, const struct profile_key *k,
                       char *buf, size_t len)
{
	switch (k->type) {
	case PK_SIZE: {
		uint64_t x = *CFIELD(p, k, uint64_t);
		if (x % (1ull << 30) == 0)
			snprintf(buf, len, "%lluG",
			         (unsigned long long)(x >> 30));
		else if (x % (1ull << 20) == 0)
			snprintf(buf, len, "%lluM",
			         (unsigned long long)(x >> 20));
		else
			snprintf(buf, len, "%llu", (unsigned long long)x);
		return;
	}
	case PK_PATH:
		snprintf(buf, len, "%s", CFIELD(p, k, char));
		return;
	case PK_CHOICE: {
		int i = *CFIELD(p, k, int), n = 0;
		while (k->choices[n])
			n++;
		snprintf(buf, len, "%s", i >= 0 && i < n ? k->choices[i] : "?");
		return;
	}
	case PK_BOOL:
		snprintf(buf, len, "%s", *CFIELD(p, k, int) ? "yes" : "no");
		return;
	case PK_U64:
		snprintf(buf, len, "%llu",
		         (unsigned long long)*CFIELD(p, k, uint64_t));
		return;
	case PK_INT:
		snprintf(buf, len, "%d", *CFIELD(p, k, int));
		return;
	case PK_DIST:
		dist_format(CFIELD(p, k, struct dist), buf, len);
		return;
	}
	snprintf(buf, len, "?");
}

void profile_defaults(struct profile *p)
{
	char err[256];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "(defaults)");
	for (unsigned i = 0; i < profile_nkeys; i++)
		if (*profile_keys[i].def &&
		    set_one(p, &profile_keys[i], profile_keys[i].def, err,
		            sizeof err)) {
			fprintf(stderr, "swapemu: bad default for %s: %s\n",
			        profile_keys[i].name, err);
			abort(); /* the table is wrong: unit-profile catches it
			          */
		}
}

const char *csum_kind_name(enum csum_kind k)
{
	return (unsigned)k < sizeof csum_names / sizeof *csum_names - 1
	           ? csum_names[k]
	           : "?";
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
			r = set_one(p, k, v, err, errlen);
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
		p->seed = stamp_mix((uint64_t)ts.tv_nsec ^
		                    ((uint64_t)ts.tv_sec << 20) ^
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
		format_one(a, k, va, sizeof va);
		format_one(b, k, vb, sizeof vb);
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
		format_one(p, k, v, sizeof v);
		if (*v || k->type != PK_PATH)
			fprintf(out, "%s = %s\n", k->name, v);
	}
	for (unsigned i = 0; i < p->nrules; i++)
		rule_spec_write(&p->rules[i], out);
}

void profile_keys_markdown(FILE *out)
{
	const char *section = NULL;
	fprintf(out, "| section | key | values | default | on a running "
	             "target |\n|---|---|---|---|---|\n");
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		if (!section || strcmp(section, k->section))
			fprintf(out, "| `[%s]` ", section = k->section);
		else
			fprintf(out, "| ");
		fprintf(out, "| `%s` | %s | ", k->name, k->help);
		if (*k->def)
			fprintf(out, "`%s` ", k->def);
		fprintf(out, "| %s |\n", k->live ? "live" : "fixed");
	}
}

/* Text with `code` spans as POD, with < and > escaped. */
static void pod_text(FILE *out, const char *s)
{
	int code = 0;
	for (; *s; s++) {
		if (*s == '`')
			fputs((code = !code) ? "C<" : ">", out);
		else if (*s == '<')
			fputs("E<lt>", out);
		else if (*s == '>')
			fputs("E<gt>", out);
		else
			fputc(*s, out);
	}
}

void profile_keys_pod(FILE *out)
{
	const char *section = NULL;
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		if (!section || strcmp(section, k->section)) {
			fprintf(out, "%s=head2 [%s]\n\n=over 4\n\n",
			        section ? "=back\n\n" : "", k->section);
			section = k->section;
		}
		fprintf(out, "=item B<%s>\n\n", k->name);
		pod_text(out, k->help);
		if (*k->def)
			fprintf(out, ". Default: C<%s>", k->def);
		fprintf(out, ". %s\n\n", k->live ? "Live." : "Fixed.");
	}
	if (section)
		fprintf(out, "=back\n\n");
}
