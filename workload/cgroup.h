/* cgroup.h - a private memory cgroup for the torture run, so that its
 * swap cache can be dropped (memory.reclaim on v2, memory.force_empty on
 * v1) and the final verification reads the pages back from the device. */
#ifndef SWAPEMU_CGROUP_H
#define SWAPEMU_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memcg {
	int version;         /* 0: none, 1 or 2 */
	bool entered;        /* the process was moved into dir */
	char dir[PATH_MAX];  /* the cgroup created for the run */
	char home[PATH_MAX]; /* the cgroup the process came from */
};

/* Creates swapemu-torture-PID and moves the process into it. Returns 0 on
 * success; -1 when no memory controller is usable, with the reason in
 * note (the run continues without). */
int memcg_enter(struct memcg *cg, char *note, size_t notelen);

/* Drops what the cgroup holds, the swap cache included; bytes is at least
 * what the pages take. Returns true if the kernel accepted the request. */
bool memcg_drop(struct memcg *cg, uint64_t bytes);

/* Moves the process back home and removes the cgroup. Idempotent. */
void memcg_leave(struct memcg *cg);

#endif
