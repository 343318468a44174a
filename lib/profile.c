/* profile.c - loading, overriding and printing target profiles. */
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"
#include "stamp.h"

void profile_defaults(struct profile *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "(defaults)");
	p->size = 256ull << 20;
	p->store = STORE_MEMORY;
	p->checksum = CSUM_CRC32C;
	p->verify_reads = ON_ERROR_EIO;
	p->on_violation = ON_ERROR_LOG;
	p->direct_io = 1;
	p->priority = 32767;
}

const char *csum_kind_name(enum csum_kind k)
{
	switch (k) {
	case CSUM_NONE:
		return "none";
	case CSUM_CRC32C:
		return "crc32c";
	case CSUM_XXH3:
		return "xxh3";
	}
	return "?";
}

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

static int parse_on_error(const char *v, enum on_error *out)
{
	if (!strcasecmp(v, "log"))
		*out = ON_ERROR_LOG;
	else if (!strcasecmp(v, "eio"))
		*out = ON_ERROR_EIO;
	else
		return -1;
	return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (!*v || *v == '-')
		return -1;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end)
		return -1;
	*out = x;
	return 0;
}

static int set_rule_key(struct profile *p, const char *name, const char *key,
                        const char *v, char *err, size_t errlen)
{
	name += strspn(name, " ");
	if (!*name || strlen(name) >= RULE_NAME_MAX ||
	    name[strcspn(name, " \t=")]) {
		snprintf(err, errlen,
		         "bad rule name '%s' (one word, at most %d characters)",
		         name, RULE_NAME_MAX - 1);
		return -1;
	}
	struct rule_spec *r = NULL;
	for (unsigned i = 0; i < p->nrules && !r; i++)
		if (!strcmp(p->rules[i].name, name))
			r = &p->rules[i];
	if (!r) {
		if (p->nrules == RULES_MAX) {
			snprintf(err, errlen, "too many rules (at most %d)",
			         RULES_MAX);
			return -1;
		}
		r = &p->rules[p->nrules++];
		rule_spec_init(r, name);
	}
	return rule_spec_set(r, key, v, err, errlen);
}

/* Sets one key. Returns 0, or -1 with the reason in err. */
static int set_key(struct profile *p, const char *section, const char *key,
                   const char *v, char *err, size_t errlen)
{
#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		return -1;                                                     \
	} while (0)
#define IS(s, k) (!strcasecmp(section, s) && !strcasecmp(key, k))
	if (IS("device", "size")) {
		if (parse_size(v, &p->size) || p->size == 0)
			FAIL("bad size '%s' (use e.g. 256M, 1G)", v);
		if (p->size % STAMP_PAGE_SIZE)
			FAIL("size '%s' is not a multiple of 4096", v);
	} else if (IS("device", "store")) {
		if (!strcasecmp(v, "memory"))
			p->store = STORE_MEMORY;
		else if (!strcasecmp(v, "file"))
			p->store = STORE_FILE;
		else
			FAIL("bad store '%s' (use memory or file)", v);
	} else if (IS("device", "path")) {
		if (!*v || strlen(v) >= sizeof p->store_path)
			FAIL("bad path '%s'", v);
		snprintf(p->store_path, sizeof p->store_path, "%s", v);
	} else if (IS("device", "checksum")) {
		if (!strcasecmp(v, "crc32c"))
			p->checksum = CSUM_CRC32C;
		else if (!strcasecmp(v, "xxh3"))
			p->checksum = CSUM_XXH3;
		else if (!strcasecmp(v, "none"))
			p->checksum = CSUM_NONE;
		else
			FAIL("bad checksum '%s' (use crc32c, xxh3 or none)", v);
	} else if (IS("device", "verify-reads")) {
		if (parse_on_error(v, &p->verify_reads))
			FAIL("bad verify-reads '%s' (use log or eio)", v);
	} else if (IS("device", "seed")) {
		if (parse_u64(v, &p->seed))
			FAIL("bad seed '%s' (use a number; 0 picks one)", v);
	} else if (IS("stable-writes", "advertise")) {
		if (parse_bool(v, &p->advertise))
			FAIL("bad advertise '%s' (use yes or no)", v);
	} else if (IS("stable-writes", "require")) {
		if (parse_bool(v, &p->require))
			FAIL("bad require '%s' (use yes or no)", v);
	} else if (IS("stable-writes", "on-violation")) {
		if (parse_on_error(v, &p->on_violation))
			FAIL("bad on-violation '%s' (use log or eio)", v);
	} else if (IS("delay", "capture")) {
		if (dist_parse(&p->capture, v, err, errlen))
			return -1;
	} else if (IS("delay", "completion")) {
		if (dist_parse(&p->completion, v, err, errlen))
			return -1;
	} else if (IS("swap", "direct-io")) {
		if (parse_bool(v, &p->direct_io))
			FAIL("bad direct-io '%s' (use yes or no)", v);
	} else if (IS("swap", "priority")) {
		char *end;
		long x = strtol(v, &end, 10);
		if (!*v || *end || x < -1 || x > 32767)
			FAIL("bad priority '%s' (use -1 to 32767)", v);
		p->priority = (int)x;
	} else if (!strncasecmp(section, "rule ", 5)) {
		return set_rule_key(p, section + 5, key, v, err, errlen);
	} else if (strcasecmp(section, "device") &&
	           strcasecmp(section, "stable-writes") &&
	           strcasecmp(section, "delay") &&
	           strcasecmp(section, "swap")) {
		FAIL("unknown section [%s]", section);
	} else {
		FAIL("unknown key '%s' in [%s]", key, section);
	}
	return 0;
#undef IS
#undef FAIL
}

struct load_ctx {
	struct profile *p;
	FILE *f;
	int line;       /* lines read so far: the line being handled */
	int error_line; /* line of the first error the handler found */
	char why[512];
};

/* fgets that counts lines, so the handler knows where it is (Debian's
 * libinih is built without INI_HANDLER_LINENO). */
static char *counting_reader(char *buf, int size, void *stream)
{
	struct load_ctx *c = stream;
	char *r = fgets(buf, size, c->f);
	if (r)
		c->line++;
	return r;
}

static int on_key(void *user, const char *section, const char *key,
                  const char *value)
{
	struct load_ctx *c = user;
	if (c->error_line)
		return 0; /* keep the first error only */
	if (!*section)
		snprintf(c->why, sizeof c->why, "key '%s' outside any section",
		         key);
	else if (set_key(c->p, section, key, value, c->why, sizeof c->why) ==
	         0) {
		/* Remember where each rule was defined, for later errors. */
		for (unsigned i = 0; i < c->p->nrules; i++)
			if (!c->p->rules[i].line)
				c->p->rules[i].line = c->line;
		return 1;
	}
	c->error_line = c->line;
	return 0;
}

int profile_load(struct profile *p, const char *file, char *err, size_t errlen)
{
	struct profile tmp = *p;
	struct load_ctx c = {.p = &tmp};
	struct stat st;
	c.f = fopen(file, "r");
	if (!c.f || fstat(fileno(c.f), &st)) {
		snprintf(err, errlen, "%s: cannot open profile: %m", file);
		if (c.f)
			fclose(c.f);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a profile (not a regular file)",
			 file);
		fclose(c.f);
		return -1;
	}
	int line = ini_parse_stream(counting_reader, &c, on_key, &c);
	fclose(c.f);
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", file, line,
		         line == c.error_line ? c.why
		                              : "malformed line (expected "
		                                "[section] or key = value)");
		return -1;
	}
	const char *base = strrchr(file, '/');
	snprintf(tmp.name, sizeof tmp.name, "%s", base ? base + 1 : file);
	*p = tmp;
	return 0;
}

int profile_set(struct profile *p, const char *assignment, char *err,
                size_t errlen)
{
	char buf[4200], *dot, *eq;
	if (strlen(assignment) >= sizeof buf) {
		snprintf(err, errlen, "setting too long (%zu characters)",
			 strlen(assignment));
		return -1;
	}
	snprintf(buf, sizeof buf, "%s", assignment);
	eq = strchr(buf, '=');
	dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
	if (!eq || !dot) {
		snprintf(err, errlen,
		         "bad setting '%s' (use section.key=value, e.g. "
		         "delay.capture=5ms)",
		         assignment);
		return -1;
	}
	*dot = *eq = 0;
	struct profile tmp = *p;
	char why[512];
	if (set_key(&tmp, buf, dot + 1, eq + 1, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", assignment, why);
		return -1;
	}
	*p = tmp;
	return 0;
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

void profile_write(const struct profile *p, FILE *out)
{
	char cap[64], comp[64], size[64];
	dist_format(&p->capture, cap, sizeof cap);
	dist_format(&p->completion, comp, sizeof comp);
	if (p->size % (1ull << 30) == 0)
		snprintf(size, sizeof size, "%lluG",
		         (unsigned long long)(p->size >> 30));
	else if (p->size % (1ull << 20) == 0)
		snprintf(size, sizeof size, "%lluM",
		         (unsigned long long)(p->size >> 20));
	else
		snprintf(size, sizeof size, "%llu",
		         (unsigned long long)p->size);
	fprintf(out, "# effective profile, from %s\n", p->name);
	fprintf(out, "[device]\nsize = %s\nstore = %s\n", size,
	        p->store == STORE_FILE ? "file" : "memory");
	if (p->store_path[0])
		fprintf(out, "path = %s\n", p->store_path);
	fprintf(out, "checksum = %s\nverify-reads = %s\nseed = %llu\n",
	        csum_kind_name(p->checksum),
	        p->verify_reads == ON_ERROR_EIO ? "eio" : "log",
	        (unsigned long long)p->seed);
	fprintf(out,
	        "\n[stable-writes]\nadvertise = %s\nrequire = %s\n"
	        "on-violation = %s\n",
	        p->advertise ? "yes" : "no", p->require ? "yes" : "no",
	        p->on_violation == ON_ERROR_EIO ? "eio" : "log");
	fprintf(out, "\n[delay]\ncapture = %s\ncompletion = %s\n", cap, comp);
	fprintf(out, "\n[swap]\ndirect-io = %s\npriority = %d\n",
	        p->direct_io ? "yes" : "no", p->priority);
	for (unsigned i = 0; i < p->nrules; i++)
		rule_spec_write(&p->rules[i], out);
}
