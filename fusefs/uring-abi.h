/* uring-abi.h - the FUSE-over-io_uring protocol (kernel 6.14+, FUSE 7.42),
 * for a system whose <linux/fuse.h> predates it (Debian bookworm's is
 * 7.38). Taken from the kernel's include/uapi/linux/fuse.h; each piece is
 * defined only where the system header lacks it. */
#ifndef SWAPEMU_URING_ABI_H
#define SWAPEMU_URING_ABI_H

#include <linux/fuse.h>
#include <stdint.h>

#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41) /* INIT flag: in flags2, bit 9 */

#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

/* The tail of a ring entry's header buffer: written by the kernel when it
 * hands the entry a request, by the daemon when it commits the reply. */
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the request's unique */
	uint32_t payload_sz; /* bytes used in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};

/* A ring entry's header buffer (iov[0] of its REGISTER). */
struct fuse_uring_req_header {
	/* fuse_in_header on fetch, fuse_out_header on commit */
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	/* the opcode's own fixed argument (fuse_write_in, ...) */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	/* register an entry's buffers; it then waits for a request */
	FUSE_IO_URING_CMD_REGISTER = 1,
	/* commit the reply held in an entry and wait for the next request */
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* In the 80-byte command area of a 128-byte SQE. */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif

#endif
