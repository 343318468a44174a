/* dist.c - durations, sizes and delay distributions. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dist.h"
#include "hash.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define EXP_CAP 100 /* exponential samples are capped at 100x the mean */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads one or more decimal digits into *v; returns the end or NULL on
 * overflow or when there is no digit. */
static const char *parse_u64(const char *s, uint64_t *v)
{
	const char *p = s;
	uint64_t x = 0;

	for (; is_digit(*p); p++)
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
			return NULL;
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

int parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
	    {"ns", 1}, {"us", NS_PER_US}, {"ms", NS_PER_MS}, {"s", NS_PER_S}};
	uint64_t whole, frac = 0, scale = 1, mult = 0, v;
	const char *p;

	if (!s || !(p = parse_u64(s, &whole)))
		return -1;
	if (*p == '.') {
		if (!is_digit(*++p))
			return -1;
		/* Keep up to 9 fraction digits (enough for ns of a second);
		 * beyond that only zeros can still be exact. */
		for (; is_digit(*p); p++) {
			if (scale < NS_PER_S) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			} else if (*p != '0') {
				return -1;
			}
		}
	}
	if (!*p) {
		/* A bare number: only zero is unambiguous. */
		if (whole || frac)
			return -1;
		*ns = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(p, units[i].name))
			mult = units[i].mult;
	if (!mult)
		return -1;
	/* frac < 1e9 and mult <= 1e9, so the product fits. */
	if ((frac * mult) % scale)
		return -1; /* finer than a nanosecond */
	if (__builtin_mul_overflow(whole, mult, &v) ||
	    __builtin_add_overflow(v, frac * mult / scale, &v))
		return -1;
	*ns = v;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const char suffixes[] = "KMGT";
	uint64_t v;
	const char *p;
	unsigned shift = 0;

	if (!s || !(p = parse_u64(s, &v)))
		return -1;
	if (*p) {
		const char *u = strchr(suffixes, toupper((unsigned char)*p));
		if (!u)
			return -1;
		shift = 10 * (unsigned)(u - suffixes + 1);
		p++;
		if (*p && strcasecmp(p, "iB"))
			return -1;
	}
	if (shift && v > UINT64_MAX >> shift)
		return -1;
	*bytes = v << shift;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* Messages quote user input but must stay on one line. */
	for (char *c = err; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
}

/* A duration from [s, end) (end NULL: to the terminator). */
static int duration_part(const char *s, const char *end, uint64_t *ns,
                         char *err, size_t errlen)
{
	char buf[64];
	size_t n = end ? (size_t)(end - s) : strlen(s);

	if (n < sizeof buf) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (!parse_duration(buf, ns))
			return 0;
	}
	snprintf(buf, sizeof buf, "%.*s", (int)(n < 40 ? n : 40), s);
	set_err(err, errlen, "bad duration '%s%s' (use e.g. 250us, 5ms, 1s)",
	        buf, n < 40 ? "" : "...");
	return -1;
}

int dist_parse(struct dist *d, const char *s, char *err, size_t errlen)
{
	struct dist r = {DIST_FIXED, 0, 0};
	const char *colon;

	if (!s) {
		set_err(err, errlen, "missing distribution");
		return -1;
	}
	colon = strchr(s, ':');
	if (!colon || !strncmp(s, "fixed:", 6)) {
		if (duration_part(colon ? colon + 1 : s, NULL, &r.a_ns, err,
		                  errlen))
			return -1;
	} else if (!strncmp(s, "uniform:", 8)) {
		const char *lo = colon + 1, *dots = strstr(lo, "..");
		if (!dots) {
			set_err(err, errlen,
			        "bad uniform range '%s' (use e.g. "
			        "uniform:1ms..5ms)",
			        lo);
			return -1;
		}
		if (duration_part(lo, dots, &r.a_ns, err, errlen) ||
		    duration_part(dots + 2, NULL, &r.b_ns, err, errlen))
			return -1;
		if (r.a_ns > r.b_ns) {
			set_err(err, errlen,
			        "bad uniform range '%s': low is above high",
			        lo);
			return -1;
		}
		/* A range of one value is a fixed delay. */
		r.kind = r.a_ns == r.b_ns ? DIST_FIXED : DIST_UNIFORM;
		if (r.kind == DIST_FIXED)
			r.b_ns = 0;
	} else if (!strncmp(s, "exp:", 4)) {
		if (duration_part(colon + 1, NULL, &r.a_ns, err, errlen))
			return -1;
		if (r.a_ns > UINT64_MAX / EXP_CAP) {
			set_err(err, errlen, "exponential mean '%s' too large",
			        colon + 1);
			return -1;
		}
		/* exp:0 never delays: make dist_is_zero() see that. */
		r.kind = r.a_ns ? DIST_EXP : DIST_FIXED;
	} else {
		char kind[32];
		snprintf(kind, sizeof kind, "%.*s",
		         (int)(colon - s < 24 ? colon - s : 24), s);
		set_err(err, errlen,
		        "unknown distribution '%s' (use fixed:, uniform: or "
		        "exp:)",
		        kind);
		return -1;
	}
	*d = r;
	return 0;
}

/* The duration in the largest unit that holds it exactly. */
static int format_duration(char *buf, size_t len, uint64_t ns)
{
	if (!ns)
		return snprintf(buf, len, "0");
	if (ns % NS_PER_S == 0)
		return snprintf(buf, len, "%llus",
		                (unsigned long long)(ns / NS_PER_S));
	if (ns % NS_PER_MS == 0)
		return snprintf(buf, len, "%llums",
		                (unsigned long long)(ns / NS_PER_MS));
	if (ns % NS_PER_US == 0)
		return snprintf(buf, len, "%lluus",
		                (unsigned long long)(ns / NS_PER_US));
	return snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

void dist_format(const struct dist *d, char *buf, size_t len)
{
	char a[32], b[32];

	format_duration(a, sizeof a, d->a_ns);
	switch (d->kind) {
	case DIST_UNIFORM:
		format_duration(b, sizeof b, d->b_ns);
		snprintf(buf, len, "uniform:%s..%s", a, b);
		break;
	case DIST_EXP:
		snprintf(buf, len, "exp:%s", a);
		break;
	default:
		snprintf(buf, len, "%s", a);
		break;
	}
}

/* Natural log of a normal x > 0 without libm (the Makefile does not link
 * it): x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then ln m = 2 atanh(s)
 * with s = (m - 1) / (m + 1), |s| < 0.172, whose odd series reaches double
 * precision within 9 terms (measured: 1.3e-15 relative against libm). */
static double ln(double x)
{
	uint64_t bits;
	int e;
	double m, s, s2, term, sum = 0;

	memcpy(&bits, &x, sizeof bits);
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((1ull << 52) - 1)) | (1023ull << 52);
	memcpy(&m, &bits, sizeof m);
	if (m > 1.4142135623730951) {
		m /= 2;
		e++;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	term = s;
	for (int k = 1; k <= 17; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return e * 0.6931471805599453 + 2 * sum;
}

uint64_t dist_sample(const struct dist *d, uint64_t seed, uint64_t n)
{
	uint64_t r = mix64(seed ^ mix64(n));

	switch (d->kind) {
	case DIST_UNIFORM: {
		uint64_t span = d->b_ns - d->a_ns + 1;
		/* span is 0 only for the full 64-bit range. The modulo bias
		 * is about span / 2^64: below 2^-22 for spans under an hour. */
		return d->a_ns + (span ? r % span : r);
	}
	case DIST_EXP: {
		/* u in (0, 1], a multiple of 2^-53 (so normal, never 0). */
		double u = (double)((r >> 11) + 1) * 0x1p-53;
		double v = -(double)d->a_ns * ln(u) + 0.5;
		uint64_t cap = d->a_ns > UINT64_MAX / EXP_CAP
		                   ? UINT64_MAX
		                   : d->a_ns * EXP_CAP;
		/* -ln(2^-53) < 37, so the cap only guards odd inputs. */
		if (!(v < (double)cap))
			return cap;
		return (uint64_t)v;
	}
	default:
		return d->a_ns;
	}
}
