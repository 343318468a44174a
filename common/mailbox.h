/* mailbox.h - the VM mailbox: a control channel through shared memory, for a
 * torture run in a VM guest.
 *
 * In a guest, the generation table is a QEMU ivshmem device whose memory is
 * the host device's gentab file (see vm/README.md). The guest cannot reach
 * the device's control socket, so the same shared memory also carries a
 * one-slot mailbox at SHMCTL_OFFSET: the guest posts one command line, a
 * bridge on the host (vm/bridge.c) sends it to the control socket and
 * writes the reply back. The workload then reads the device's counters and
 * waits for it to be idle exactly as it does on the host.
 *
 * Protocol (one request at a time; the guest is the only writer of req and
 * cmd, the host the only writer of magic, done, status and reply):
 *   host:  magic = SHMCTL_MAGIC once it serves
 *   guest: writes cmd (NUL-terminated), then req = n (release)
 *   host:  sees req != done (acquire), runs cmd, writes status, reply_len,
 *          reply, then done = req (release)
 *   guest: waits until done == n (acquire), reads the reply
 */
#ifndef SWAPEMU_MAILBOX_H
#define SWAPEMU_MAILBOX_H

#include <stdatomic.h>
#include <stdint.h>

#include "gentab.h"

#define SHMCTL_MAGIC 0x53574543544c3031ull /* "SWECTL01" */
/* Past the generation table (8 MiB + 64 bytes), page-aligned. */
#define SHMCTL_OFFSET (9u << 20)
#define SHMCTL_CMD_MAX 256u
#define SHMCTL_REPLY_MAX (256u << 10)

struct shmctl {
	_Atomic uint64_t magic; /* SHMCTL_MAGIC while the host serves */
	_Atomic uint64_t req;   /* sequence of the last request posted */
	_Atomic uint64_t done;  /* sequence of the last request answered */
	uint32_t status;        /* 0: ok, 1: error (reply holds the reason) */
	uint32_t reply_len;     /* bytes of reply, without the NUL */
	uint64_t reserved[4];
	char cmd[SHMCTL_CMD_MAX];
	char reply[SHMCTL_REPLY_MAX];
};

/* Bytes a shared region must have to hold the table and the mailbox. */
#define SHMCTL_REGION_MIN ((uint64_t)SHMCTL_OFFSET + sizeof(struct shmctl))

_Static_assert(SHMCTL_OFFSET >= GENTAB_SIZE,
               "the mailbox must follow the generation table");

#endif
