/* target.h - the swapemu target the workload talks to: its control socket
 * (counters) and its generation table. */
#ifndef SWAPEMU_TARGET_H
#define SWAPEMU_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stamp.h"
#include "torture.h"

struct target {
	char name[256];
	char dir[4096];
	char sock[4200];
	struct gentab *tab; /* mapped shared, or NULL */
	size_t locked;      /* bytes of tab mlock'ed */
};

/* Finds the target: name if given, else the only one attached. Returns 1
 * with t filled, 0 if no target is attached (and none was named), -1 with
 * a reason in err. */
int target_find(const char *name, struct target *t, char *err, size_t errlen);

/* Maps DIR/gentab and publishes run for pages [0, pages): every gen is
 * zeroed first, then the run is stored with release ordering. */
int target_publish(struct target *t, uint64_t run, uint64_t pages, char *err,
                   size_t errlen);
/* Withdraws the run (run = 0) and unmaps the table. */
void target_unpublish(struct target *t);

static inline void target_set_gen(struct target *t, uint64_t i, uint64_t seq)
{
	if (t && t->tab)
		atomic_store_explicit(&t->tab->gen[i], seq,
		                      memory_order_release);
}

/* The reply of "counters" (malloc'd), or NULL with a reason in err. */
char *target_counters(struct target *t, char *err, size_t errlen);

/* Polls "inflight" every 50 ms until it reads 0 three times in a row
 * (0, then stays 0 for two more polls) or the deadline (ns, monotonic)
 * passes. Returns true when idle. */
bool target_wait_idle(struct target *t, uint64_t deadline_ns);

/* Fills d from the counters at the start and at the end. */
void target_delta(const char *start, const char *end, struct device_side *d);

#endif
