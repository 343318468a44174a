/* swap-bench.c - swap-out and swap-in throughput of whatever swap is
 * active, by real reclaim: the process joins a fresh memory cgroup (v1
 * memory controller or v2), fills MIB of anonymous memory, then lowers the
 * cgroup's limit to 16 MiB (the kernel reclaims, i.e. swaps out, before the
 * write returns), lifts it again and reads everything back (each page
 * faults in from swap), checking the contents. Prints "out MB/s in MB/s".
 * Used by bench/swap-bench.sh; a benchmark, not a test.
 *
 * usage: swap-bench CGROUP_DIR MIB
 *   CGROUP_DIR: a new directory under the memory controller's mount
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int put(const char *dir, const char *file, const char *val)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atol(argv[2]) < 32) {
		fprintf(stderr,
		        "usage: swap-bench CGROUP_DIR MIB (MIB >= 32)\n");
		return 2;
	}
	const char *cg = argv[1];
	size_t len = (size_t)atol(argv[2]) << 20;
	/* v1 names, then v2 names. */
	char probe[4096];
	snprintf(probe, sizeof probe, "%s/memory.limit_in_bytes", cg);
	int v2 = access(probe, F_OK) != 0;
	const char *limit = v2 ? "memory.max" : "memory.limit_in_bytes";
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if (put(cg, "cgroup.procs", pid)) {
		fprintf(stderr, "swap-bench: cannot join %s: %s\n", cg,
		        strerror(errno));
		return 1;
	}
	uint64_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
	                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("swap-bench: mmap");
		return 1;
	}
	madvise(mem, len, MADV_NOHUGEPAGE); /* 4 KiB swap-outs, as usual */
	size_t words = len / 8;
	for (size_t i = 0; i < words; i += 512)
		for (size_t k = 0; k < 512; k++)
			mem[i + k] = (i * 2654435761u) ^ k;
	double t0 = now_s();
	if (put(cg, limit, "16777216")) {
		fprintf(stderr, "swap-bench: cannot lower %s/%s: %s\n", cg,
		        limit, strerror(errno));
		return 1;
	}
	double out = now_s() - t0;
	put(cg, limit, v2 ? "max" : "-1");
	t0 = now_s();
	size_t bad = 0;
	for (size_t i = 0; i < words; i += 512)
		for (size_t k = 0; k < 512; k++)
			bad += mem[i + k] != ((i * 2654435761u) ^ k);
	double in = now_s() - t0;
	if (bad) {
		fprintf(stderr, "swap-bench: %zu words came back wrong\n", bad);
		return 1;
	}
	printf("%.1f %.1f\n", (double)(len - (16 << 20)) / 1e6 / out,
	       (double)(len - (16 << 20)) / 1e6 / in);
	return 0;
}
