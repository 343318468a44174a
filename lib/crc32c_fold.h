/* crc32c_fold.h - internal: the carry-less multiply (PCLMULQDQ /
 * VPCLMULQDQ) folding kernels of crc32c(), and the named paths for tests.
 * Not part of the library's interface. */
#ifndef SWAPEMU_CRC32C_FOLD_H
#define SWAPEMU_CRC32C_FOLD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A little-endian word at any address: memcpy is one mov on x86. */
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* The implementations crc32c() can use, slowest first. */
enum crc32c_path {
	CRC32C_TABLE,    /* slicing-by-8 (crc32c_sw) */
	CRC32C_SSE42,    /* crc32 instruction, three lanes */
	CRC32C_CLMUL128, /* PCLMULQDQ folding on xmm, crc32 for the rest */
	CRC32C_CLMUL512, /* VPCLMULQDQ folding on zmm, crc32 for the rest */
	CRC32C_NPATHS,
};

/* checksum.c: does this CPU have path? crc32c through path (which must be
 * available); its name. crc32c() itself uses the best available path. */
int crc32c_path_available(enum crc32c_path path);
uint32_t crc32c_path(enum crc32c_path path, const void *buf, size_t len);
const char *crc32c_path_name(enum crc32c_path path);

/* checksum.c: x^n mod P as a bit-reflected register (bit 31 is x^0). */
uint32_t crc32c_xpow(unsigned n);

/* crc32c_fold.c: derives the folding constants with crc32c_xpow(); called
 * once by checksum.c's initialisation, before any kernel runs. */
void crc32c_fold_init(void);

/* The kernels advance the raw register *crc (no init/final xor) over a
 * prefix of p that is a multiple of 16 bytes, and return its length: all
 * but the last len % 16 bytes, or 0 when len is below the kernel's minimum
 * (64 bytes for fold128, 256 for fold512). The caller must have checked
 * that the CPU has PCLMULQDQ and SSE4.2 (fold128), and VPCLMULQDQ,
 * AVX512F and AVX512VL too (fold512). */
size_t crc32c_fold128(uint32_t *crc, const unsigned char *p, size_t len);
size_t crc32c_fold512(uint32_t *crc, const unsigned char *p, size_t len);

#endif
