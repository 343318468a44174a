/* profile.h - a target's profile: an INI file parsed with libinih.
 *
 * Sections and keys (see configs/README and the README's "Profiles"):
 *   [device]        size, store, path, checksum, verify-reads, seed
 *   [stable-writes] advertise, require, on-violation
 *   [delay]         capture, completion
 *   [swap]          direct-io, priority
 *   [rule NAME]     fault-injection rules, any number (rules.h)
 * Unknown sections or keys, bad values and impossible combinations are
 * refused with "FILE:LINE: reason"; a profile is either loaded whole or not
 * at all.
 */
#ifndef SWAPEMU_PROFILE_H
#define SWAPEMU_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dist.h"
#include "rules.h"

enum store_kind { STORE_MEMORY, STORE_FILE };
enum csum_kind { CSUM_NONE, CSUM_CRC32C, CSUM_XXH3 };
enum on_error { ON_ERROR_LOG, ON_ERROR_EIO };

struct profile {
	char name[256]; /* file the profile came from, or "(defaults)" */
	uint64_t size;
	enum store_kind store;
	char store_path[4096];
	enum csum_kind checksum;
	enum on_error verify_reads;
	uint64_t seed; /* 0 in the file means "pick one"; resolved at load */
	int advertise;
	int require;
	enum on_error on_violation;
	struct dist capture;
	struct dist completion;
	int direct_io;
	int priority;
	unsigned nrules;
	struct rule_spec rules[RULES_MAX];
};

/* Defaults: 256 MiB memory store, crc32c, no delays, advertise and require
 * off, direct I/O on, swap priority 32767. */
void profile_defaults(struct profile *p);

/* Loads FILE over the current contents of p (start from profile_defaults).
 * Returns 0, or -1 with "FILE:LINE: reason" in err. p is unchanged on
 * failure. */
int profile_load(struct profile *p, const char *file, char *err, size_t errlen);

/* Applies one "section.key=value" override (as given to --set). Returns 0 or
 * -1 with a reason in err; p is unchanged on failure. */
int profile_set(struct profile *p, const char *assignment, char *err,
                size_t errlen);

/* Picks a seed if none was given (from the clock and pid) and checks what
 * single keys cannot: a file store needs a path, size a multiple of 4096. */
int profile_finish(struct profile *p, char *err, size_t errlen);

/* Writes the effective profile back as INI (what "profile" on the control
 * socket and --print-profile show). */
void profile_write(const struct profile *p, FILE *out);

const char *csum_kind_name(enum csum_kind k);

#endif
