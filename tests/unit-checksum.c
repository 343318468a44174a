/* unit-checksum - CRC32C against published vectors, the hardware path
 * against the table path, XXH3 against published vectors. TAP output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "checksum.h"
#include "helpers.h"

/* Both implementations must agree with the vector. */
static void crc_vector(const void *buf, size_t len, uint32_t want,
                       const char *what)
{
	uint32_t hw = crc32c(buf, len), sw = crc32c_sw(buf, len);

	ok(hw == want && sw == want, "crc32c(%s) == 0x%08x (got 0x%08x/0x%08x)",
	   what, want, hw, sw);
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

	xxh3_vectors();
	ok(checksum(CSUM_XXH3, "123456789", 9) == XXH3_64bits("123456789", 9),
	   "checksum(CSUM_XXH3) is XXH3_64bits");
	ok(checksum(CSUM_NONE, "123456789", 9) == 0, "CSUM_NONE gives 0");

	done_testing();
}
