/* unit-control-rules: concurrent rule edits over the control socket lose
 * nothing (issue 8, finding 5). Rounds of N clients at once each add a
 * rule, then each remove one, then half remove old rules while half add
 * new ones, with writes going through the rules meanwhile; every request
 * must answer "ok" and the rules left must be exactly the expected ones.
 * Before the fix, edits copied the rule set, released the lock, and
 * swapped their copy in: concurrent edits overwrote each other. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctlclient.h"
#include "helpers.h"

#define N 40
#define ROUNDS 5

static const char *sock;
static _Atomic int failed, stop_io;
static char first_err[1024];

struct job {
	char cmd[128];
};

static void *client(void *arg)
{
	struct job *j = arg;
	char err[512];
	if (ctl_request(sock, j->cmd, NULL, NULL, err, sizeof err) &&
	    !atomic_fetch_add(&failed, 1))
		snprintf(first_err, sizeof first_err, "%s: %s", j->cmd, err);
	return NULL;
}

static void *io(void *arg)
{
	struct device *d = arg;
	static char buf[4096];
	while (!stop_io)
		device_write(d, buf, sizeof buf, 0, NULL);
	return NULL;
}

/* Runs n commands at once; the number that failed. */
static int run(struct job *jobs, int n)
{
	pthread_t t[2 * N];
	failed = 0;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, client, &jobs[i]);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return failed;
}

/* How many rules are listed, and how many of them start with prefix. */
static int count_rules(const char *prefix, int *with_prefix)
{
	char err[512], *body;
	int n = 0;
	*with_prefix = 0;
	if (ctl_request(sock, "rules", &body, NULL, err, sizeof err))
		return -1;
	for (char *l = body; *l; l = strchr(l, '\n') + 1) {
		n++;
		*with_prefix += !strncmp(l, prefix, strlen(prefix));
		if (!strchr(l, '\n'))
			break;
	}
	free(body);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/unit-control-rules.XXXXXX", path[128], err[512];
	struct profile p;
	static struct job jobs[2 * N];
	plan(3 * ROUNDS);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(path, sizeof path, "%s/ctl", dir);
	sock = path;
	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, sizeof err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	struct control *c = d ? control_start(path, d, err, sizeof err) : NULL;
	if (!c)
		skip_all("cannot serve a control socket: %s", err);
	pthread_t iot;
	pthread_create(&iot, NULL, io, d);
	for (int round = 0; round < ROUNDS; round++) {
		int bad, total, pre;
		for (int i = 0; i < N; i++)
			snprintf(jobs[i].cmd, sizeof jobs[i].cmd,
			         "add a%d op=write action=delay:1us", i);
		bad = run(jobs, N);
		total = count_rules("a", &pre);
		ok(!bad && total == N && pre == N,
		   "round %d: %d concurrent adds: %d failed, %d rules (%d "
		   "expected)%s%s",
		   round + 1, N, bad, total, N, bad ? "; " : "", first_err);
		/* Half remove old rules while half add new ones. */
		for (int i = 0; i < N; i++)
			snprintf(jobs[i].cmd, sizeof jobs[i].cmd,
			         i % 2 ? "remove a%d"
			               : "add b%d op=read action=delay:1us",
			         i);
		bad = run(jobs, N);
		int b;
		total = count_rules("a", &pre);
		count_rules("b", &b);
		ok(!bad && pre == N / 2 && b == N / 2 && total == N,
		   "round %d: %d removes and %d adds at once: %d failed, "
		   "%d a-rules and %d b-rules left (%d of each expected)",
		   round + 1, N / 2, N / 2, bad, pre, b, N / 2);
		for (int i = 0; i < N; i++)
			snprintf(jobs[i].cmd, sizeof jobs[i].cmd,
			         i % 2 ? "remove b%d" : "remove a%d",
			         i % 2 ? i - 1 : i);
		bad = run(jobs, N);
		total = count_rules("", &pre);
		ok(!bad && total == 0,
		   "round %d: %d concurrent removes: %d failed, %d rules left",
		   round + 1, N, bad, total);
	}
	stop_io = 1;
	pthread_join(iot, NULL);
	control_stop(c);
	device_close(d);
	rmdir(dir);
	done_testing();
}
