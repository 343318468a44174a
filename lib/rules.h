/* rules.h - fault-injection rules: what a rule matches, when it fires, and
 * what it does. A profile holds rule specs ([rule NAME] sections); the
 * device turns them into a rule set with counters and evaluates it on
 * every request.
 *
 * [rule NAME] keys:
 *   op          read, write, flush, trim, zero, any (default any); a
 *               comma-separated list is allowed: "read,write"
 *   range       bytes START-END (END exclusive), "64M-65M", "0-" (to the end)
 *   class       only writes carrying a captured page of this class:
 *               clean, torn, modified, unstamped (comma list allowed)
 *   probability 0..1 (default 1)
 *   every       fire on every Nth match (after "after")
 *   after       let the first N matches pass
 *   count       fire at most N times
 *   window      time since the target started, "10s..30s", "5s.." (open)
 *   action      error:ENAME   fail the request with that errno
 *               delay:DIST    delay the reply (a distribution, dist.h)
 *               stall         hold the reply until "release"
 *               corrupt[:N]   flip N bits (default 1) of the data a read
 *                             returns, at positions drawn from the seed
 *               lose          acknowledge a write without storing it
 *               tear[:BYTES]  store only the first BYTES (default 2048) of
 *                             a write; checksums keep the whole write's
 *                             value, so a checksummed read of it fails
 *               disconnect    drop the connection to the device
 * Delays of several firing rules add up; of the other actions the first
 * firing rule's wins (corrupt combines with any).
 */
#ifndef SWAPEMU_RULES_H
#define SWAPEMU_RULES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dist.h"

#define RULES_MAX 64
/* A name fits libinih's section buffer as "[rule NAME]" (profile.c). */
#define RULE_NAME_MAX 45

enum rule_action {
	ACT_NONE,
	ACT_ERROR,
	ACT_DELAY,
	ACT_STALL,
	ACT_CORRUPT,
	ACT_LOSE,
	ACT_TEAR,
	ACT_DISCONNECT,
};

struct rule_spec {
	char name[RULE_NAME_MAX];
	unsigned ops;     /* bit per enum dev_op; 0 = any */
	uint64_t lo, hi;  /* byte range [lo, hi) */
	unsigned classes; /* bit per enum stamp_class; 0 = any */
	double probability;
	uint64_t every, after, count; /* 0 = unset */
	uint64_t win_lo_ns, win_hi_ns;
	enum rule_action action;
	int err;           /* ACT_ERROR */
	struct dist delay; /* ACT_DELAY */
	uint64_t arg;      /* ACT_CORRUPT bits, ACT_TEAR bytes */
	int line;          /* where the profile set it (0: not from a file) */
};

/* Starts a spec with its defaults. */
void rule_spec_init(struct rule_spec *r, const char *name);
/* Sets one key of a spec. Returns 0, or -1 with a reason in err. */
int rule_spec_set(struct rule_spec *r, const char *key, const char *value,
                  char *err, size_t errlen);
/* Checks a rule name: one word without = [ ] ; or control characters,
 * shorter than RULE_NAME_MAX. Returns 0, or -1 with a reason in err. */
int rule_name_check(const char *name, char *err, size_t errlen);
/* Parses "NAME KEY=VALUE..." (the control socket's add) into a new spec,
 * whatever its length. Returns 0, or -1 with a reason in err. */
int rule_spec_parse(struct rule_spec *r, const char *words, char *err,
                    size_t errlen);
/* Checks a complete spec against the device size. */
int rule_spec_check(const struct rule_spec *r, uint64_t size, char *err,
                    size_t errlen);
/* Writes a spec as a [rule NAME] section. */
void rule_spec_write(const struct rule_spec *r, FILE *out);
const char *rule_action_name(enum rule_action a);
/* errno by name ("EIO") and back; -1 / NULL when unknown. */
int errno_by_name(const char *name);
const char *errno_name(int err);

/* A rule set: specs plus live counters. Immutable but for the counters;
 * the device replaces a whole set at once. */
struct rule_state {
	struct rule_spec spec;
	_Atomic uint64_t matches, fired;
};

struct ruleset {
	unsigned n;
	uint64_t seed;
	struct rule_state rule[];
};

struct ruleset *ruleset_new(const struct rule_spec *specs, unsigned n,
                            uint64_t seed);

/* One request, as the rules see it. */
struct rule_req {
	unsigned op; /* enum dev_op */
	uint64_t off, len;
	unsigned classes; /* classes of the captured pages (writes) */
	uint64_t now_ns;  /* since the target started */
};

/* What the rules decided. fired lists the rules that fired, in order. */
struct rule_verdict {
	enum rule_action action; /* the winning exclusive action, or NONE */
	int err;
	uint64_t delay_ns;
	uint64_t tear_bytes;
	uint64_t corrupt_bits; /* 0: no corruption */
	uint64_t corrupt_key;  /* seeds the bit positions */
	unsigned nfired;
	unsigned fired[8]; /* indexes into the set */
};

void ruleset_eval(struct ruleset *s, const struct rule_req *q,
                  struct rule_verdict *v);
/* The position of flipped bit number b (< corrupt_bits) in a buffer of
 * len bytes. */
uint64_t rules_corrupt_bit(const struct rule_verdict *v, uint64_t b,
                           size_t len);
/* Flips v->corrupt_bits bits of buf deterministically. */
void rules_corrupt(const struct rule_verdict *v, void *buf, size_t len);
/* "name matches fired action" lines. */
void ruleset_list(struct ruleset *s, FILE *out);

#endif
