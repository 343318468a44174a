/* rules.c - parsing and evaluating fault-injection rules. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "hash.h"
#include "stamp.h"

static const char *const op_names[] = {"read", "write", "flush", "trim",
                                       "zero"};
#define NOPS (sizeof op_names / sizeof *op_names)

static const struct {
	const char *name;
	int err;
} errnos[] = {
    {"EIO", EIO},           {"ENOSPC", ENOSPC},
    {"EINVAL", EINVAL},     {"ENOMEM", ENOMEM},
    {"EROFS", EROFS},       {"EPERM", EPERM},
    {"EAGAIN", EAGAIN},     {"ETIMEDOUT", ETIMEDOUT},
    {"ENOTCONN", ENOTCONN}, {"ESHUTDOWN", ESHUTDOWN},
    {"EBUSY", EBUSY},       {"ENODEV", ENODEV},
    {"ENXIO", ENXIO},       {"EDQUOT", EDQUOT},
    {"EFBIG", EFBIG},       {"EOVERFLOW", EOVERFLOW},
    {"ENODATA", ENODATA},   {"EILSEQ", EILSEQ},
    {"ENOTSUP", ENOTSUP},
};

int errno_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof errnos / sizeof *errnos; i++)
		if (!strcasecmp(errnos[i].name, name))
			return errnos[i].err;
	return -1;
}

const char *errno_name(int err)
{
	for (size_t i = 0; i < sizeof errnos / sizeof *errnos; i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

const char *rule_action_name(enum rule_action a)
{
	static const char *const names[] = {"none",  "error",     "delay",
	                                    "stall", "corrupt",   "lose",
	                                    "tear",  "disconnect"};
	return (unsigned)a < sizeof names / sizeof *names ? names[a] : "?";
}

void rule_spec_init(struct rule_spec *r, const char *name)
{
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->hi = UINT64_MAX;
	r->probability = 1.0;
	r->win_hi_ns = UINT64_MAX;
}

/* A comma-separated list of names into a bit mask. */
static int parse_names(const char *v, const char *const *names, unsigned n,
                       const char *any, unsigned *mask)
{
	unsigned m = 0;
	/* Word by word in place: a list of any length is read whole. */
	for (const char *t = v + strspn(v, ", "); *t; t += strspn(t, ", ")) {
		size_t len = strcspn(t, ", ");
		if (any && len == strlen(any) && !strncasecmp(t, any, len)) {
			*mask = 0;
			return 0;
		}
		unsigned i = 0;
		while (i < n && (len != strlen(names[i]) ||
		                 strncasecmp(t, names[i], len)))
			i++;
		if (i == n)
			return -1;
		m |= 1u << i;
		t += len;
	}
	*mask = m;
	return m ? 0 : -1;
}

static int parse_count(const char *v, uint64_t *out)
{
	char *end;
	if (!*v || *v == '-')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end || errno)
		return -1;
	*out = x;
	return 0;
}

/* "A..B", "A..", "..B" into [lo, hi) using parse (durations or sizes). */
static int parse_span(const char *v, const char *sep,
                      int (*parse)(const char *, uint64_t *), uint64_t *lo,
                      uint64_t *hi)
{
	const char *s = strstr(v, sep);
	char a[64];
	if (!s || (size_t)(s - v) >= sizeof a)
		return -1;
	memcpy(a, v, (size_t)(s - v));
	a[s - v] = 0;
	const char *b = s + strlen(sep);
	*lo = 0;
	*hi = UINT64_MAX;
	if (*a && parse(a, lo))
		return -1;
	if (*b && parse(b, hi))
		return -1;
	return 0;
}

static int parse_action(struct rule_spec *r, const char *v, char *err,
                        size_t errlen)
{
	const char *arg = strchr(v, ':');
	size_t n = arg ? (size_t)(arg - v) : strlen(v);
	arg = arg ? arg + 1 : NULL;
#define IS(name) (n == strlen(name) && !strncasecmp(v, name, n))
	if (IS("error")) {
		int e = arg ? errno_by_name(arg) : EIO;
		if (e < 0) {
			snprintf(err, errlen,
			         "unknown errno '%s' (use e.g. EIO, ENOSPC)",
			         arg);
			return -1;
		}
		r->action = ACT_ERROR, r->err = e;
	} else if (IS("delay")) {
		if (!arg) {
			snprintf(err, errlen,
			         "delay needs a value, e.g. "
			         "delay:5ms");
			return -1;
		}
		if (dist_parse(&r->delay, arg, err, errlen))
			return -1;
		r->action = ACT_DELAY;
	} else if (IS("corrupt") || IS("tear")) {
		int tear = IS("tear");
		uint64_t x = tear ? 2048 : 1;
		if (arg &&
		    (tear ? parse_size(arg, &x) : parse_count(arg, &x))) {
			snprintf(err, errlen, "bad %s amount '%s'",
			         tear ? "tear" : "corrupt", arg);
			return -1;
		}
		if (!x || (!tear && x > 4096 * 8)) {
			snprintf(err, errlen, "bad %s amount '%s'",
			         tear ? "tear" : "corrupt", arg);
			return -1;
		}
		r->action = tear ? ACT_TEAR : ACT_CORRUPT, r->arg = x;
	} else if (IS("stall") || IS("lose") || IS("disconnect")) {
		if (arg) {
			snprintf(err, errlen, "action '%.*s' takes no value",
			         (int)n, v);
			return -1;
		}
		r->action = IS("stall")  ? ACT_STALL
		            : IS("lose") ? ACT_LOSE
		                         : ACT_DISCONNECT;
	} else {
		snprintf(err, errlen,
		         "unknown action '%s' (use error:ENAME, delay:DIST, "
		         "stall, corrupt[:BITS], lose, tear[:BYTES], "
		         "disconnect)",
		         v);
		return -1;
	}
#undef IS
	return 0;
}

int rule_spec_set(struct rule_spec *r, const char *key, const char *v,
                  char *err, size_t errlen)
{
#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		return -1;                                                     \
	} while (0)
	static const char *const classes[] = {"unstamped", "clean", "torn",
	                                      "modified"};
	if (!strcasecmp(key, "op")) {
		if (parse_names(v, op_names, NOPS, "any", &r->ops))
			FAIL("bad op '%s' (use read, write, flush, trim, "
			     "zero or any)",
			     v);
	} else if (!strcasecmp(key, "range")) {
		if (parse_span(v, "-", parse_size, &r->lo, &r->hi))
			FAIL("bad range '%s' (use START-END, e.g. 64M-65M or "
			     "0-)",
			     v);
		if (r->lo >= r->hi)
			FAIL("impossible range '%s': empty", v);
	} else if (!strcasecmp(key, "class")) {
		if (parse_names(v, classes, 4, NULL, &r->classes))
			FAIL("bad class '%s' (use clean, torn, modified or "
			     "unstamped)",
			     v);
	} else if (!strcasecmp(key, "probability")) {
		char *end;
		double p = strtod(v, &end);
		if (!*v || *end || !(p >= 0 && p <= 1))
			FAIL("bad probability '%s' (use 0 to 1)", v);
		r->probability = p;
	} else if (!strcasecmp(key, "every") || !strcasecmp(key, "after") ||
	           !strcasecmp(key, "count")) {
		uint64_t x;
		if (parse_count(v, &x) || (x == 0 && strcasecmp(key, "after")))
			FAIL("bad %s '%s' (use a whole number%s)", key, v,
			     strcasecmp(key, "after") ? " above 0" : "");
		*(!strcasecmp(key, "every")   ? &r->every
		  : !strcasecmp(key, "after") ? &r->after
		                              : &r->count) = x;
	} else if (!strcasecmp(key, "window")) {
		if (parse_span(v, "..", parse_duration, &r->win_lo_ns,
		               &r->win_hi_ns))
			FAIL("bad window '%s' (use e.g. 10s..30s or 5s..)", v);
		if (r->win_lo_ns >= r->win_hi_ns)
			FAIL("impossible window '%s': empty", v);
	} else if (!strcasecmp(key, "action")) {
		return parse_action(r, v, err, errlen);
	} else {
		FAIL("unknown key '%s' in [rule %s]", key, r->name);
	}
	return 0;
#undef FAIL
}

int rule_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	int bad = !n;
	if (n >= RULE_NAME_MAX) {
		snprintf(err, errlen,
		         "rule name too long (%zu characters, at most %d)", n,
		         RULE_NAME_MAX - 1);
		return -1;
	}
	for (const char *c = name; *c; c++)
		bad |= (unsigned char)*c <= ' ' || *c == 0x7f ||
		       strchr("=[];", *c) != NULL;
	if (bad) {
		snprintf(err, errlen,
		         "bad rule name '%.*s' (one word without = [ ] ;, at "
		         "most %d characters)",
		         RULE_NAME_MAX, name, RULE_NAME_MAX - 1);
		for (char *c = err; *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				*c = '?';
		return -1;
	}
	return 0;
}

int rule_spec_parse(struct rule_spec *r, const char *words, char *err,
                    size_t errlen)
{
	char *buf = strdup(words), *save = NULL;
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char *name = strtok_r(buf, " \t", &save);
	int ret = -1;
	if (!name || strchr(name, '='))
		snprintf(err, errlen,
		         "usage: add NAME KEY=VALUE... (e.g. add slow op=write "
		         "action=delay:5ms)");
	else if (!rule_name_check(name, err, errlen)) {
		rule_spec_init(r, name);
		ret = 0;
		for (char *kv; !ret && (kv = strtok_r(NULL, " \t", &save));) {
			char *eq = strchr(kv, '=');
			if (!eq) {
				snprintf(err, errlen,
				         "bad '%s' (use KEY=VALUE)", kv);
				ret = -1;
			} else {
				*eq = 0;
				ret = rule_spec_set(r, kv, eq + 1, err, errlen);
			}
		}
	}
	free(buf);
	return ret;
}

int rule_spec_check(const struct rule_spec *r, uint64_t size, char *err,
                    size_t errlen)
{
	if (r->action == ACT_NONE) {
		snprintf(err, errlen, "[rule %s] has no action", r->name);
		return -1;
	}
	if (r->lo >= size) {
		snprintf(err, errlen,
		         "[rule %s]: range starts at %" PRIu64
		         ", beyond the device's %" PRIu64 " bytes",
		         r->name, r->lo, size);
		return -1;
	}
	if (r->action == ACT_CORRUPT && r->ops & ~(1u << 0))
		return snprintf(err, errlen,
		                "[rule %s]: corrupt applies to reads only "
		                "(op = read)",
		                r->name),
		       -1;
	if ((r->action == ACT_LOSE || r->action == ACT_TEAR) &&
	    r->ops != (1u << 1))
		return snprintf(err, errlen,
		                "[rule %s]: %s applies to writes only (op = "
		                "write)",
		                r->name, rule_action_name(r->action)),
		       -1;
	if (r->classes && r->ops & ~(1u << 1))
		return snprintf(err, errlen,
		                "[rule %s]: class matches writes only (op = "
		                "write)",
		                r->name),
		       -1;
	return 0;
}

void rule_spec_write(const struct rule_spec *r, FILE *out)
{
	fprintf(out, "\n[rule %s]\n", r->name);
	if (r->ops) {
		fprintf(out, "op = ");
		for (unsigned i = 0, first = 1; i < NOPS; i++)
			if (r->ops & (1u << i))
				fprintf(out, "%s%s", first ? "" : ",",
				        op_names[i]),
				    first = 0;
		fputc('\n', out);
	}
	if (r->lo || r->hi != UINT64_MAX) {
		fprintf(out, "range = %" PRIu64 "-", r->lo);
		if (r->hi != UINT64_MAX)
			fprintf(out, "%" PRIu64, r->hi);
		fputc('\n', out);
	}
	if (r->classes) {
		fprintf(out, "class = ");
		for (unsigned i = 0, first = 1; i < STAMP_NCLASSES; i++)
			if (r->classes & (1u << i))
				fprintf(out, "%s%s", first ? "" : ",",
				        stamp_class_name(i)),
				    first = 0;
		fputc('\n', out);
	}
	if (r->probability < 1)
		fprintf(out, "probability = %g\n", r->probability);
	if (r->every)
		fprintf(out, "every = %" PRIu64 "\n", r->every);
	if (r->after)
		fprintf(out, "after = %" PRIu64 "\n", r->after);
	if (r->count)
		fprintf(out, "count = %" PRIu64 "\n", r->count);
	if (r->win_lo_ns || r->win_hi_ns != UINT64_MAX) {
		struct dist a = {DIST_FIXED, r->win_lo_ns, 0},
		            b = {DIST_FIXED, r->win_hi_ns, 0};
		char as[64], bs[64] = "";
		dist_format(&a, as, sizeof as);
		if (r->win_hi_ns != UINT64_MAX)
			dist_format(&b, bs, sizeof bs);
		fprintf(out, "window = %s..%s\n", as, bs);
	}
	fprintf(out, "action = %s", rule_action_name(r->action));
	if (r->action == ACT_ERROR)
		fprintf(out, ":%s", errno_name(r->err));
	else if (r->action == ACT_DELAY) {
		char d[64];
		dist_format(&r->delay, d, sizeof d);
		fprintf(out, ":%s", d);
	} else if (r->action == ACT_CORRUPT || r->action == ACT_TEAR)
		fprintf(out, ":%" PRIu64, r->arg);
	fputc('\n', out);
}

struct ruleset *ruleset_new(const struct rule_spec *specs, unsigned n,
                            uint64_t seed)
{
	struct ruleset *s = calloc(1, sizeof *s + n * sizeof s->rule[0]);
	if (!s)
		return NULL;
	s->n = n;
	s->seed = seed;
	for (unsigned i = 0; i < n; i++)
		s->rule[i].spec = specs[i];
	return s;
}

/* A uniform number in [0, 1) from the seed, the rule and the match. */
static double chance(uint64_t seed, unsigned rule, uint64_t match)
{
	uint64_t r =
	    mix64(seed ^ mix64(rule * 0x100000001b3ull ^ mix64(match)));
	return (double)(r >> 11) / (double)(1ull << 53);
}

void ruleset_eval(struct ruleset *s, const struct rule_req *q,
                  struct rule_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		struct rule_state *st = &s->rule[i];
		const struct rule_spec *r = &st->spec;
		if (r->ops && !(r->ops & (1u << q->op)))
			continue;
		/* A flush has no range: it matches any. */
		if (q->len && (q->off >= r->hi || q->off + q->len <= r->lo))
			continue;
		if (r->classes && !(r->classes & q->classes))
			continue;
		uint64_t m = atomic_fetch_add(&st->matches, 1) + 1;
		if (m <= r->after)
			continue;
		if (r->every && (m - r->after) % r->every)
			continue;
		if (q->now_ns < r->win_lo_ns || q->now_ns >= r->win_hi_ns)
			continue;
		if (r->probability < 1 &&
		    chance(s->seed, i, m) >= r->probability)
			continue;
		uint64_t f = atomic_load(&st->fired);
		do {
			if (r->count && f >= r->count)
				break;
		} while (!atomic_compare_exchange_weak(&st->fired, &f, f + 1));
		if (r->count && f >= r->count)
			continue;
		if (v->nfired < sizeof v->fired / sizeof *v->fired)
			v->fired[v->nfired++] = i;
		switch (r->action) {
		case ACT_DELAY:
			v->delay_ns += dist_sample(&r->delay, s->seed ^ i, f);
			break;
		case ACT_CORRUPT:
			/* A zero-length read has no bit to flip: the rule
			 * fires (and is logged) but corrupts nothing. */
			v->corrupt_bits = q->len ? r->arg : 0;
			v->corrupt_key = mix64(s->seed ^ (i + 1) ^ mix64(f));
			break;
		default:
			if (v->action == ACT_NONE) {
				v->action = r->action;
				v->err = r->err;
				v->tear_bytes = r->arg;
			}
		}
	}
}

uint64_t rules_corrupt_bit(const struct rule_verdict *v, uint64_t b, size_t len)
{
	if (!len)
		return 0; /* no bit exists; callers check len, this is a guard
		           */
	return mix64(v->corrupt_key + b) % (len * 8);
}

void rules_corrupt(const struct rule_verdict *v, void *buf, size_t len)
{
	unsigned char *p = buf;
	if (!len)
		return;
	for (uint64_t b = 0; b < v->corrupt_bits; b++) {
		uint64_t bit = rules_corrupt_bit(v, b, len);
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
}

void ruleset_list(struct ruleset *s, FILE *out)
{
	for (unsigned i = 0; s && i < s->n; i++)
		fprintf(out,
		        "%s matches=%" PRIu64 " fired=%" PRIu64 " action=%s\n",
		        s->rule[i].spec.name, atomic_load(&s->rule[i].matches),
		        atomic_load(&s->rule[i].fired),
		        rule_action_name(s->rule[i].spec.action));
}
