/* checksum.c - CRC32C (carry-less multiply folding, SSE4.2 instruction or
 * slicing-by-8 tables), XXH3-64.
 *
 * crc32c() picks its path once, at the first call (crc_init, with
 * __builtin_cpu_supports; every path is compiled with a per-function
 * target attribute, so the library runs on any x86-64):
 *   - VPCLMULQDQ + AVX512F/VL (crc32c_fold512): a 4 KiB block folds
 *     2560 bytes on zmm registers while crc32 takes three 512-byte lanes;
 *     other buffers of 256 bytes or more are folded on zmm alone;
 *   - PCLMULQDQ (crc32c_fold128): the same on xmm registers, a 4 KiB block
 *     split 1024 + 3 * 1024, other buffers of 64 bytes or more folded;
 *   - both fold kernels stop at a multiple of 16 bytes, and the crc32
 *     path below does the rest (and every shorter buffer);
 *   - SSE4.2 only: the crc32 instruction, as below;
 *   - otherwise (and crc32c_sw, the reference): slicing-by-8 tables.
 * The folding constants are x^n mod P from crc32c_xpow(), at init.
 *
 * The crc32 path runs three independent crc32 streams over three
 * adjacent lanes and joins them with a "shift by N zero bytes" table: the
 * instruction has a latency of 3 cycles but a throughput of 1, so one
 * dependent chain would leave two thirds of the unit idle. The lane length
 * is chosen so that a 4 KiB block is one round (3 * 1360 = 4080) plus 16
 * bytes; shorter buffers use a short lane and then a single stream.
 */
#include <pthread.h>
#include <string.h>

#include <xxhash.h>

#include "checksum.h"
#include "crc32c_fold.h"

#define CRC32C_POLY 0x82f63b78u /* Castagnoli, bit-reversed */

#define LANE_LONG 1360
#define LANE_SHORT 128

/* Slicing-by-8: crc_tab[k][b] is the register after byte b followed by k
 * zero bytes. */
static uint32_t crc_tab[8][256];
/* shift_x[k][b]: the register value b << 8k advanced over LANE_x zero
 * bytes; by linearity the four lookups together shift a whole register. */
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
/* Each path's availability, and the one crc32c() uses. */
static int path_ok[CRC32C_NPATHS];
static enum crc32c_path best_path;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Advances a raw register (no init/final xor) over len zero bytes. */
static uint32_t crc_zeros(uint32_t crc, size_t len)
{
	while (len--)
		crc = crc_tab[0][crc & 0xff] ^ (crc >> 8);
	return crc;
}

static void shift_init(uint32_t tab[4][256], size_t len)
{
	uint32_t bit[32];

	for (int i = 0; i < 32; i++)
		bit[i] = crc_zeros(1u << i, len);
	for (int k = 0; k < 4; k++) {
		for (unsigned n = 0; n < 256; n++) {
			uint32_t v = 0;
			for (int i = 0; i < 8; i++)
				if (n & (1u << i))
					v ^= bit[8 * k + i];
			tab[k][n] = v;
		}
	}
}

static uint32_t crc_shift(const uint32_t tab[4][256], uint32_t crc)
{
	return tab[0][crc & 0xff] ^ tab[1][(crc >> 8) & 0xff] ^
	       tab[2][(crc >> 16) & 0xff] ^ tab[3][crc >> 24];
}

static void crc_init(void)
{
	for (unsigned n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int i = 0; i < 8; i++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_tab[0][n] = c;
	}
	for (unsigned n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][n] = crc_tab[0][crc_tab[k - 1][n] & 0xff] ^
			                (crc_tab[k - 1][n] >> 8);
	shift_init(shift_long, LANE_LONG);
	shift_init(shift_short, LANE_SHORT);
	crc32c_fold_init();
	path_ok[CRC32C_TABLE] = 1;
#if defined(__x86_64__)
	__builtin_cpu_init();
	path_ok[CRC32C_SSE42] = __builtin_cpu_supports("sse4.2");
	path_ok[CRC32C_CLMUL128] =
	    path_ok[CRC32C_SSE42] && __builtin_cpu_supports("pclmul");
	path_ok[CRC32C_CLMUL512] = path_ok[CRC32C_CLMUL128] &&
	                           __builtin_cpu_supports("vpclmulqdq") &&
	                           __builtin_cpu_supports("avx512f") &&
	                           __builtin_cpu_supports("avx512vl");
#endif
	for (int i = 0; i < CRC32C_NPATHS; i++)
		if (path_ok[i])
			best_path = (enum crc32c_path)i;
}

uint32_t crc32c_xpow(unsigned n)
{
	uint32_t r = 0x80000000u; /* x^0 */

	while (n--) /* times x, mod P */
		r = r & 1 ? (r >> 1) ^ CRC32C_POLY : r >> 1;
	return r;
}

static uint32_t crc_sw_update(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		/* Little-endian: the low half of the word is the first four
		 * bytes, which meet the register. */
		uint64_t w = load64(p) ^ crc;
		crc = crc_tab[7][w & 0xff] ^ crc_tab[6][(w >> 8) & 0xff] ^
		      crc_tab[5][(w >> 16) & 0xff] ^
		      crc_tab[4][(w >> 24) & 0xff] ^
		      crc_tab[3][(w >> 32) & 0xff] ^
		      crc_tab[2][(w >> 40) & 0xff] ^
		      crc_tab[1][(w >> 48) & 0xff] ^ crc_tab[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t crc32c_sw(const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_sw_update(~0u, buf, len);
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint64_t
crc_hw_words(uint64_t crc, const unsigned char *p, size_t words)
{
	while (words--) {
		crc = _mm_crc32_u64(crc, load64(p));
		p += 8;
	}
	return crc;
}

/* Three lanes of lane bytes each, while they fit. */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw_3way(uint32_t crc, const unsigned char **pp, size_t *lenp, size_t lane,
            const uint32_t shift[4][256])
{
	const unsigned char *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * lane) {
		uint64_t c0 = crc, c1 = 0, c2 = 0;
		for (size_t i = 0; i < lane; i += 8) {
			c0 = _mm_crc32_u64(c0, load64(p + i));
			c1 = _mm_crc32_u64(c1, load64(p + lane + i));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * lane + i));
		}
		crc = crc_shift(shift, (uint32_t)c0) ^ (uint32_t)c1;
		crc = crc_shift(shift, crc) ^ (uint32_t)c2;
		p += 3 * lane;
		len -= 3 * lane;
	}
	*pp = p;
	*lenp = len;
	return crc;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw_update(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = crc_hw_3way(crc, &p, &len, LANE_LONG, shift_long);
	crc = crc_hw_3way(crc, &p, &len, LANE_SHORT, shift_short);
	crc = (uint32_t)crc_hw_words(crc, p, len / 8);
	p += len & ~(size_t)7;
	len &= 7;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}
#endif

int crc32c_hw_available(void)
{
	pthread_once(&crc_once, crc_init);
	return path_ok[CRC32C_SSE42];
}

int crc32c_path_available(enum crc32c_path path)
{
	pthread_once(&crc_once, crc_init);
	return path >= 0 && path < CRC32C_NPATHS && path_ok[path];
}

const char *crc32c_path_name(enum crc32c_path path)
{
	static const char *const names[CRC32C_NPATHS] = {
	    [CRC32C_TABLE] = "table",
	    [CRC32C_SSE42] = "sse4.2",
	    [CRC32C_CLMUL128] = "pclmulqdq",
	    [CRC32C_CLMUL512] = "vpclmulqdq-avx512",
	};
	return path >= 0 && path < CRC32C_NPATHS ? names[path] : "?";
}

const char *crc32c_impl(void)
{
	pthread_once(&crc_once, crc_init);
	return crc32c_path_name(best_path);
}

/* crc32c through path, once the tables are built. */
static inline uint32_t path_run(enum crc32c_path path, const void *buf,
                                size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = ~0u;
	size_t n = 0;

#if defined(__x86_64__)
	if (path == CRC32C_CLMUL512 && len >= 256)
		n = crc32c_fold512(&crc, p, len);
	else if (path >= CRC32C_CLMUL128 && len >= 64)
		n = crc32c_fold128(&crc, p, len);
	if (n == len) /* a whole 4 KiB block ends here */
		return ~crc;
	if (path >= CRC32C_SSE42)
		return ~crc_hw_update(crc, p + n, len - n);
#endif
	(void)n;
	return ~crc_sw_update(crc, p, len);
}

uint32_t crc32c_path(enum crc32c_path path, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return path_run(path, buf, len);
}

uint32_t crc32c(const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return path_run(best_path, buf, len);
}

uint64_t checksum(enum csum_kind k, const void *buf, size_t len)
{
	switch (k) {
	case CSUM_CRC32C:
		return crc32c(buf, len);
	case CSUM_XXH3:
		return XXH3_64bits(buf, len);
	case CSUM_NONE:
		break;
	}
	return 0;
}
