/* tap.h - the few TAP helpers the C tests share (header-only). */
#ifndef SWAPEMU_TAP_H
#define SWAPEMU_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed, tap_planned;

/* A plan up front, or none: done_testing() then prints it at the end. */
#define plan(n) (tap_planned = 1, printf("1..%d\n", (n)))
#define skip_all(...)                                                          \
	do {                                                                   \
		printf("1..0 # SKIP " __VA_ARGS__);                            \
		printf("\n");                                                  \
		exit(77);                                                      \
	} while (0)
/* ok(cond, fmt, ...): one test point. Returns cond. */
#define ok(cond, ...)                                                          \
	({                                                                     \
		int _c = !!(cond);                                             \
		printf("%sok %d - ", _c ? "" : "not ", ++tap_n);               \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		if (!_c)                                                       \
			tap_failed = 1;                                        \
		_c;                                                            \
	})
#define done_testing()                                                         \
	do {                                                                   \
		if (!tap_planned)                                              \
			printf("1..%d\n", tap_n);                              \
		return tap_failed;                                             \
	} while (0)

#endif
