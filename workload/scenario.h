/* scenario.h - a scenario of the suite: one file each (scenario_*.c),
 * listed in scenarios.c. A scenario maps its region with h_region(),
 * runs its rounds with h_rounds() (or its own loop over h_page_out()),
 * adds its evidence with h_ev() and its own failures with h_fail(); the
 * harness swaps everything out again, checks every page, reads the
 * device's and the kernel's findings, and gives the verdict. */
#ifndef SWAPEMU_SCENARIO_H
#define SWAPEMU_SCENARIO_H

#include "harness.h"

struct scenario {
	const char *name;
	const char *summary; /* one line, for --help */
	void (*run)(struct harness *h);
};

extern const struct scenario *const scenarios[];
extern const unsigned nscenarios;

#endif
