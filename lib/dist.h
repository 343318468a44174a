/* dist.h - delay distributions and the deterministic sampler behind them.
 *
 * Syntax: "0", "5ms" (fixed), "fixed:5ms", "uniform:1ms..5ms",
 * "exp:3ms" (exponential with that mean, capped at 100x the mean).
 * Durations take ns, us, ms or s and may be decimal ("1.5ms").
 */
#ifndef SWAPEMU_DIST_H
#define SWAPEMU_DIST_H

#include <stddef.h>
#include <stdint.h>

enum dist_kind { DIST_FIXED, DIST_UNIFORM, DIST_EXP };

struct dist {
	enum dist_kind kind;
	uint64_t a_ns; /* fixed value, uniform low bound, or exponential mean */
	uint64_t b_ns; /* uniform high bound */
};

/* Parses a duration ("250us") into ns. Returns 0 or -1. */
int parse_duration(const char *s, uint64_t *ns);
/* Parses a size with an optional K/M/G/T suffix (binary; "KiB" also
 * accepted) into bytes. Returns 0 or -1. */
int parse_size(const char *s, uint64_t *bytes);
/* Parses a distribution. Returns 0 or -1 with a reason in err. */
int dist_parse(struct dist *d, const char *s, char *err, size_t errlen);
/* Formats a distribution the way dist_parse reads it. */
void dist_format(const struct dist *d, char *buf, size_t len);
/* Sample number n of the distribution under seed: the same (seed, n) always
 * gives the same delay. */
uint64_t dist_sample(const struct dist *d, uint64_t seed, uint64_t n);
static inline int dist_is_zero(const struct dist *d)
{
	return d->kind == DIST_FIXED && d->a_ns == 0;
}

#endif
