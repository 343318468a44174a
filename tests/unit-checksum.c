/* unit-checksum - CRC32C against published vectors, the hardware path
 * against the table path, each carry-less multiply folding path against the
 * table path at every length and alignment that matters, XXH3 against
 * published vectors. TAP output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "checksum.h"
#include "crc32c_fold.h"
#include "helpers.h"

/* Both implementations must agree with the vector. */
static void crc_vector(const void *buf, size_t len, uint32_t want,
                       const char *what)
{
	uint32_t hw = crc32c(buf, len), sw = crc32c_sw(buf, len);

	ok(hw == want && sw == want, "crc32c(%s) == 0x%08x (got 0x%08x/0x%08x)",
	   what, want, hw, sw);
}

/* The path crc32c() should pick, from the CPU's flags as the test sees them,
 * and the one it says it uses. */
static void crc_dispatch(void)
{
	const char *want = "table";

#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2")) {
		want = "sse4.2";
		if (__builtin_cpu_supports("pclmul")) {
			want = "pclmulqdq";
			if (__builtin_cpu_supports("vpclmulqdq") &&
			    __builtin_cpu_supports("avx512f") &&
			    __builtin_cpu_supports("avx512vl"))
				want = "vpclmulqdq-avx512";
		}
	}
#endif
	ok(strcmp(crc32c_impl(), want) == 0,
	   "crc32c() uses the %s path (this CPU: %s)", crc32c_impl(), want);
	for (int p = 0; p < CRC32C_NPATHS; p++)
		diag("crc32c path %-18s %s", crc32c_path_name(p),
		     crc32c_path_available(p) ? "available"
		                              : "not on this CPU");
}

/* The constants' arithmetic: x^n mod P as a reflected register. x^32 mod P
 * is P without its x^32 term, i.e. the reflected polynomial itself. */
static void crc_xpow(void)
{
	ok(crc32c_xpow(0) == 0x80000000u && crc32c_xpow(31) == 1 &&
	       crc32c_xpow(32) == 0x82f63b78u,
	   "crc32c_xpow: x^0, x^31 and x^32 mod P");
}

/* crc32c through one path, or (path -1) crc32c() itself. */
static uint32_t crc_by(int path, const void *buf, size_t len)
{
	return path < 0 ? crc32c(buf, len)
	                : crc32c_path((enum crc32c_path)path, buf, len);
}

/* One path against crc32c_sw over buf + off for len bytes; counts. */
static void crc_cmp(int path, const unsigned char *buf, size_t off, size_t len,
                    int *checked, int *bad)
{
	uint32_t got = crc_by(path, buf + off, len),
	         want = crc32c_sw(buf + off, len);

	++*checked;
	if (got != want && ++*bad <= 3)
		diag("%s: offset %zu length %zu: 0x%08x, want 0x%08x",
		     path < 0 ? "crc32c()" : crc32c_path_name(path), off, len,
		     got, want);
}

/* Each folding path and crc32c() itself against the table: every length
 * 0..1024, 4 KiB and 4 KiB +-1..64, 64 KiB; every start offset 0..63 from
 * a 64-byte aligned buffer for lengths around the kernels' minimums (64,
 * 256), their round sizes and the 4 KiB block. */
static void crc_fold_paths(const unsigned char *buf)
{
	static const size_t lens[] = {
	    15,  16,  63,   64,   65,   127,  128,  255,  256,  257,  319, 320,
	    511, 512, 1000, 4080, 4095, 4096, 4097, 4111, 4112, 4159, 8192};
	static const int paths[] = {CRC32C_CLMUL128, CRC32C_CLMUL512, -1};

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		int path = paths[i], checked = 0, bad = 0;
		const char *name =
		    path < 0 ? "crc32c()" : crc32c_path_name(path);

		if (path >= 0 && !crc32c_path_available(path)) {
			skip("not on this CPU", "%s: lengths 0..1024", name);
			skip("not on this CPU", "%s: 4096+-64, 65536", name);
			skip("not on this CPU", "%s: offsets 0..63", name);
			continue;
		}
		for (size_t len = 0; len <= 1024; len++)
			crc_cmp(path, buf, 0, len, &checked, &bad);
		ok(bad == 0,
		   "%s == crc32c_sw for every length 0..1024 (%d of %d differ)",
		   name, bad, checked);
		checked = bad = 0;
		crc_cmp(path, buf, 0, 4096, &checked, &bad);
		for (size_t d = 1; d <= 64; d++) {
			crc_cmp(path, buf, 0, 4096 - d, &checked, &bad);
			crc_cmp(path, buf, 0, 4096 + d, &checked, &bad);
		}
		crc_cmp(path, buf, 0, 65536, &checked, &bad);
		ok(bad == 0,
		   "%s == crc32c_sw for 4096, 4096+-1..64, 65536 (%d of %d "
		   "differ)",
		   name, bad, checked);
		checked = bad = 0;
		for (size_t off = 0; off < 64; off++)
			for (size_t l = 0; l < sizeof lens / sizeof lens[0];
			     l++)
				crc_cmp(path, buf, off, lens[l], &checked,
				        &bad);
		ok(bad == 0,
		   "%s == crc32c_sw at every offset 0..63 for %zu lengths (%d "
		   "of %d differ)",
		   name, sizeof lens / sizeof lens[0], bad, checked);
	}
}

/* The xorshift buffer of LLVM's xxhash unit test, with its XXH3 vectors. */
static void xxh3_vectors(void)
{
	static const struct {
		size_t len;
		uint64_t want;
	} v[] = {
	    {0, 0x2d06800538d394c2ull},    {1, 0xd0d496e05c553485ull},
	    {3, 0x6ea2d59aca5c3778ull},    {8, 0xabc1413da6cd0209ull},
	    {17, 0xed4be912ba5f836dull},   {129, 0xbc7138129bf065daull},
	    {403, 0xcefeb3ffa532ad8cull},  {2048, 0x330ce110cbb79eaeull},
	    {2243, 0x0979f786a24edde7ull},
	};
	unsigned char a[2243];
	uint64_t x = 1;

	for (size_t i = 0; i < sizeof a; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a[i] = (unsigned char)x;
	}
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint64_t got = checksum(CSUM_XXH3, a, v[i].len);
		ok(got == v[i].want, "xxh3 of %zu xorshift bytes == 0x%016llx",
		   v[i].len, (unsigned long long)v[i].want);
	}
}

int main(void)
{
	unsigned char buf[32], *big;
	const size_t bigsz = 3 * 16384 + 64;
	int mismatches = 0, checked = 0;
	uint64_t seed = 0x1234567;

	crc_vector("123456789", 9, 0xe3069283, "\"123456789\"");
	memset(buf, 0, sizeof buf);
	crc_vector(buf, 32, 0x8a9136aa, "32 zero bytes");
	memset(buf, 0xff, sizeof buf);
	crc_vector(buf, 32, 0x62a8ab43, "32 0xff bytes");
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	crc_vector(buf, 32, 0x46dd794e, "bytes 0..31");
	crc_vector("", 0, 0, "empty");

	ok(checksum(CSUM_CRC32C, "123456789", 9) == 0xe3069283,
	   "checksum(CSUM_CRC32C) is crc32c");

	/* Random buffers at every alignment, lengths around the lane
	 * boundaries (3 * 128, 3 * 1360) and the 4 KiB block. */
	big = malloc(bigsz);
	if (!big)
		return 1;
	for (size_t i = 0; i < bigsz; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		big[i] = (unsigned char)(seed >> 56);
	}
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; len < 9000; len += off < 2 ? 1 : 37) {
			checked++;
			if (crc32c(big + off, len) != crc32c_sw(big + off, len))
				mismatches++;
		}
		for (size_t len = 4090; len <= 4100; len++) {
			checked++;
			if (crc32c(big + off, len) != crc32c_sw(big + off, len))
				mismatches++;
		}
	}
	checked++;
	if (crc32c(big, bigsz) != crc32c_sw(big, bigsz))
		mismatches++;
	if (crc32c_hw_available())
		ok(mismatches == 0,
		   "hw == sw on %d random buffers (%d mismatches)", checked,
		   mismatches);
	else
		ok(1, "# SKIP no SSE4.2; crc32c is crc32c_sw (%d mismatches)",
		   mismatches);
	free(big);

	crc_dispatch();
	crc_xpow();
	{
		const size_t fsz = 65536 + 128;
		unsigned char *fb = aligned_alloc(64, fsz);
		if (!fb)
			return 1;
		for (size_t i = 0; i < fsz; i++) {
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			fb[i] = (unsigned char)(seed >> 56);
		}
		crc_fold_paths(fb);
		free(fb);
	}

	xxh3_vectors();
	ok(checksum(CSUM_XXH3, "123456789", 9) == XXH3_64bits("123456789", 9),
	   "checksum(CSUM_XXH3) is XXH3_64bits");
	ok(checksum(CSUM_NONE, "123456789", 9) == 0, "CSUM_NONE gives 0");

	done_testing();
}
