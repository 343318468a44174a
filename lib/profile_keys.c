/* profile_keys.c - the profile key table, and what derives from one key
 * alone: parsing a value, formatting it, and the documents (the README's
 * table, the key list of swapemu.conf(5)). Loading and writing whole
 * profiles is profile.c's. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile.h"
#include "hash.h"
#include "stamp.h"

_Static_assert(sizeof(enum store_kind) == sizeof(int) &&
                   sizeof(enum csum_kind) == sizeof(int) &&
                   sizeof(enum on_error) == sizeof(int),
               "PK_CHOICE fields are read and written as int");

static const char *const store_names[] = {"memory", "file", NULL};
static const char *const csum_names[] = {"none", "crc32c", "xxh3", NULL};
static const char *const on_error_names[] = {"log", "eio", NULL};

#define F(field)                                                               \
	.offset = offsetof(struct profile, field),                             \
	.size = sizeof(((struct profile *)0)->field)

/* Every key, once (a key without .live is fixed). The order is the order
 * of profile_write and of the documents. Adding a key is a field in struct
 * profile, an entry here and its use: unit-profile then checks that it
 * parses, writes, reads back and is live or fixed as declared, and
 * unit-profile-keys that the README shows it (build/profile-keys
 * --markdown prints the table; swapemu.conf(5) follows by itself). */
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
int profile_key_parse(struct profile *p, const struct profile_key *k,
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
void profile_key_format(const struct profile *p, const struct profile_key *k,
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

const char *csum_kind_name(enum csum_kind k)
{
	return (unsigned)k < sizeof csum_names / sizeof *csum_names - 1
	           ? csum_names[k]
	           : "?";
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
