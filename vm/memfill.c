/*
 * memfill - a small program for 'swapemu vm --run' (tests/vm-run.t): fills
 * more anonymous memory than the guest has, each page with a pattern of
 * its own, reads it all back, and says how many pages were wrong and how
 * many pages the kernel swapped out and in meanwhile (/proc/vmstat).
 *
 *   memfill MIB [SEED]
 *
 * Exit status: 0 when every page came back intact and the kernel swapped,
 * 1 when a page was wrong or nothing was swapped, 2 on a usage error.
 * Built statically (gcc -static) so that it runs in the guest's initramfs.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t vmstat(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char name[64];
	unsigned long long v;
	uint64_t found = 0;

	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", name, &v) == 2)
		if (strcmp(name, key) == 0)
			found = v;
	fclose(f);
	return found;
}

/* Every 8-byte word of page i holds a value of its own. */
static uint64_t word(uint64_t seed, size_t page, size_t w)
{
	uint64_t x =
	    seed ^ (page * 0x9e3779b97f4a7c15ULL) ^ (w * 0xbf58476d1ce4e5b9ULL);

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 29);
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib;
	uint64_t seed = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: memfill MIB [SEED]\n");
		return 2;
	}
	mib = strtoul(argv[1], &end, 10);
	if (*end || mib == 0 || mib > (1UL << 20)) {
		fprintf(stderr,
		        "memfill: MIB '%s' is not a size from 1 to 1048576\n",
		        argv[1]);
		return 2;
	}
	if (argc == 3)
		seed = strtoull(argv[2], NULL, 0);

	size_t pagesz = (size_t)sysconf(_SC_PAGESIZE), words = pagesz / 8;
	size_t pages = (mib << 20) / pagesz;
	uint64_t *mem =
	    mmap(NULL, pages * pagesz, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memfill: mmap");
		return 1;
	}
	uint64_t out0 = vmstat("pswpout"), in0 = vmstat("pswpin");

	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			mem[p * words + w] = word(seed, p, w);
	size_t bad = 0, first_bad = 0;
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < words; w++)
			if (mem[p * words + w] != word(seed, p, w)) {
				if (!bad++)
					first_bad = p;
				break;
			}
	uint64_t out = vmstat("pswpout") - out0, in = vmstat("pswpin") - in0;

	printf("memfill: %zu pages (%lu MiB) written and read back: %zu wrong",
	       pages, mib, bad);
	if (bad)
		printf(" (first: page %zu)", first_bad);
	printf("; pswpout %" PRIu64 ", pswpin %" PRIu64 "\n", out, in);
	if (bad)
		return 1;
	if (out == 0 || in == 0) {
		printf("memfill: the kernel did not swap (is there swap, and "
		       "is %lu MiB more than the "
		       "memory?)\n",
		       mib);
		return 1;
	}
	printf("memfill: verified\n");
	return 0;
}
