/* store.h - where the device keeps its blocks: sparse memory (blocks are
 * allocated on first write; unwritten and trimmed blocks read as zeros) or
 * a file (trim punches a hole). The file is opened O_DIRECT, so a write
 * returns once the device has it, and read and written with pread/pwrite;
 * where the file system refuses O_DIRECT, through the page cache. The
 * environment's SWAPEMU_STORE_IO=uring|pread|buffered insists on one path
 * (an error where it cannot work): uring is io_uring on the O_DIRECT file,
 * not the default because it measured slower (README, "File store through
 * io_uring"). The store works in whole 4 KiB blocks; the device does
 * read-modify-write for partial ones. Any number of threads may call at
 * once; the caller serialises access to any one block. */
#ifndef SWAPEMU_STORE_H
#define SWAPEMU_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct store;

/* Opens the store the profile describes. A file store keeps an existing
 * file of exactly the profile's size (its contents are not lost) and
 * refuses one of another size. Returns NULL with a reason in err. */
struct store *store_open(const struct profile *p, char *err, size_t errlen);
void store_close(struct store *s);

int store_read(struct store *s, uint64_t blk, void *buf);
/* The memory store's block itself, to read in place without a copy (a
 * block never written is a shared block of zeros); NULL for a file store.
 * Valid, and unchanging, while the caller holds the block's lock. */
const void *store_peek(struct store *s, uint64_t blk);
int store_write(struct store *s, uint64_t blk, const void *buf);
int store_trim(struct store *s, uint64_t blk);
int store_sync(struct store *s);
/* What the store is: "memory", "file-uring", "file-pread" (O_DIRECT) or
 * "file-buffered" (page cache). */
const char *store_kind(const struct store *s);
/* Why a file store does not use io_uring ("" when it does, or for memory). */
const char *store_kind_why(const struct store *s);
/* Bytes of memory or disk the store holds in blocks. */
uint64_t store_used(const struct store *s);

#endif
