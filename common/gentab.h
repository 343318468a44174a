/* gentab.h - the generation table: a file (on tmpfs, or a guest's ivshmem
 * BAR) mapped shared by the device and the torture workload. gen[i] is the
 * sequence page i carried when it was last swapped out; it only grows
 * within one run. The device reads it at capture time to tell a page
 * modified after submission from a clean one (see stamp.h). */
#ifndef SWAPEMU_GENTAB_H
#define SWAPEMU_GENTAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GENTAB_MAGIC 0x53574547454e5431ull /* "SWEGENT1" */
#define GENTAB_CAPACITY (1u << 20)         /* pages */

struct gentab {
	uint64_t magic;
	_Atomic uint64_t run; /* 0 while no run is published */
	uint64_t capacity;
	uint64_t reserved[5];
	_Atomic uint64_t gen[GENTAB_CAPACITY];
};

#define GENTAB_SIZE sizeof(struct gentab)

enum gentab_mode {
	GENTAB_CREATE, /* the device: create or reuse, initialise if new */
	GENTAB_ATTACH, /* a user: it must exist and be a valid table */
};

/* Opens and maps the table at path: len bytes (at least GENTAB_SIZE; more
 * for a shared region that also holds the VM mailbox, see mailbox.h).
 * Returns the mapping, or NULL with a one-line reason naming path in err. */
struct gentab *gentab_open(const char *path, enum gentab_mode mode, size_t len,
                           char *err, size_t errlen);
void gentab_close(struct gentab *t, size_t len);

#endif
