/* unit-profile: profiles load whole or not at all, with FILE:LINE errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"
#include "helpers.h"

static char path[64];

/* Writes text to a temporary profile and loads it over defaults. */
static int load(const char *text, struct profile *p, char *err, size_t len)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	profile_defaults(p);
	return profile_load(p, path, err, len);
}

static int refused(const char *text, const char *want)
{
	struct profile p, before;
	char err[1024] = "";
	profile_defaults(&before);
	int r = load(text, &p, err, sizeof err);
	int same = !memcmp(&p, &before, sizeof p);
	return ok(r == -1 && strstr(err, want) && same,
	          "refused with '%s' (got '%s'), profile untouched", want, err);
}

/* Issue 8, finding 8: what libinih would cut or misread is refused at its
 * own line. */
static void long_lines(void)
{
	char text[1024], pad[400];
	memset(pad, 'x', 250);
	pad[250] = 0;
	snprintf(text, sizeof text, "[device]\n# %s\nsize = 64M\n", pad);
	refused(text, ":2: line longer than 198 bytes (252)");
	snprintf(text, sizeof text,
	         "[device]\nstore = file\npath = /tmp/%s\n[swap]\n", pad);
	refused(text, ":3: line longer than 198 bytes");
	/* A line of 198 bytes is still read whole. */
	snprintf(text, sizeof text, "[device]\n#%.197s\nseed = 5\n", pad);
	struct profile p;
	char err[512] = "";
	ok(load(text, &p, err, sizeof err) == 0 && p.seed == 5,
	   "a 198-byte line is read (%s)", err);
	/* libinih keeps 49 characters of a section name: these two would
	 * merge into one rule. */
	snprintf(text, sizeof text,
	         "[rule %.44sA]\naction = stall\n"
	         "[rule %.44sB]\naction = lose\nop = write\n",
	         pad, pad);
	refused(text, ":1: rule name too long (at most 44 characters)");
	refused("[device]\nseed = 18446744073709551616\n",
	        ":2: seed '18446744073709551616' out of range");
	refused("[device]\nseed = 99999999999999999999999\n", ":2: seed");
}

/* What profile_write prints loads back to the same profile, and what could
 * not is refused when set. */
static void round_trip(void)
{
	struct profile a, b;
	char err[512] = "", *t1 = NULL, *t2 = NULL;
	size_t n1, n2;
	profile_defaults(&a);
	const char *sets[] = {
	    "device.store=file",
	    "device.path=/tmp/a;b c#d",
	    "device.seed=18446744073709551615",
	    "delay.capture=uniform:1.5ms..2s",
	    "rule slow.op=write,flush",
	    "rule slow.action=delay:exp:3ms",
	    "rule slow.window=1s..",
	    "rule "
	    "x2345678901234567890123456789012345678901234.action=error:EROFS",
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
		if (profile_set(&a, sets[i], err, sizeof err))
			bad = printf("# %s\n", err);
	FILE *f = open_memstream(&t1, &n1);
	profile_write(&a, f);
	fclose(f);
	f = fopen(path, "w");
	fputs(t1, f);
	fclose(f);
	profile_defaults(&b);
	bad |= profile_load(&b, path, err, sizeof err);
	snprintf(b.name, sizeof b.name, "%s", a.name);
	f = open_memstream(&t2, &n2);
	profile_write(&b, f);
	fclose(f);
	ok(!bad && !strcmp(t1, t2) && !strcmp(b.store_path, "/tmp/a;b c#d") &&
	       b.seed == UINT64_MAX && b.nrules == 2,
	   "profile_write loads back the same (%s)", err);
	free(t1);
	free(t2);

	profile_defaults(&a);
	ok(profile_set(&a, "device.path=/tmp/a ;b", err, sizeof err) == -1 &&
	       strstr(err, "after a space starts a comment"),
	   "a path with ' ;' is refused: %s", err);
	ok(profile_set(&a, "device.path=;x", err, sizeof err) == -1 &&
	       strstr(err, "at its start"),
	   "a path that starts with ';' is refused: %s", err);
	ok(profile_set(&a, "device.path=/tmp/a\nb", err, sizeof err) == -1 &&
	       strstr(err, "control character") && !strchr(err, '\n'),
	   "a path with a newline is refused, on one line: %s", err);
	char longpath[300] = "device.path=/";
	memset(longpath + 13, 'p', 190);
	ok(profile_set(&a, longpath, err, sizeof err) == 0,
	   "a 191-character path fits a line (%s)", err);
	strcat(longpath, "q");
	ok(profile_set(&a, longpath, err, sizeof err) == -1 &&
	       strstr(err, "path too long (192 characters, at most 191)"),
	   "a longer one is refused: %.60s...", err);
	ok(profile_set(&a, "rule a]b.action=stall", err, sizeof err) == -1 &&
	       strstr(err, "bad rule name 'a]b'"),
	   "a rule name that cannot be a section is refused: %s", err);
}

/* A value of key k other than its default. */
static const char *other_value(const struct profile_key *k)
{
	switch (k->type) {
	case PK_SIZE:
		return "1G";
	case PK_PATH:
		return "/tmp/other";
	case PK_CHOICE:
		return strcmp(k->def, k->choices[0]) ? k->choices[0]
		                                     : k->choices[1];
	case PK_BOOL:
		return strcmp(k->def, "yes") ? "yes" : "no";
	case PK_U64:
		return "12345";
	case PK_INT:
		return "-1";
	case PK_DIST:
		return "uniform:1ms..3ms";
	}
	return "?";
}

/* Issue 9: every key in the table is parsed, written, read back and
 * checked live or fixed, with nothing else to edit. */
static void key_table(void)
{
	struct profile def, p, back;
	char err[512], want[128];
	for (unsigned i = 0; i < profile_nkeys; i++) {
		const struct profile_key *k = &profile_keys[i];
		profile_defaults(&def);
		if (k->type == PK_PATH) /* a path needs store = file */
			def.store = STORE_FILE;
		p = def;
		int r = profile_set_key(&p, k->section, k->name, other_value(k),
		                        err, sizeof err);
		char *t = NULL;
		size_t n;
		FILE *f = open_memstream(&t, &n);
		profile_write(&p, f);
		fclose(f);
		f = fopen(path, "w");
		fputs(t, f);
		fclose(f);
		profile_defaults(&back);
		r |= profile_load(&back, path, err, sizeof err);
		snprintf(want, sizeof want, "%s = %s\n", k->name,
		         other_value(k));
		ok(!r && strstr(t, want) &&
		       profile_same_fixed(&p, &back, err, sizeof err) == 0,
		   "%s.%s: set, written (%s) and read back", k->section,
		   k->name, other_value(k));
		free(t);
		snprintf(want, sizeof want, "cannot change %s.%s", k->section,
		         k->name);
		int fixed = profile_same_fixed(&def, &p, err, sizeof err);
		ok(k->live ? fixed == 0 : fixed == -1 && strstr(err, want),
		   "%s.%s is %s on a running target (%s)", k->section, k->name,
		   k->live ? "live" : "fixed", fixed ? err : "");
	}
	/* Paths are compared whole. */
	profile_defaults(&p);
	p.store = STORE_FILE;
	snprintf(p.store_path, sizeof p.store_path, "/tmp/other");
	struct profile q = p;
	snprintf(q.store_path, sizeof q.store_path, "/tmp/third");
	ok(profile_same_fixed(&p, &q, err, sizeof err) == -1 &&
	       strstr(err, "cannot change device.path"),
	   "a path change alone is refused: %s", err);
}

int main(void)
{
	struct profile p;
	char err[1024];
	snprintf(path, sizeof path, "/tmp/unit-profile.%d.conf", (int)getpid());
	plan(21 + 13 + 2 * (int)profile_nkeys + 1);

	profile_defaults(&p);
	ok(p.size == 256u << 20 && p.checksum == CSUM_CRC32C && !p.advertise &&
	       !p.require && p.direct_io && p.priority == 32767,
	   "defaults");

	ok(load("# a comment\n[device]\nsize = 64M\nchecksum = xxh3\nseed = 7\n"
	        "[stable-writes]\nadvertise = yes\nrequire = yes\n"
	        "on-violation = eio\n[delay]\ncapture = 2ms\n"
	        "completion = uniform:1ms..3ms\n[swap]\npriority = 10\n"
	        "direct-io = no\n",
	        &p, err, sizeof err) == 0,
	   "a full profile loads (%s)", err);
	ok(p.size == 64u << 20 && p.checksum == CSUM_XXH3 && p.seed == 7 &&
	       p.advertise && p.require && p.on_violation == ON_ERROR_EIO,
	   "device and stable-writes values");
	ok(p.capture.kind == DIST_FIXED && p.capture.a_ns == 2000000 &&
	       p.completion.kind == DIST_UNIFORM &&
	       p.completion.b_ns == 3000000 && p.priority == 10 && !p.direct_io,
	   "delay and swap values");
	ok(!strncmp(p.name, "unit-profile.", 13), "name is the file's (%s)",
	   p.name);

	refused("[device]\nsize = 64M\nbogus = 1\n",
	        ":3: unknown key 'bogus' in [device]");
	refused("[devices]\nsize = 64M\n", ":2: unknown section [devices]");
	refused("[device]\nsize = 12345\n",
	        ":2: size '12345' is not a multiple");
	refused("[device]\nsize = lots\n", ":2: bad size 'lots'");
	refused("[device]\nchecksum = md5\n", ":2: bad checksum 'md5'");
	refused("[stable-writes]\nadvertise = maybe\n", ":2: bad advertise");
	refused("[delay]\ncapture = 5\n", ":2: bad duration");
	refused("[delay]\ncompletion = uniform:5ms..1ms\n", ":2:");
	refused("size = 1M\n", ":1: key 'size' outside any section");
	refused("[device]\nthis line has no equals sign\n",
	        ":2: malformed line");
	refused("[device]\nsize = 64M\n[swap]\npriority = 99999\n",
	        ":4: bad priority");

	profile_defaults(&p);
	ok(profile_set(&p, "delay.capture=7ms", err, sizeof err) == 0 &&
	       p.capture.a_ns == 7000000,
	   "--set overrides one key");
	ok(profile_set(&p, "delay.nope=1", err, sizeof err) == -1 &&
	       strstr(err, "unknown key 'nope'"),
	   "--set refuses unknown keys: %s", err);
	ok(profile_set(&p, "capture", err, sizeof err) == -1 &&
	       strstr(err, "section.key=value"),
	   "--set refuses a malformed assignment: %s", err);

	profile_defaults(&p);
	p.store = STORE_FILE;
	ok(profile_finish(&p, err, sizeof err) == -1 && strstr(err, "path"),
	   "store=file without a path is refused: %s", err);
	profile_defaults(&p);
	ok(profile_finish(&p, err, sizeof err) == 0 && p.seed != 0,
	   "a seed is picked when none is given (%llu)",
	   (unsigned long long)p.seed);
	long_lines();
	round_trip();
	key_table();
	unlink(path);
	done_testing();
}
