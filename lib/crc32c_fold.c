/* crc32c_fold.c - CRC32C by carry-less multiply folding (PCLMULQDQ on
 * 128-bit registers, VPCLMULQDQ on 512-bit ones).
 *
 * The message is a polynomial over GF(2); its CRC depends only on it mod
 * P. A 16-byte block X followed by D bits of further message contributes
 * X * x^D, and X * x^D == Xa * (x^(D+64) mod P) + Xb * (x^D mod P) (mod P),
 * where Xa is X's first 8 bytes and Xb its last 8. Each product of a 64-bit
 * half with a 32-bit constant fits in 96 bits, so one carry-less multiply
 * per half "folds" X forward onto the block D bits later, in a register
 * that stays 128 bits wide: accumulators are folded over the buffer, then
 * onto each other, down to one 16-byte block congruent to everything read
 * so far. That block is then fed to the crc32 instruction as ordinary
 * data, which does the final reduction (no Barrett step); the caller
 * finishes the last len % 16 bytes with crc32 too.
 *
 * Bit order: the CRC is reflected, so byte 0 bit 0 is the highest power
 * and a register's bit 31 is x^0. A 64x32 carry-less product of reflected
 * operands comes out as the reflected 128-bit product times x^33 (the
 * 64-bit half spans x^63..x^0 in bits 0..63, the constant x^31..x^0 in
 * bits 0..31, and the 95-bit product lands in bits 0..94 of a register
 * whose bit 0 is x^127). Hence the constants: x^(D+64-33) for the first
 * half and x^(D-33) for the second, computed at init by crc32c_xpow().
 *
 * A 4 KiB block keeps two units busy at once: the carry-less multiplier
 * folds its first part while the crc32 instruction (other execution ports)
 * runs three lanes over the rest, in the same loop; the four registers are
 * joined by "shift over n zero bytes", a multiply by x^(8n) mod P (one
 * clmul, reduced by crc32). Folding alone took 4 KiB in ~69 ns on zmm and
 * ~245 ns on xmm here (crc32 alone: ~125 ns); the
 * split (2560 + 3 * 512 on zmm, 1024 + 3 * 1024 on xmm) was measured best
 * of its neighbours with bench/crc32c-bench.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <string.h>

#include "crc32c_fold.h"

/* Fold distances in bits: one 16-byte block, the lanes of a zmm, four
 * xmm accumulators (or one zmm), four zmm accumulators. */
enum { K128, K256, K384, K512, K2048, NK };
static const unsigned fold_bits[NK] = {128, 256, 384, 512, 2048};
/* fold_k[i] = {x^(D+31) mod P, x^(D-33) mod P} for D = fold_bits[i]: the
 * multipliers of a block's first and second 8 bytes (see above). */
static uint64_t fold_k[NK][2] __attribute__((aligned(16)));

/* hybrid_4k's split of a 4 KiB block: HY_Z bytes folded on zmm (a multiple
 * of 64, at least 512), then three crc32 lanes of HY_L bytes (a multiple of
 * 8), HY_WORDS words of each lane per 256-byte zmm round. hy_k[i] shifts a
 * register over 3 - i lanes: x^(8 * (3 - i) * HY_L - 33) mod P. */
#ifndef HY_Z
#define HY_Z 2560
#endif
#define HY_L ((4096 - HY_Z) / 3)
#define HY_WORDS (HY_L / 8 / (HY_Z / 256 - 1))
_Static_assert(HY_Z % 64 == 0 && HY_Z >= 512 && HY_L % 8 == 0 &&
                   HY_Z + 3 * HY_L == 4096,
               "hybrid_4k split");
static uint32_t hy_k[3];
/* The same for hybrid_4k_x, on four xmm accumulators (64-byte rounds). */
#ifndef HX_X
#define HX_X 1024
#endif
#define HX_L ((4096 - HX_X) / 3)
#define HX_WORDS (HX_L / 8 / (HX_X / 64 - 1))
_Static_assert(HX_X % 64 == 0 && HX_X >= 128 && HX_L % 8 == 0 &&
                   HX_X + 3 * HX_L == 4096,
               "hybrid_4k_x split");
static uint32_t hx_k[3];

void crc32c_fold_init(void)
{
	for (int i = 0; i < NK; i++) {
		fold_k[i][0] = crc32c_xpow(fold_bits[i] + 31);
		fold_k[i][1] = crc32c_xpow(fold_bits[i] - 33);
	}
	for (int i = 0; i < 3; i++)
		hy_k[i] = crc32c_xpow(8u * (3 - i) * HY_L - 33);
	for (int i = 0; i < 3; i++)
		hx_k[i] = crc32c_xpow(8u * (3 - i) * HX_L - 33);
}

#if defined(__x86_64__)

#define T128 "pclmul,sse4.2"
#define T512 "avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2"

__attribute__((target(T128))) static inline __m128i k128(int i)
{
	return _mm_load_si128((const __m128i *)fold_k[i]);
}

/* x folded forward by the constant's distance (without the next block). */
__attribute__((target(T128))) static inline __m128i fold_x(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
	                     _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target(T128))) static inline __m128i load_x(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

/* The last 16-byte block as data for crc32 from a zero register: its
 * reduction mod P, i.e. the register after everything folded into it. */
__attribute__((target(T128))) static inline uint32_t finish(__m128i x)
{
	uint64_t crc = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
	return (uint32_t)_mm_crc32_u64(crc, (uint64_t)_mm_extract_epi64(x, 1));
}

/* Blocks of 16 bytes while they last, onto r; then the register. */
__attribute__((target(T128))) static inline uint32_t
finish_blocks(__m128i r, const unsigned char **pp, size_t *lenp)
{
	const __m128i k = k128(K128);

	while (*lenp >= 16) {
		r = _mm_xor_si128(fold_x(r, k), load_x(*pp));
		*pp += 16;
		*lenp -= 16;
	}
	return finish(r);
}

__attribute__((target(T512))) static inline __m512i fold_z(__m512i x, __m512i k,
                                                           __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
	                                 _mm512_clmulepi64_epi128(x, k, 0x11),
	                                 next, 0x96); /* a ^ b ^ c */
}

__attribute__((target(T512))) static inline __m512i k512(int i)
{
	return _mm512_broadcast_i32x4(k128(i));
}

__attribute__((target(T512))) static inline __m512i load_z(const void *p)
{
	return _mm512_loadu_si512(p);
}

/* Four zmm accumulators (256 bytes a round) folded onto one, which takes
 * 64 bytes a round while *lenp allows, then 16-byte blocks; the register. */
__attribute__((target(T512))) static inline uint32_t
zmm_finish(__m512i x0, __m512i x1, __m512i x2, __m512i x3,
           const unsigned char **pp, size_t *lenp)
{
	const __m512i k = k512(K512);
	__m128i l0, l1, l2, l3;

	x0 = fold_z(x0, k, x1);
	x0 = fold_z(x0, k, x2);
	x0 = fold_z(x0, k, x3);
	while (*lenp >= 64) {
		x0 = fold_z(x0, k, load_z(*pp));
		*pp += 64;
		*lenp -= 64;
	}
	/* The zmm's four 16-byte lanes, first to last, onto the last. */
	l0 = _mm512_castsi512_si128(x0);
	l1 = _mm512_extracti32x4_epi32(x0, 1);
	l2 = _mm512_extracti32x4_epi32(x0, 2);
	l3 = _mm512_extracti32x4_epi32(x0, 3);
	l0 = _mm_ternarylogic_epi64(fold_x(l0, k128(K384)),
	                            fold_x(l1, k128(K256)), l3, 0x96);
	l0 = _mm_xor_si128(l0, fold_x(l2, k128(K128)));
	return finish_blocks(l0, pp, lenp);
}

/* The register crc advanced over n zero bytes, given hy_k = x^(8n-33) mod
 * P: the 63-bit carry-less product is crc * x^(8n) / x^33, and crc32 over
 * it as 8 bytes of data multiplies by x^32 and reduces. */
__attribute__((target(T128))) static inline uint32_t clmul_shift(uint32_t crc,
                                                                 uint32_t k)
{
	__m128i t = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)crc),
	                                 _mm_cvtsi32_si128((int)k), 0x00);
	return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(t));
}

/* The crc32 instruction's share of a 4 KiB block: three lanes of lane
 * bytes at q, words from *w up to byte end of each lane, in three streams
 * (the instruction's latency is 3, its throughput 1). */
__attribute__((target("sse4.2"), always_inline)) static inline void
lanes3(const unsigned char *q, size_t lane, size_t *w, size_t end,
       uint64_t c[3])
{
	for (; *w < end; *w += 8) {
		c[0] = _mm_crc32_u64(c[0], load64(q + *w));
		c[1] = _mm_crc32_u64(c[1], load64(q + lane + *w));
		c[2] = _mm_crc32_u64(c[2], load64(q + 2 * lane + *w));
	}
}

/* Joins the folded part's register and the three lanes': each shifted
 * over the bytes that follow it (k[0..2]; the last lane ends the block). */
__attribute__((target(T128))) static inline uint32_t
join3(uint32_t crc, const uint64_t c[3], const uint32_t k[3])
{
	return clmul_shift(crc, k[0]) ^ clmul_shift((uint32_t)c[0], k[1]) ^
	       clmul_shift((uint32_t)c[1], k[2]) ^ (uint32_t)c[2];
}

/* hybrid_4k on xmm: HX_X bytes on four xmm accumulators (64 a round),
 * three crc32 lanes of HX_L bytes, HX_WORDS words a lane per round. */
__attribute__((target(T128))) static uint32_t
hybrid_4k_x(uint32_t crc, const unsigned char *p)
{
	const unsigned char *q = p + HX_X;
	const __m128i k = k128(K512);
	__m128i x0, x1, x2, x3;
	uint64_t c[3] = {0, 0, 0};
	size_t w = 0;

	x0 = _mm_xor_si128(load_x(p), _mm_cvtsi32_si128((int)crc));
	x1 = load_x(p + 16);
	x2 = load_x(p + 32);
	x3 = load_x(p + 48);
	for (size_t r = 64; r < HX_X; r += 64) {
		x0 = _mm_xor_si128(fold_x(x0, k), load_x(p + r));
		x1 = _mm_xor_si128(fold_x(x1, k), load_x(p + r + 16));
		x2 = _mm_xor_si128(fold_x(x2, k), load_x(p + r + 32));
		x3 = _mm_xor_si128(fold_x(x3, k), load_x(p + r + 48));
		lanes3(q, HX_L, &w, w + 8 * HX_WORDS, c);
	}
	lanes3(q, HX_L, &w, HX_L, c);
	x0 = _mm_xor_si128(fold_x(x0, k128(K384)), x3);
	x1 = _mm_xor_si128(fold_x(x1, k128(K256)), fold_x(x2, k128(K128)));
	crc = finish(_mm_xor_si128(x0, x1));
	return join3(crc, c, hx_k);
}

/* 4 KiB blocks by hybrid_4k_x; the rest with four xmm accumulators (64
 * bytes a round), then 16-byte blocks. */
__attribute__((target(T128))) size_t
crc32c_fold128(uint32_t *crcp, const unsigned char *p, size_t len)
{
	const unsigned char *start = p;
	__m128i x0, x1, x2, x3, k;

	while (len >= 4096) {
		*crcp = hybrid_4k_x(*crcp, p);
		p += 4096;
		len -= 4096;
	}
	if (len < 64)
		return (size_t)(p - start);
	x0 = _mm_xor_si128(load_x(p), _mm_cvtsi32_si128((int)*crcp));
	x1 = load_x(p + 16);
	x2 = load_x(p + 32);
	x3 = load_x(p + 48);
	p += 64;
	len -= 64;
	k = k128(K512);
	while (len >= 64) {
		x0 = _mm_xor_si128(fold_x(x0, k), load_x(p));
		x1 = _mm_xor_si128(fold_x(x1, k), load_x(p + 16));
		x2 = _mm_xor_si128(fold_x(x2, k), load_x(p + 32));
		x3 = _mm_xor_si128(fold_x(x3, k), load_x(p + 48));
		p += 64;
		len -= 64;
	}
	x0 = _mm_xor_si128(fold_x(x0, k128(K384)), x3);
	x1 = _mm_xor_si128(fold_x(x1, k128(K256)), fold_x(x2, k128(K128)));
	*crcp = finish_blocks(_mm_xor_si128(x0, x1), &p, &len);
	return (size_t)(p - start);
}

/* One 4 KiB block, two units at once: the zmm folding takes the first
 * HY_Z bytes while the crc32 instruction (other execution ports) takes the
 * three lanes of HY_L bytes after them, in the same loop; the four
 * registers are then joined with clmul_shift(). */
__attribute__((target(T512))) static uint32_t hybrid_4k(uint32_t crc,
                                                        const unsigned char *p)
{
	const unsigned char *q = p + HY_Z;
	const __m512i k = k512(K2048);
	__m512i x0, x1, x2, x3;
	uint64_t c[3] = {0, 0, 0};
	size_t w = 0;

	x0 = _mm512_xor_si512(load_z(p),
	                      _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, crc));
	x1 = load_z(p + 64);
	x2 = load_z(p + 128);
	x3 = load_z(p + 192);
	for (size_t r = 256; r + 256 <= HY_Z; r += 256) {
		x0 = fold_z(x0, k, load_z(p + r));
		x1 = fold_z(x1, k, load_z(p + r + 64));
		x2 = fold_z(x2, k, load_z(p + r + 128));
		x3 = fold_z(x3, k, load_z(p + r + 192));
		lanes3(q, HY_L, &w, w + 8 * HY_WORDS, c);
	}
	lanes3(q, HY_L, &w, HY_L, c);
	/* The zmm region's bytes past its last whole 256-byte round. */
	size_t rest = HY_Z % 256;
	p += HY_Z - rest;
	crc = zmm_finish(x0, x1, x2, x3, &p, &rest);
	return join3(crc, c, hy_k);
}

/* 4 KiB blocks by hybrid_4k; the rest with four zmm accumulators (256
 * bytes a round), then one (64 bytes a round), then 16-byte blocks. */
__attribute__((target(T512))) size_t
crc32c_fold512(uint32_t *crcp, const unsigned char *p, size_t len)
{
	const unsigned char *start = p;
	__m512i x0, x1, x2, x3, k;

	while (len >= 4096) {
		*crcp = hybrid_4k(*crcp, p);
		p += 4096;
		len -= 4096;
	}
	if (len < 256)
		return (size_t)(p - start);
	x0 = _mm512_xor_si512(load_z(p),
	                      _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, *crcp));
	x1 = load_z(p + 64);
	x2 = load_z(p + 128);
	x3 = load_z(p + 192);
	p += 256;
	len -= 256;
	k = k512(K2048);
	while (len >= 256) {
		x0 = fold_z(x0, k, load_z(p));
		x1 = fold_z(x1, k, load_z(p + 64));
		x2 = fold_z(x2, k, load_z(p + 128));
		x3 = fold_z(x3, k, load_z(p + 192));
		p += 256;
		len -= 256;
	}
	*crcp = zmm_finish(x0, x1, x2, x3, &p, &len);
	return (size_t)(p - start);
}

#else /* !__x86_64__: never called (crc32c_path_available says no) */

size_t crc32c_fold128(uint32_t *crc, const unsigned char *p, size_t len)
{
	(void)crc, (void)p, (void)len;
	return 0;
}

size_t crc32c_fold512(uint32_t *crc, const unsigned char *p, size_t len)
{
	(void)crc, (void)p, (void)len;
	return 0;
}

#endif
