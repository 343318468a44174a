/* checksum.h - the per-block checksum: CRC32C (carry-less multiply folding
 * when the CPU has PCLMULQDQ/VPCLMULQDQ, its crc32 instruction when it has
 * SSE4.2, a table otherwise), XXH3-64 (libxxhash), or none. */
#ifndef SWAPEMU_CHECKSUM_H
#define SWAPEMU_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* CRC32C (Castagnoli), standard init/final xor: crc32c("123456789") is
 * 0xe3069283. crc32c_sw is the portable table version, exposed for tests. */
uint32_t crc32c(const void *buf, size_t len);
uint32_t crc32c_sw(const void *buf, size_t len);
/* 1 if crc32c() uses the CPU instruction. */
int crc32c_hw_available(void);
/* The path crc32c() uses on this CPU: "vpclmulqdq-avx512", "pclmulqdq",
 * "sse4.2" or "table". */
const char *crc32c_impl(void);

/* The checksum of kind k over buf (0 for CSUM_NONE). */
uint64_t checksum(enum csum_kind k, const void *buf, size_t len);

#endif
