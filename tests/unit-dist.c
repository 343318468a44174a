/* unit-dist - durations, sizes, distribution syntax and the sampler. TAP
 * output. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dist.h"
#include "helpers.h"

static void duration_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int rc = parse_duration(s, &v);

	ok(rc == 0 && v == want, "duration '%s' == %llu ns (rc %d, got %llu)",
	   s, (unsigned long long)want, rc, (unsigned long long)v);
}

static void duration_bad(const char *s)
{
	uint64_t v = 12345;
	int rc = parse_duration(s, &v);

	ok(rc == -1 && v == 12345, "duration '%s' rejected", s);
}

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int rc = parse_size(s, &v);

	ok(rc == 0 && v == want, "size '%s' == %llu (rc %d, got %llu)", s,
	   (unsigned long long)want, rc, (unsigned long long)v);
}

static void size_bad(const char *s)
{
	uint64_t v = 12345;
	int rc = parse_size(s, &v);

	ok(rc == -1 && v == 12345, "size '%s' rejected", s);
}

/* Parses s, checks the result and that formatting gives back canon. */
static void dist_ok(const char *s, enum dist_kind kind, uint64_t a, uint64_t b,
                    const char *canon)
{
	struct dist d, d2;
	char err[256] = "", buf[64];
	int rc = dist_parse(&d, s, err, sizeof err);

	if (rc) {
		ok(0, "dist '%s' accepted (%s)", s, err);
		return;
	}
	dist_format(&d, buf, sizeof buf);
	rc = dist_parse(&d2, buf, err, sizeof err);
	ok(d.kind == kind && d.a_ns == a &&
	       (kind != DIST_UNIFORM || d.b_ns == b) && !strcmp(buf, canon) &&
	       rc == 0 && d2.kind == d.kind && d2.a_ns == d.a_ns &&
	       d2.b_ns == d.b_ns,
	   "dist '%s' parses and formats as '%s' (got '%s')", s, canon, buf);
}

static void dist_bad(const char *s, const char *msg)
{
	struct dist d = {DIST_EXP, 7, 9};
	char err[256] = "", shown[128];
	int rc = dist_parse(&d, s, err, sizeof err);

	/* The TAP line must stay one line too. */
	snprintf(shown, sizeof shown, "%s", s);
	for (char *c = shown; *c; c++)
		if (*c == '\n')
			*c = '?';

	ok(rc == -1 && strstr(err, msg) && !strchr(err, '\n') &&
	       d.kind == DIST_EXP && d.a_ns == 7 && d.b_ns == 9,
	   "dist '%s' rejected: %s", shown, err);
}

static void syntax(void)
{
	duration_ok("0", 0);
	duration_ok("0ms", 0);
	duration_ok("100ns", 100);
	duration_ok("250us", 250000);
	duration_ok("5ms", 5000000);
	duration_ok("1.5ms", 1500000);
	duration_ok("2s", 2000000000);
	duration_ok("0.000000001s", 1);
	duration_ok("1.2500ms", 1250000);
	duration_ok("18446744073709551615ns", UINT64_MAX);
	duration_ok("18446744073s", 18446744073000000000ull);
	duration_bad("");
	duration_bad("5");
	duration_bad("1.5");
	duration_bad("x5ms");
	duration_bad("-5ms");
	duration_bad("+5ms");
	duration_bad(" 5ms");
	duration_bad("5ms ");
	duration_bad("5 ms");
	duration_bad("5msx");
	duration_bad("5m");
	duration_bad("5MS");
	duration_bad("5h");
	duration_bad(".5ms");
	duration_bad("5.ms");
	duration_bad("1.5ns");
	duration_bad("0.0000000001s");
	duration_bad("18446744073709551616ns");
	duration_bad("18446744074s");
	duration_bad("99999999999999999999999ms");

	size_ok("0", 0);
	size_ok("4096", 4096);
	size_ok("4K", 4096);
	size_ok("4k", 4096);
	size_ok("256M", 256ull << 20);
	size_ok("256MiB", 256ull << 20);
	size_ok("256mib", 256ull << 20);
	size_ok("2G", 2ull << 30);
	size_ok("2GiB", 2ull << 30);
	size_ok("1T", 1ull << 40);
	size_ok("1TiB", 1ull << 40);
	size_ok("16777215T", 16777215ull << 40);
	size_ok("18446744073709551615", UINT64_MAX);
	size_bad("");
	size_bad("K");
	size_bad("-1");
	size_bad("+1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("1.5G");
	size_bad("1P");
	size_bad("1KB");
	size_bad("1Ki");
	size_bad("1KiBx");
	size_bad("1x");
	size_bad("16777216T");
	size_bad("18446744073709551616");

	dist_ok("0", DIST_FIXED, 0, 0, "0");
	dist_ok("5ms", DIST_FIXED, 5000000, 0, "5ms");
	dist_ok("fixed:5ms", DIST_FIXED, 5000000, 0, "5ms");
	dist_ok("fixed:0", DIST_FIXED, 0, 0, "0");
	dist_ok("1500us", DIST_FIXED, 1500000, 0, "1500us");
	dist_ok("1.5ms", DIST_FIXED, 1500000, 0, "1500us");
	dist_ok("1000ms", DIST_FIXED, 1000000000, 0, "1s");
	dist_ok("1001ns", DIST_FIXED, 1001, 0, "1001ns");
	dist_ok("uniform:1ms..5ms", DIST_UNIFORM, 1000000, 5000000,
	        "uniform:1ms..5ms");
	dist_ok("uniform:0..2s", DIST_UNIFORM, 0, 2000000000, "uniform:0..2s");
	dist_ok("uniform:999us..1ms", DIST_UNIFORM, 999000, 1000000,
	        "uniform:999us..1ms");
	dist_ok("uniform:3ms..3ms", DIST_FIXED, 3000000, 0, "3ms");
	dist_ok("exp:3ms", DIST_EXP, 3000000, 0, "exp:3ms");
	dist_ok("exp:2.5us", DIST_EXP, 2500, 0, "exp:2500ns");
	dist_ok("exp:0", DIST_FIXED, 0, 0, "0");
	dist_ok("18446744073709551615ns", DIST_FIXED, UINT64_MAX, 0,
	        "18446744073709551615ns");
	dist_ok("uniform:1ns..18446744073s", DIST_UNIFORM, 1,
	        18446744073000000000ull, "uniform:1ns..18446744073s");

	dist_bad("", "bad duration ''");
	dist_bad("x5ms", "bad duration 'x5ms' (use e.g. 250us, 5ms, 1s)");
	dist_bad("5", "bad duration '5'");
	dist_bad("fixed:", "bad duration ''");
	dist_bad("fixed:x", "bad duration 'x'");
	dist_bad("uniform:5ms", "bad uniform range '5ms'");
	dist_bad("uniform:", "bad uniform range ''");
	dist_bad("uniform:..5ms", "bad duration ''");
	dist_bad("uniform:1ms..", "bad duration ''");
	dist_bad("uniform:1ms...5ms", "bad duration '.5ms'");
	dist_bad("uniform:1ms..5ms..7ms", "bad duration '5ms..7ms'");
	dist_bad("uniform:5ms..1ms", "low is above high");
	dist_bad("exp:", "bad duration ''");
	dist_bad("exp:3", "bad duration '3'");
	dist_bad("exp:3ms..4ms", "bad duration '3ms..4ms'");
	dist_bad("exp:18446744073s", "too large");
	dist_bad("normal:3ms", "unknown distribution 'normal'");
	dist_bad("Fixed:3ms", "unknown distribution 'Fixed'");
	dist_bad(":3ms", "unknown distribution ''");
	dist_bad("5ms:", "unknown distribution '5ms'");
	dist_bad("uniform:1ms\n..5ms", "bad duration '1ms?'");
	dist_bad("fixed:12345678901234567890123456789012345678901234567890ms",
	         "bad duration '1234567890123456789012345678901234567890...'");

	/* Errors with a NULL or tiny buffer must not crash. */
	struct dist d;
	char tiny[4];
	ok(dist_parse(&d, "bogus", NULL, 0) == -1 &&
	       dist_parse(&d, "bogus:1ms", tiny, sizeof tiny) == -1 &&
	       strlen(tiny) == 3,
	   "errors fit any buffer");
	char buf[8];
	struct dist u = {DIST_UNIFORM, 1000000, 5000000};
	dist_format(&u, buf, sizeof buf);
	ok(strlen(buf) == 7, "dist_format truncates to the buffer");
}

/* Formatting picks the largest exact unit and parses back, over many
 * values. */
static void round_trip(void)
{
	static const uint64_t mults[] = {1, 1000, 1000000, 1000000000};
	int bad = 0, n = 0;

	for (uint64_t i = 0; i < 2000; i++) {
		for (unsigned m = 0; m < 4; m++) {
			struct dist d = {(enum dist_kind)(i % 3),
			                 i * 7919 % 100003 * mults[m], 0},
			            e;
			char buf[64];
			if (d.kind == DIST_UNIFORM)
				d.b_ns = d.a_ns + (i + 1) * mults[3 - m];
			if (d.kind == DIST_EXP && !d.a_ns)
				d.a_ns = 1;
			dist_format(&d, buf, sizeof buf);
			n++;
			if (dist_parse(&e, buf, NULL, 0) || e.kind != d.kind ||
			    e.a_ns != d.a_ns || e.b_ns != d.b_ns) {
				if (!bad)
					printf("# round trip failed: '%s'\n",
					       buf);
				bad++;
			}
		}
	}
	ok(bad == 0, "format/parse round trip over %d distributions", n);
}

static void sampling(void)
{
	struct dist f = {DIST_FIXED, 5000000, 0};
	struct dist u = {DIST_UNIFORM, 1000000, 5000000};
	struct dist e = {DIST_EXP, 3000000, 0};
	struct dist z = {DIST_FIXED, 0, 0};
	struct dist one = {DIST_UNIFORM, 10, 11};
	struct dist full = {DIST_UNIFORM, 0, UINT64_MAX};
	int same = 1, differ = 0, inrange = 1, hit_lo = 0, hit_hi = 0;
	double sum = 0;
	uint64_t cap = 100 * e.a_ns, emax = 0;
	const int nu = 100000, ne = 200000;

	ok(dist_is_zero(&z) && !dist_is_zero(&f) && !dist_is_zero(&e),
	   "dist_is_zero");
	ok(dist_sample(&f, 1, 0) == 5000000 &&
	       dist_sample(&f, 99, 77) == 5000000,
	   "fixed samples are the value");
	ok(dist_sample(&z, 3, 3) == 0, "zero samples are 0");

	for (uint64_t n = 0; n < 1000; n++) {
		if (dist_sample(&u, 42, n) != dist_sample(&u, 42, n) ||
		    dist_sample(&e, 42, n) != dist_sample(&e, 42, n))
			same = 0;
		if (dist_sample(&u, 42, n) != dist_sample(&u, 43, n))
			differ++;
	}
	ok(same, "same seed and n give the same sample");
	ok(differ > 990, "different seeds give different samples (%d/1000)",
	   differ);
	ok(dist_sample(&u, 42, 1) != dist_sample(&u, 42, 2) ||
	       dist_sample(&u, 42, 2) != dist_sample(&u, 42, 3),
	   "different n give different samples");

	for (int n = 0; n < nu; n++) {
		uint64_t v = dist_sample(&u, 7, (uint64_t)n);
		if (v < u.a_ns || v > u.b_ns)
			inrange = 0;
		sum += (double)v;
		uint64_t w = dist_sample(&one, 7, (uint64_t)n);
		if (w < 10 || w > 11)
			inrange = 0;
		hit_lo |= w == 10;
		hit_hi |= w == 11;
	}
	ok(inrange && hit_lo && hit_hi,
	   "uniform samples stay within [low, high] and reach both ends");
	double mean = sum / nu, want = (u.a_ns + u.b_ns) / 2.0;
	ok(mean > want * 0.99 && mean < want * 1.01,
	   "uniform mean %.0f within 1%% of %.0f", mean, want);
	(void)dist_sample(&full, 1, 1);
	ok(1, "full-range uniform does not trap");

	sum = 0;
	for (int n = 0; n < ne; n++) {
		uint64_t v = dist_sample(&e, 11, (uint64_t)n);
		sum += (double)v;
		if (v > emax)
			emax = v;
	}
	mean = sum / ne;
	ok(mean > e.a_ns * 0.97 && mean < e.a_ns * 1.03,
	   "exp mean %.0f within 3%% of %llu", mean,
	   (unsigned long long)e.a_ns);
	ok(emax <= cap && emax > 5 * e.a_ns,
	   "exp max %llu at most 100x the mean, and a long tail",
	   (unsigned long long)emax);
	/* P(X > mean) = 1/e for an exponential. */
	int above = 0;
	for (int n = 0; n < ne; n++)
		above += dist_sample(&e, 12, (uint64_t)n) > e.a_ns;
	ok(above > ne * 0.3579 && above < ne * 0.3779,
	   "exp P(X > mean) = %.4f, about 1/e", (double)above / ne);
	struct dist huge = {DIST_EXP, UINT64_MAX / 2, 0};
	uint64_t hmax = 0;
	for (int n = 0; n < 1000; n++) {
		uint64_t v = dist_sample(&huge, 1, (uint64_t)n);
		if (v > hmax)
			hmax = v;
	}
	ok(hmax == UINT64_MAX, "exp samples saturate instead of wrapping");
}

int main(void)
{
	syntax();
	round_trip();
	sampling();
	done_testing();
}
