/* unit-inject-add: the control socket's add keeps every argument (issue 8,
 * finding 9: arguments past 1023 bytes were cut, count=100 stored as
 * count=10), and names and lists too long are refused, not cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctlclient.h"
#include "device.h"
#include "helpers.h"

int main(void)
{
	char dir[] = "/tmp/unit-inject-add.XXXXXX", path[128], err[512];
	char *body = NULL;
	struct profile p;
	plan(4);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(path, sizeof path, "%s/ctl", dir);
	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, sizeof err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	struct control *c = d ? control_start(path, d, err, sizeof err) : NULL;
	if (!ok(c != NULL, "serve a control socket (%s)", c ? "ok" : err))
		done_testing();

	/* "add " and 1024 bytes of arguments ending in count=100: the last
	 * byte is the one a 1024-byte buffer drops. */
	char cmd[1200] = "add big op=write action=error:EIO";
	size_t want = 4 + 1024 - strlen(" count=100");
	while (strlen(cmd) < want)
		strcat(cmd, " ");
	strcat(cmd, " count=100");
	ok(ctl_request(path, cmd, &body, NULL, err, sizeof err) == 0,
	   "add with %zu bytes of arguments (%s)", strlen(cmd) - 4,
	   body ? "" : err);
	free(body);
	struct profile live;
	device_get_profile(d, &live);
	ok(live.nrules == 1 && live.rules[0].count == 100,
	   "its count is 100, not cut (count %llu)",
	   live.nrules ? (unsigned long long)live.rules[0].count : 0ull);

	char name[60];
	memset(name, 'n', 50);
	name[50] = 0;
	char cmd2[128];
	snprintf(cmd2, sizeof cmd2, "add %s action=stall", name);
	ok(ctl_request(path, cmd2, &body, NULL, err, sizeof err) != 0 &&
	       strstr(err, "rule name too long"),
	   "a 50-character name is refused: %s", err);
	free(body);

	control_stop(c);
	device_close(d);
	unlink(path);
	rmdir(dir);
	done_testing();
}
