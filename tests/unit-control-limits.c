/* unit-control-limits: the control socket under abuse (issue 8, findings 4
 * and 10): a connection cap with a clear refusal, a read timeout for
 * clients that send nothing, an accept() error (EMFILE) that the server
 * survives, a burst of concurrent clients all served, a shutdown that
 * wakes and waits for every connection (an idle one, an unread follower)
 * before freeing anything, and a client that gives up on a server that
 * never answers (but not in "events --follow"). Every wait is bounded by
 * the test itself, so a server that misbehaves fails a check instead of
 * hanging the test. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-raw.h"
#include "control.h"
#include "ctlclient.h"
#include "helpers.h"

#define BURST_CLIENTS 200
#define BURST_REQUESTS 20

static const char *sock;
static _Atomic int burst_failed;
static char burst_err[512];

static void *burst_client(void *arg)
{
	(void)arg;
	char err[512], *body;
	for (int i = 0; i < BURST_REQUESTS; i++) {
		if (ctl_request(sock, "counters", &body, NULL, err,
		                sizeof err)) {
			if (!atomic_fetch_add(&burst_failed, 1))
				snprintf(burst_err, sizeof burst_err, "%s",
				         err);
		} else {
			free(body);
		}
	}
	return NULL;
}

/* The highest descriptor in use. */
static int max_fd(void)
{
	int m = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			m = fd;
	return m;
}

/* A server that accepts and never answers, for the client's timeout. */
static int fake_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%.107s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    listen(fd, 4))
		return -1;
	return fd;
}

struct follow_req {
	const char *path;
	int r;
	volatile int done;
};

static void *follow_client(void *arg)
{
	struct follow_req *f = arg;
	char err[256];
	f->r = ctl_request(f->path, "events --follow", NULL, NULL, err,
	                   sizeof err);
	f->done = 1;
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/unit-control-limits.XXXXXX", path[128], fake[128];
	char err[512];
	struct profile p;
	plan(12);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(path, sizeof path, "%s/ctl", dir);
	snprintf(fake, sizeof fake, "%s/fake", dir);
	sock = path;
	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, sizeof err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	struct control *c = d ? control_start(path, d, err, sizeof err) : NULL;
	if (!c)
		skip_all("cannot serve a control socket: %s", err);

	/* The cap: CONTROL_MAX_CONNS clients that send nothing. */
	int idle[CONTROL_MAX_CONNS], nidle = 0;
	uint64_t t0 = now_ms();
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if ((idle[nidle] = raw_connect(path)) >= 0)
			nidle++;
	usleep(200000);
	char *rep = raw_request(path, "help", 4000);
	ok(nidle == CONTROL_MAX_CONNS && rep &&
	       strstr(rep, "error: too many control connections"),
	   "with %d connections open, one more is refused: %s", nidle,
	   rep ? strtok(rep, "\n") : "(no reply in 4 s)");
	free(rep);
	/* They are dropped when their command line does not come. */
	int dropped = 0;
	uint64_t deadline = t0 + (CONTROL_READ_TIMEOUT_S + 5) * 1000;
	for (int i = 0; i < nidle; i++) {
		uint64_t now = now_ms();
		char *e = raw_read_all(
		    idle[i], now < deadline ? (int)(deadline - now) : 1);
		dropped += e && !*e;
		free(e);
		close(idle[i]);
	}
	ok(dropped == nidle,
	   "clients that send no command are dropped (%d of %d, after %.1f "
	   "s; read timeout %d s)",
	   dropped, nidle, (now_ms() - t0) / 1e3, CONTROL_READ_TIMEOUT_S);
	rep = raw_request(path, "help", 5000);
	ok(raw_ok(rep), "then it serves again");
	free(rep);

	/* accept() fails with EMFILE: the server must outlive it. */
	struct rlimit old;
	getrlimit(RLIMIT_NOFILE, &old);
	int top = max_fd();
	struct rlimit low = {(rlim_t)top + 1, old.rlim_max};
	int fill[4096], nfill = 0, victim = -1, emfile = 0;
	if (!setrlimit(RLIMIT_NOFILE, &low)) {
		while (nfill < 4096 &&
		       (fill[nfill] = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0)
			nfill++;
		if (nfill)
			close(
			    fill[--nfill]); /* exactly one free: the client's */
		victim = raw_connect(path);
		emfile = victim >= 0 && socket(AF_UNIX, SOCK_STREAM, 0) < 0;
		usleep(300000); /* the server's accept() fails meanwhile */
		while (nfill)
			close(fill[--nfill]);
		setrlimit(RLIMIT_NOFILE, &old);
	}
	rep = raw_request(path, "help", 5000);
	ok(emfile && raw_ok(rep),
	   "after accept() failed with EMFILE the server still answers%s",
	   emfile ? "" : " (could not exhaust descriptors)");
	free(rep);
	if (victim >= 0)
		close(victim);

	/* A burst of concurrent clients: all served. */
	pthread_t th[BURST_CLIENTS];
	t0 = now_ms();
	for (int i = 0; i < BURST_CLIENTS; i++)
		pthread_create(&th[i], NULL, burst_client, NULL);
	for (int i = 0; i < BURST_CLIENTS; i++)
		pthread_join(th[i], NULL);
	ok(!burst_failed,
	   "%d concurrent clients x %d requests: %d failed in %.1f s%s%s",
	   BURST_CLIENTS, BURST_REQUESTS, (int)burst_failed,
	   (now_ms() - t0) / 1e3, burst_failed ? "; first: " : "", burst_err);

	/* Shutdown with an idle client, an unread follower and an unread
	 * dump in progress: stop wakes them all and waits for them. */
	for (int i = 0; i < 3000; i++)
		device_event(
		    d, "filler", OP_COUNT, 0, 0,
		    "\"pad\":\"........................................"
		    "........................................\"");
	int quiet = raw_connect(path);
	int follow = raw_send(path, "events --follow");
	int dump = raw_send(path, "events");
	usleep(300000);
	t0 = now_ms();
	control_stop(c);
	uint64_t stop_ms = now_ms() - t0;
	ok(quiet >= 0 && follow >= 0 && dump >= 0 && stop_ms < 3000,
	   "stop with busy connections returns in %.2f s", stop_ms / 1e3);
	char *f = raw_read_all(follow, 3000);
	ok(f != NULL, "the follower's stream ended");
	free(f);
	close(quiet);
	close(follow);
	close(dump);
	ok(access(path, F_OK) != 0, "the socket is gone");

	/* The client: a server that never answers. */
	int lfd = fake_listen(fake);
	ctl_set_timeout(500);
	t0 = now_ms();
	int r = ctl_request(fake, "stats", NULL, NULL, err, sizeof err);
	uint64_t took = now_ms() - t0;
	ok(lfd >= 0 && r == -1 && strstr(err, "no complete reply") &&
	       strstr(err, fake) && took >= 450 && took < 3000,
	   "a request to a server that never answers gives up after %.2f "
	   "s: %s",
	   took / 1e3, err);
	ok(ctl_timeout() == 500, "the limit set is the limit in force");
	struct follow_req fr = {fake, 0, 0};
	pthread_t ft;
	pthread_create(&ft, NULL, follow_client, &fr);
	usleep(1500000);
	ok(!fr.done, "\"events --follow\" is not timed out (still waiting "
	             "after 1.5 s with a 0.5 s limit)");
	/* End it: the server side closes every connection it has. */
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	for (int cfd; (cfd = accept4(lfd, NULL, NULL, 0)) >= 0;)
		close(cfd);
	close(lfd);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	int joined = !pthread_timedjoin_np(ft, NULL, &ts);
	ok(joined && fr.r == -1, "it ends when the server hangs up");
	if (!joined)
		_exit(1);
	unlink(fake);
	device_close(d);
	rmdir(dir);
	done_testing();
}
