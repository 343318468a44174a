/* nbd-bench.c - a small NBD load generator for bench/nbd-bench.sh: starts
 * the server given after "--" with libnbd's nbd_connect_command (so the
 * server is "nbdkit -s ..."), fills the export once, then runs sequential
 * and random writes and reads of one block size with a fixed number of
 * requests in flight, each for a fixed time, and prints one line per
 * workload:
 *
 *   WORKLOAD SERVER OPS SECONDS IOPS MIBS SERVER_CPU_US_PER_REQUEST
 *
 * (SERVER is 0 or 1; the server's CPU time per request comes from
 * /proc/PID/task/TID/schedstat, 0 if unknown.) Usage:
 *   nbd-bench [-b BYTES] [-q DEPTH] [-t SECONDS] [-s SLICE] [-w WORKLOADS]
 *             -- nbdkit -s --exit-with-parent PLUGIN ARGS...
 *             [:: nbdkit -s --exit-with-parent PLUGIN ARGS...]
 * With two servers each workload alternates between them in SLICE-second
 * slices (default 0.25) until each has had SECONDS (default 3), so that
 * noise from the rest of the machine hits both alike. WORKLOADS is a comma
 * list of seq-write, rand-write, seq-read, rand-read (default: all four,
 * in that order).
 *
 * A benchmark, not a test: it checks only that no request failed.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#define MAX_DEPTH 256

static uint64_t failures;

static int on_complete(void *user_data, int *error)
{
	(void)user_data;
	if (*error)
		failures++;
	return 1; /* retire the command */
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

struct load {
	struct nbd_handle *h;
	uint64_t size, bs;
	unsigned depth;
	char *bufs[MAX_DEPTH];
	int pid; /* the server (a child of ours), 0 if unknown */
};

/* The newest child of this process not in known[0..n): the server that
 * nbd_connect_command just started. */
static int newest_child(const int *known, int n)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/task/%d/children", getpid());
	FILE *f = fopen(path, "r");
	size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[len] = 0;
	int found = 0;
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n")) {
		int pid = atoi(p), seen = 0;
		for (int i = 0; i < n; i++)
			seen |= known[i] == pid;
		if (!seen)
			found = pid;
	}
	return found;
}

/* CPU time the process's live threads have used, seconds (the first
 * field of /proc/PID/task/TID/schedstat, in ns); 0 if unknown. nbdkit's
 * worker threads live as long as the connection. */
static double cpu_seconds(int pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *dir = pid ? opendir(path) : NULL;
	unsigned long long total = 0;
	for (struct dirent *e; dir && (e = readdir(dir));) {
		if (e->d_name[0] == '.')
			continue;
		char file[320];
		snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", pid,
		         e->d_name);
		FILE *f = fopen(file, "r");
		unsigned long long ns;
		if (f && fscanf(f, "%llu", &ns) == 1)
			total += ns;
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return (double)total / 1e9;
}

/* Runs one workload for secs seconds (or, with secs 0, exactly one pass
 * over the export), continuing from where the last slice of the same
 * workload left off; returns the number of requests completed. */
static int64_t run(struct load *l, int write, int random, double secs,
                   uint64_t *pos, double *elapsed)
{
	uint64_t nblocks = l->size / l->bs;
	uint64_t submitted = 0, limit = secs > 0 ? UINT64_MAX : nblocks;
	unsigned slot = 0;
	double start = now_s(), deadline = start + secs;
	failures = 0;
	for (;;) {
		int stop =
		    submitted >= limit ||
		    (secs > 0 && (submitted & 15) == 0 && now_s() >= deadline);
		while (!stop && nbd_aio_in_flight(l->h) < (int)l->depth &&
		       submitted < limit) {
			uint64_t blk = random ? xorshift(pos) % nblocks
			                      : (*pos)++ % nblocks;
			char *buf = l->bufs[slot++ % l->depth];
			nbd_completion_callback cb = {.callback = on_complete};
			int64_t c = write ? nbd_aio_pwrite(l->h, buf, l->bs,
			                                   blk * l->bs, cb, 0)
			                  : nbd_aio_pread(l->h, buf, l->bs,
			                                  blk * l->bs, cb, 0);
			if (c == -1) {
				fprintf(stderr, "nbd-bench: %s\n",
				        nbd_get_error());
				return -1;
			}
			submitted++;
		}
		if (stop && nbd_aio_in_flight(l->h) == 0)
			break;
		if (nbd_poll(l->h, -1) == -1) {
			fprintf(stderr, "nbd-bench: %s\n", nbd_get_error());
			return -1;
		}
	}
	*elapsed = now_s() - start;
	if (failures) {
		fprintf(stderr, "nbd-bench: %" PRIu64 " requests failed\n",
		        failures);
		return -1;
	}
	return (int64_t)submitted;
}

/* Connects to one server; argv is NULL-terminated. */
static int connect_server(struct load *l, char **argv)
{
	l->h = nbd_create();
	if (!l->h || nbd_connect_command(l->h, argv) == -1) {
		fprintf(stderr, "nbd-bench: cannot start %s: %s\n", argv[0],
		        nbd_get_error());
		return -1;
	}
	int64_t size = nbd_get_size(l->h);
	if (size < (int64_t)l->bs) {
		fprintf(stderr, "nbd-bench: %s: export too small\n", argv[0]);
		return -1;
	}
	l->size = (uint64_t)size;
	for (unsigned i = 0; i < l->depth; i++) {
		l->bufs[i] = aligned_alloc(4096, (l->bs + 4095) / 4096 * 4096);
		if (!l->bufs[i]) {
			fprintf(stderr, "nbd-bench: out of memory\n");
			return -1;
		}
		uint64_t s = i + 1;
		for (uint64_t k = 0; k + 8 <= l->bs; k += 8) {
			uint64_t x = xorshift(&s);
			memcpy(l->bufs[i] + k, &x, 8);
		}
	}
	/* Fill the export once so that no server allocates during the
	 * timed runs. */
	uint64_t pos = 0;
	double t;
	return run(l, 1, 0, 0, &pos, &t) < 0 ? -1 : 0;
}

static void disconnect_server(struct load *l)
{
	if (l->h) {
		nbd_shutdown(l->h, 0);
		nbd_close(l->h);
	}
	for (unsigned i = 0; i < l->depth; i++)
		free(l->bufs[i]);
}

int main(int argc, char **argv)
{
	unsigned depth = 8;
	uint64_t bs = 4096;
	double secs = 3, slice = 0.25;
	char workloads[256] = "seq-write,rand-write,seq-read,rand-read";
	int c;
	while ((c = getopt(argc, argv, "b:q:t:s:w:")) != -1) {
		switch (c) {
		case 'b':
			bs = strtoull(optarg, NULL, 0);
			break;
		case 'q':
			depth = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 's':
			slice = atof(optarg);
			break;
		case 'w':
			snprintf(workloads, sizeof workloads, "%s", optarg);
			break;
		default:
			return 2;
		}
	}
	/* Up to two servers, their commands separated by "::". */
	char **cmd[2] = {NULL, NULL};
	int nservers = 0;
	if (optind < argc) {
		cmd[nservers++] = argv + optind;
		for (int i = optind; i < argc; i++) {
			if (!strcmp(argv[i], "::")) {
				argv[i] = NULL;
				if (i + 1 < argc && nservers < 2)
					cmd[nservers++] = argv + i + 1;
			}
		}
	}
	if (!nservers || !cmd[0][0] || (nservers == 2 && !cmd[1][0]) || !bs ||
	    bs > (32u << 20) || !depth || depth > MAX_DEPTH || secs <= 0 ||
	    slice <= 0) {
		fprintf(stderr,
		        "usage: nbd-bench [-b BYTES] [-q DEPTH 1-256] "
		        "[-t SECONDS] [-s SLICE] [-w WORKLOADS] -- SERVER "
		        "ARGS... [:: SERVER ARGS...]\n");
		return 2;
	}
	struct load l[2] = {{.bs = bs, .depth = depth},
	                    {.bs = bs, .depth = depth}};
	int rc = 0;
	int pids[2] = {0, 0};
	for (int s = 0; s < nservers && !rc; s++) {
		if (connect_server(&l[s], cmd[s]))
			rc = 1;
		pids[s] = l[s].pid = newest_child(pids, s);
	}
	/* Each workload runs on the servers in alternating slices, so that
	 * whatever else the machine does hits both alike. */
	for (char *w = strtok(workloads, ","); w && !rc;
	     w = strtok(NULL, ",")) {
		int write = !strcmp(w, "seq-write") || !strcmp(w, "rand-write");
		int random =
		    !strcmp(w, "rand-write") || !strcmp(w, "rand-read");
		if (!write && strcmp(w, "seq-read") && strcmp(w, "rand-read")) {
			fprintf(stderr, "nbd-bench: unknown workload '%s'\n",
			        w);
			rc = 2;
			break;
		}
		int64_t ops[2] = {0, 0};
		double time[2] = {0, 0}, cpu[2] = {0, 0};
		uint64_t pos[2] = {random ? 0x9e3779b97f4a7c15 : 0,
		                   random ? 0x9e3779b97f4a7c15 : 0};
		for (double done = 0; done < secs && !rc; done += slice) {
			for (int s = 0; s < nservers; s++) {
				double t, c0 = cpu_seconds(l[s].pid);
				int64_t n = run(&l[s], write, random, slice,
				                &pos[s], &t);
				cpu[s] += cpu_seconds(l[s].pid) - c0;
				if (n < 0) {
					rc = 1;
					break;
				}
				ops[s] += n;
				time[s] += t;
			}
		}
		for (int s = 0; s < nservers && !rc; s++)
			printf("%s %d %" PRId64 " %.3f %.0f %.1f %.2f\n", w, s,
			       ops[s], time[s], (double)ops[s] / time[s],
			       (double)ops[s] * (double)bs / time[s] /
			           1048576.0,
			       cpu[s] * 1e6 / (double)ops[s]);
		fflush(stdout);
	}
	for (int s = 0; s < nservers; s++)
		disconnect_server(&l[s]);
	return rc;
}
