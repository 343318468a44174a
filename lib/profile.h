/* profile.h - a target's profile: an INI file parsed with libinih.
 *
 * Every key of [device], [stable-writes], [delay] and [swap] is declared
 * once, in profile_keys[] (profile_keys.c): parsing, defaults, writing, the
 * live/fixed check on a running target, the README's key table and
 * swapemu.conf(5) all come from that table. [rule NAME] sections, any
 * number, hold fault-injection rules (rules.h).
 *
 * Unknown sections or keys, bad values, impossible combinations and lines
 * libinih would cut (longer than PROFILE_LINE_MAX) are refused with
 * "FILE:LINE: reason"; a profile is either loaded whole or not at all.
 * profile_write's output loads back to the same profile: a value that could
 * not survive that (a path with a ';' at its start or after a space, which
 * starts an INI comment, or a control character) is refused when set.
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
 * -1 with "ASSIGNMENT: reason" in err; p is unchanged on failure. */
int profile_set(struct profile *p, const char *assignment, char *err,
                size_t errlen);

/* Sets one key of a section ("device", "rule NAME", ...). Returns 0 or -1
 * with the reason alone in err (the caller names the setting as its user
 * wrote it); p is unchanged on failure. */
int profile_set_key(struct profile *p, const char *section, const char *key,
                    const char *value, char *err, size_t errlen);

/* 0 if b differs from a only in keys that may change on a running target;
 * otherwise -1 with "NAME: cannot change SECTION.KEY on a running target". */
int profile_same_fixed(const struct profile *a, const struct profile *b,
                       char *err, size_t errlen);

/* The longest profile line libinih reads whole (INI_MAX_LINE less the
 * newline and the terminator). */
#define PROFILE_LINE_MAX 198

enum profile_key_type {
	PK_SIZE,   /* uint64_t bytes, a positive multiple of 4096 */
	PK_PATH,   /* char[] */
	PK_CHOICE, /* an enum, by the names in choices (index = value) */
	PK_BOOL,   /* int, yes/no (true/false, on/off, 1/0 accepted) */
	PK_U64,    /* uint64_t */
	PK_INT,    /* int in [min, max] */
	PK_DIST,   /* struct dist (dist.h) */
};

/* One key of the profile: everything the code and the documents need. */
struct profile_key {
	const char *section, *name;
	enum profile_key_type type;
	size_t offset, size; /* of the field in struct profile */
	const char *def;     /* default as written in a profile; "" unset */
	int live;            /* may change on a running target */
	const char *const *choices; /* PK_CHOICE, NULL-terminated */
	long min, max;              /* PK_INT */
	const char *use;            /* the hint a bad value's error gives */
	const char *help; /* values and meaning; `code` marks literals */
};

extern const struct profile_key profile_keys[];
extern const unsigned profile_nkeys;

/* Parses value v into key k of p. Returns 0, or -1 with the reason in err
 * and p unchanged. */
int profile_key_parse(struct profile *p, const struct profile_key *k,
                      const char *v, char *err, size_t errlen);
/* Key k of p as a profile writes it. */
void profile_key_format(const struct profile *p, const struct profile_key *k,
                        char *buf, size_t len);

/* The key table as the README's Markdown table, and as a POD list for
 * swapemu.conf(5). */
void profile_keys_markdown(FILE *out);
void profile_keys_pod(FILE *out);

/* Picks a seed if none was given (from the clock and pid) and checks what
 * single keys cannot: a file store needs a path, size a multiple of 4096. */
int profile_finish(struct profile *p, char *err, size_t errlen);

/* Writes the effective profile back as INI (what "profile" on the control
 * socket and --print-profile show). */
void profile_write(const struct profile *p, FILE *out);

const char *csum_kind_name(enum csum_kind k);

#endif
