/* store-io.c - the file store alone, without a front end: THREADS threads
 * doing 4 KiB random writes, then random reads, through store_write and
 * store_read for SECONDS each, on a file store at PATH, for each I/O path
 * named (SWAPEMU_STORE_IO values). Prints one line per path and workload:
 *
 *   PATH WORKLOAD THREADS IOPS IO_WQ_WORKERS CACHED_MIB
 *
 * IO_WQ_WORKERS counts this process's io_uring worker threads (iou-wrk-*)
 * after the workload: requests io_uring could not issue without blocking
 * were handed to them. CACHED_MIB is how much of the file sits in the page
 * cache afterwards (mincore): what the store costs in memory. A benchmark, not
 * a test. Usage: store-io [-t THREADS] [-s SECONDS] [-m MIB] PATH IO... The
 * file is created (sparse) and filled once per path, then removed. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "store.h"

#define BLK 4096u

static struct store *st;
static uint64_t nblocks;
static atomic_int stop;
static int writing;

static void *worker(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1, n = 0;
	static __thread char buf[BLK];
	memset(buf, (int)(uintptr_t)arg, BLK);
	while (!atomic_load(&stop)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t blk = x % nblocks;
		int r = writing ? store_write(st, blk, buf)
		                : store_read(st, blk, buf);
		if (r) {
			fprintf(stderr, "store-io: block %llu: %s\n",
			        (unsigned long long)blk, strerror(-r));
			exit(1);
		}
		n++;
	}
	return (void *)(uintptr_t)n;
}

static int io_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	char p[300], comm[64];
	while (d && (e = readdir(d))) {
		snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(p, "r");
		if (f && fgets(comm, sizeof comm, f) &&
		    !strncmp(comm, "iou-wrk", 7))
			n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* MiB of the file in the page cache. */
static double cached_mib(const char *path, uint64_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m = fd < 0 ? MAP_FAILED
	                 : mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(size / BLK);
	uint64_t n = 0;
	if (m != MAP_FAILED && vec && !mincore(m, size, vec))
		for (uint64_t i = 0; i < size / BLK; i++)
			n += vec[i] & 1;
	if (m != MAP_FAILED)
		munmap(m, size);
	if (fd >= 0)
		close(fd);
	free(vec);
	return (double)n * BLK / (1 << 20);
}

static double run(int threads, double secs)
{
	pthread_t t[256];
	atomic_store(&stop, 0);
	uint64_t t0 = now_ns(), total = 0;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		void *n;
		pthread_join(t[i], &n);
		total += (uintptr_t)n;
	}
	return (double)total / ((double)(now_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	int threads = 8, opt;
	double secs = 3;
	uint64_t mib = 128;
	while ((opt = getopt(argc, argv, "t:s:m:h")) != -1) {
		switch (opt) {
		case 't':
			threads = atoi(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'm':
			mib = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			        "usage: store-io [-t THREADS] [-s SECONDS] "
			        "[-m MIB] PATH IO...\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind + 2 > argc || threads < 1 || threads > 256) {
		fprintf(stderr, "usage: store-io [-t THREADS] [-s SECONDS] "
		                "[-m MIB] PATH IO... (1 to 256 threads)\n");
		return 2;
	}
	const char *path = argv[optind];
	for (int a = optind + 1; a < argc; a++) {
		struct profile p;
		char err[512];
		profile_defaults(&p);
		p.size = mib << 20;
		p.store = STORE_FILE;
		snprintf(p.store_path, sizeof p.store_path, "%s", path);
		setenv("SWAPEMU_STORE_IO", argv[a], 1);
		unlink(path);
		if (profile_finish(&p, err, sizeof err) ||
		    !(st = store_open(&p, err, sizeof err))) {
			fprintf(stderr, "store-io: %s\n", err);
			return 1;
		}
		nblocks = p.size / BLK;
		static char fillbuf[BLK];
		for (uint64_t b = 0; b < nblocks; b++)
			if (store_write(st, b, fillbuf)) {
				fprintf(stderr, "store-io: cannot fill %s\n",
				        path);
				return 1;
			}
		store_sync(st);
		writing = 1;
		double w = run(threads, secs);
		printf("%s randwrite %d %.0f %d %.0f\n", store_kind(st),
		       threads, w, io_workers(), cached_mib(path, p.size));
		writing = 0;
		double r = run(threads, secs);
		printf("%s randread %d %.0f %d %.0f\n", store_kind(st), threads,
		       r, io_workers(), cached_mib(path, p.size));
		fflush(stdout);
		store_close(st);
		unlink(path);
	}
	return 0;
}
