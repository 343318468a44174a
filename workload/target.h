/* target.h - the swapemu target the workload talks to: its control channel
 * (counters) and its generation table.
 *
 * On the host both are found in the target's run directory. In a VM guest
 * (swapemu vm) the table is the memory of a QEMU ivshmem device shared with
 * the host device's gentab file, and the counters come through a mailbox in
 * that same memory (mailbox.h). */
#ifndef SWAPEMU_TARGET_H
#define SWAPEMU_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailbox.h"
#include "stamp.h"
#include <signal.h>

#include "clock.h"
#include "result.h"

enum target_ctl {
	TARGET_CTL_NONE,   /* no counters: generations are only published */
	TARGET_CTL_SOCKET, /* the control socket at sock */
	TARGET_CTL_SHM,    /* the mailbox after the table (mailbox.h) */
};

struct target {
	char name[256];
	char dir[4096];
	char sock[4200];
	char gentab[4200]; /* the table's file; "" for none */
	enum target_ctl ctl;
	struct gentab *tab; /* mapped shared, or NULL */
	size_t map_len;     /* bytes mapped at tab */
	struct shmctl *shm; /* the mailbox, with TARGET_CTL_SHM */
	size_t locked;      /* bytes of tab mlock'ed */
};

/* Finds the target: name if given, else the only one attached. Returns 1
 * with t filled, 0 if no target is attached (and none was named), -1 with
 * a reason in err. */
int target_find(const char *name, struct target *t, char *err, size_t errlen);

/* A target given by its parts instead of a run directory: label is only
 * the name reported (may be NULL); gentab is a file holding a generation
 * table (at least GENTAB_SIZE bytes: a device's gentab, or a PCI BAR's
 * resourceN file) or "ivshmem" for BAR 2 of the guest's QEMU ivshmem
 * device (PCI 1af4:1110); control is a control socket, "shm" for the
 * mailbox that follows the table, or NULL for none. Returns 0, or -1 with
 * a reason in err. */
int target_from_parts(const char *label, const char *gentab,
                      const char *control, struct target *t, char *err,
                      size_t errlen);

/* Maps the generation table and publishes run for pages [0, pages): every
 * gen is zeroed first, then the run is stored with release ordering. Does
 * nothing without a table. With TARGET_CTL_SHM it also finds the mailbox
 * and waits up to 10 s for the host's bridge to serve it. */
int target_publish(struct target *t, uint64_t run, uint64_t pages,
                   const volatile sig_atomic_t *stop, char *err, size_t errlen);
/* Publishes another run id on the table already mapped: every gen of
 * pages [0, pages) is zeroed first (a new scenario starts afresh). */
void target_republish(struct target *t, uint64_t run, uint64_t pages);
/* Withdraws the run (run = 0) and unmaps the table. */
void target_unpublish(struct target *t);

static inline void target_set_gen(struct target *t, uint64_t i, uint64_t seq)
{
	if (t && t->tab)
		atomic_store_explicit(&t->tab->gen[i], seq,
		                      memory_order_release);
}

/* The reply of "counters" (malloc'd), or NULL with a reason in err
 * (always NULL with TARGET_CTL_NONE). */
char *target_counters(struct target *t, char *err, size_t errlen);

/* Polls "inflight" every 50 ms until it reads 0 three times in a row
 * (0, then stays 0 for two more polls) or the deadline (ns, monotonic)
 * passes, or *stop is set. Returns true when idle. */
bool target_wait_idle(struct target *t, uint64_t deadline_ns,
                      const volatile sig_atomic_t *stop);

/* Fills d from the counters at the start and at the end. */
void target_delta(const char *start, const char *end, struct device_side *d);

#endif
