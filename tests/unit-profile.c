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

int main(void)
{
	struct profile p;
	char err[1024];
	snprintf(path, sizeof path, "/tmp/unit-profile.%d.conf", (int)getpid());
	plan(21);

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
	unlink(path);
	done_testing();
}
