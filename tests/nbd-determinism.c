/* nbd-determinism: the same profile and seed give the same fired-rule
 * sequence for the same requests, over a real libnbd client, run twice;
 * another seed gives another sequence. */
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlclient.h"
#include "helpers.h"

static char dir[] = "/tmp/nbd-determinism.XXXXXX";
static char plugin[512];

/* The rule, op and offset of every fault the run injected, one per line. */
static char *run(const char *seed)
{
	char ctl[600], ctlarg[700], seedarg[64], err[512], *body = NULL;
	static char page[4096];
	snprintf(ctl, sizeof ctl, "%s/ctl.%s", dir, seed);
	snprintf(ctlarg, sizeof ctlarg, "control=%s", ctl);
	snprintf(seedarg, sizeof seedarg, "seed=%s", seed);
	char *argv[] = {"nbdkit",
	                "-s",
	                "--exit-with-parent",
	                plugin,
	                "size=16M",
	                ctlarg,
	                seedarg,
	                "rule.flaky.op=write",
	                "rule.flaky.probability=0.3",
	                "rule.flaky.action=error:EIO",
	                "rule.rot.op=read",
	                "rule.rot.probability=0.2",
	                "rule.rot.action=corrupt:2",
	                "rule.slow.every=7",
	                "rule.slow.action=delay:1ms",
	                NULL};
	struct nbd_handle *nbd = nbd_create();
	if (!nbd || nbd_connect_command(nbd, argv)) {
		printf("# %s\n", nbd_get_error());
		return NULL;
	}
	for (unsigned i = 0; i < 300; i++) {
		uint64_t off = (uint64_t)((i * 2654435761u) % 4096) * 4096;
		memset(page, (int)i, sizeof page);
		if (i % 3)
			nbd_pwrite(nbd, page, sizeof page, off, 0);
		else
			nbd_pread(nbd, page, sizeof page, off, 0);
	}
	if (!ctl_request(ctl, "events", &body, NULL, err, sizeof err)) {
		/* Keep what identifies a fault; drop the times. */
		char *out = calloc(1, strlen(body) + 1), *save = NULL;
		for (char *l = strtok_r(body, "\n", &save); l && out;
		     l = strtok_r(NULL, "\n", &save)) {
			char *ev = strstr(l, "\"event\":\"fault\"");
			if (ev)
				strcat(strcat(out, ev), "\n");
		}
		free(body);
		body = out;
	} else {
		printf("# events: %s\n", err);
	}
	nbd_close(nbd);
	return body;
}

static int lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

int main(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	snprintf(plugin, sizeof plugin, "%s/nbdkit-swapemu-plugin.so", build);
	if (system("command -v nbdkit >/dev/null"))
		skip_all("no nbdkit");
	if (access(plugin, R_OK))
		skip_all("the nbdkit plugin is not built");
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	plan(4);
	char *a = run("77"), *b = run("77"), *c = run("78");
	ok(a && b && c, "three runs over libnbd");
	ok(lines(a) > 50, "faults were injected (%d)", lines(a));
	ok(a && b && !strcmp(a, b),
	   "the same seed fired the same rules at the same requests");
	ok(a && c && strcmp(a, c), "another seed fired others");
	free(a);
	free(b);
	free(c);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		printf("# cannot remove %s\n", dir);
	done_testing();
}
