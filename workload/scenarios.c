/* scenarios.c - the table of scenarios, in the order 'all' runs them.
 * A new scenario is a file scenario_NAME.c and one line here. */
#include "scenario.h"

extern const struct scenario scenario_write, scenario_read_write, scenario_fork,
    scenario_pin, scenario_ksm, scenario_uffd_wp, scenario_mprotect,
    scenario_large_folio;

const struct scenario *const scenarios[] = {
    &scenario_write,    &scenario_read_write,  &scenario_fork,
    &scenario_pin,      &scenario_ksm,         &scenario_uffd_wp,
    &scenario_mprotect, &scenario_large_folio,
};
const unsigned nscenarios = sizeof scenarios / sizeof *scenarios;
