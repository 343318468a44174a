/* unit-control-stall: nothing a control client or the event log's file
 * does may hold up a request (issue 8, finding 2). A target's event log is
 * filled, then clients ask for "events" and "events --follow" and never
 * read the reply: writes that each log an event must still complete at
 * once. An event log file nobody drains (a FIFO nobody reads: a disk that
 * never finishes) must not hold them up either. Before the fix both
 * stalled every write for good; each phase runs in a thread with a
 * deadline so that a stall is a failure, not a hang. Also checks that a
 * client that does not read is dropped after the server's write timeout
 * (see control.h), so it cannot pin a connection for ever. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control-raw.h"
#include "control.h"
#include "device.h"
#include "eventlog.h"
#include "helpers.h"
#include "clock.h"

#define WRITES 2000

struct run {
	struct device *d;
	unsigned n;
	uint64_t lat_ns[WRITES * 3];
	volatile int done;
};

/* Writes r->n blocks, each firing the rule (so each logs an event). */
static void *writer(void *arg)
{
	struct run *r = arg;
	static char buf[4096];
	for (unsigned i = 0; i < r->n; i++) {
		uint64_t t0 = now_ns();
		device_write(r->d, buf, sizeof buf, (uint64_t)(i % 256) * 4096,
		             NULL);
		r->lat_ns[i] = now_ns() - t0;
	}
	r->done = 1;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Runs n writes in a thread; 0 if they finished within limit_s, with the
 * p99 and the maximum latency in us. The thread is left behind if not. */
static int timed_writes(struct run *r, unsigned n, int limit_s, double *p99,
                        double *max)
{
	pthread_t t;
	r->n = n;
	r->done = 0;
	pthread_create(&t, NULL, writer, r);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += limit_s;
	if (pthread_timedjoin_np(t, NULL, &ts)) {
		pthread_detach(t);
		*p99 = *max = 0;
		return -1;
	}
	qsort(r->lat_ns, n, sizeof r->lat_ns[0], cmp_u64);
	*p99 = r->lat_ns[n * 99 / 100] / 1e3;
	*max = r->lat_ns[n - 1] / 1e3;
	return 0;
}

static struct device *open_device(const char *events, char *err, size_t errlen)
{
	struct profile p;
	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, errlen);
	struct device *d = device_open(&p, NULL, events, err, errlen);
	struct rule_spec r;
	/* A long name makes long events: the ring fills the socket. */
	rule_spec_init(&r, "every-write-fires-with-a-long-name-0123456789");
	if (!d || rule_spec_set(&r, "op", "write", err, errlen) ||
	    rule_spec_set(&r, "action", "delay:1us", err, errlen) ||
	    device_add_rule(d, &r, err, errlen))
		return NULL;
	return d;
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	size_t *lines = calloc(1, sizeof *lines);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
		for (ssize_t i = 0; i < n; i++)
			*lines += buf[i] == '\n';
	return lines;
}

int main(void)
{
	char dir[] = "/tmp/unit-control-stall.XXXXXX", sock[128], fifo[128];
	char err[512];
	static struct run r, r2;
	double p99, max;
	int stuck = 0;
	plan(7);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(sock, sizeof sock, "%s/ctl", dir);
	snprintf(fifo, sizeof fifo, "%s/events", dir);

	/* A control client that never reads. */
	struct device *d = open_device(NULL, err, sizeof err);
	struct control *c = d ? control_start(sock, d, err, sizeof err) : NULL;
	if (!c)
		skip_all("cannot set up a device and control socket: %s", err);
	r.d = d;
	ok(timed_writes(&r, EVENTLOG_KEEP, 20, &p99, &max) == 0,
	   "fill the event log: %d writes, p99 %.1f us, max %.1f us",
	   EVENTLOG_KEEP, p99, max);
	int dump = raw_send(sock, "events");
	int follow = raw_send(sock, "events --follow");
	uint64_t t0 = now_ms();
	usleep(500000); /* both replies now wait on full socket buffers */
	int stalled = timed_writes(&r, WRITES, 10, &p99, &max);
	ok(dump >= 0 && follow >= 0 && !stalled && max < 1e6,
	   "with \"events\" and \"events --follow\" unread, %d writes "
	   "complete: %s p99 %.1f us, max %.1f us",
	   WRITES, stalled ? "NO (stalled over 10 s)," : "", p99, max);
	if (stalled) { /* stuck for good: leave this device be */
		for (int i = 0; i < 3; i++)
			ok(0, "(not run: the writes are stuck)");
		stuck = 1;
		goto file;
	}
	/* The server gives up on them after its write timeout: after it,
	 * the dump ends unfinished and the follower's stream ends. */
	uint64_t left = (CONTROL_WRITE_TIMEOUT_S + 2) * 1000 - (now_ms() - t0);
	if (left < 60000)
		usleep((useconds_t)left * 1000);
	char *a = raw_read_all(dump, 5000);
	char *b = raw_read_all(follow, 5000);
	ok(a && b && !raw_ok(a),
	   "clients that do not read are dropped within %.1f s (write "
	   "timeout %d s): \"events\" %s, \"events --follow\" %s",
	   (now_ms() - t0) / 1e3, CONTROL_WRITE_TIMEOUT_S,
	   !a          ? "still open"
	   : raw_ok(a) ? "finished"
	               : "cut",
	   b ? "ended" : "still open");
	ok(a && !strncmp(a, "{\"time\":", 8),
	   "what the server sent is the event log");
	free(a);
	free(b);
	close(dump);
	close(follow);
	char *rep = raw_request(sock, "counters", 5000);
	ok(raw_ok(rep), "the control socket still answers");
	free(rep);
	control_stop(c);
	device_close(d);

file:
	/* An event log file that takes nothing: a FIFO nobody reads. */
	if (mkfifo(fifo, 0600))
		skip_all("cannot make a FIFO");
	int rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	d = open_device(fifo, err, sizeof err);
	if (rd < 0 || !d)
		skip_all("cannot set up a device logging to a FIFO: %s", err);
	r2.d = d;
	stalled = timed_writes(&r2, WRITES, 10, &p99, &max);
	ok(!stalled && max < 1e6,
	   "with the event log file blocked, %d writes complete: %s p99 "
	   "%.1f us, max %.1f us",
	   WRITES, stalled ? "NO (stalled over 10 s)," : "", p99, max);
	if (stalled) {
		ok(0, "(not run: the writes are stuck)");
		_exit(1); /* stuck threads: nothing can be tidied */
	}
	/* Once the file takes data again, it gets every event. */
	pthread_t t;
	pthread_create(&t, NULL, drain, &rd);
	device_close(d);
	size_t *lines;
	pthread_join(t, (void **)&lines);
	ok(*lines == WRITES + 1,
	   "the file got all %d events once drained "
	   "(%zu lines)",
	   WRITES + 1, *lines);
	free(lines);
	close(rd);
	unlink(fifo);
	rmdir(dir);
	if (stuck)
		_exit(1);
	done_testing();
}
