/* unit-control: the control socket server and client: commands, errors,
 * permissions, a second server refused on a live socket, a path that is
 * not a socket left alone (issue 8, finding 3), a stale socket replaced,
 * a path too long for a socket refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlclient.h"
#include "helpers.h"

int main(void)
{
	char dir[] = "/tmp/unit-control.XXXXXX", path[128], err[512], *body;
	struct profile p;
	uint64_t v;
	plan(22);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(path, sizeof path, "%s/ctl", dir);
	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, sizeof err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	struct control *c = control_start(path, d, err, sizeof err);
	ok(c != NULL, "serve a control socket (%s)", c ? "" : err);
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 077) == 0,
	   "only its owner may use the socket (mode %o)", st.st_mode & 0777);
	ok(control_start(path, d, err, sizeof err) == NULL &&
	       strstr(err, "in use"),
	   "a second server on a live socket is refused: %s", err);

	char buf[4096] = {1};
	uint64_t t0 = device_begin(d, OP_WRITE);
	device_end(d, OP_WRITE, t0, sizeof buf,
	           device_write(d, buf, sizeof buf, 0, NULL));
	ok(ctl_request(path, "counters", &body, NULL, err, sizeof err) == 0,
	   "counters");
	ok(ctl_counter(body, "write.count", &v) == 0 && v == 1 &&
	       ctl_counter(body, "capture.unstamped", &v) == 0 && v == 1,
	   "counters report the write");
	ok(ctl_counter(body, "no.such.key", &v) == -1,
	   "absent keys are absent");
	free(body);
	ok(ctl_request(path, "stats", &body, NULL, err, sizeof err) == 0 &&
	       body[0] == '{' && strstr(body, "\"write\":{\"count\":1"),
	   "stats is JSON");
	free(body);
	ok(ctl_request(path, "bogus", &body, NULL, err, sizeof err) == -1 &&
	       strstr(err, "unknown command 'bogus'"),
	   "unknown command: %s", err);
	ok(ctl_request(path, "add  r1 \t op=write   action=delay:1ms", &body,
	               NULL, err, sizeof err) == 0 &&
	       !strcmp(body, ""),
	   "a command gets its arguments, blanks between them skipped (%s)",
	   err);
	free(body);
	ok(ctl_request(path, "rules", &body, NULL, err, sizeof err) == 0 &&
	       !strncmp(body, "r1 matches=0 fired=0 action=delay\n", 34),
	   "the rule is there: %s", body);
	free(body);
	ok(ctl_request(path, "remove nosuch", &body, NULL, err, sizeof err) ==
	           -1 &&
	       !strcmp(err, "no rule 'nosuch'"),
	   "a failing command reports its reason: %s", err);
	char *huge = malloc(6001);
	memset(huge, 'x', 6000);
	memcpy(huge, "add r2 op=write count=1", 23);
	huge[6000] = 0;
	ok(ctl_request(path, huge, &body, NULL, err, sizeof err) == -1 &&
	       strstr(err, "command line longer than 4095 bytes"),
	   "a command line too long is refused, not cut: %s", err);
	free(huge);
	ok(ctl_request(path, "help", &body, NULL, err, sizeof err) == 0 &&
	       strstr(body, "stats ") && strstr(body, "rules "),
	   "help lists the commands");
	free(body);
	ok(ctl_request(path, "reset", NULL, NULL, err, sizeof err) == 0 &&
	       ctl_request(path, "counters", &body, NULL, err, sizeof err) ==
	           0 &&
	       ctl_counter(body, "write.count", &v) == 0 && v == 0,
	   "reset");
	free(body);
	control_stop(c);
	ok(access(path, F_OK) != 0, "stop removes the socket");
	ok(ctl_request(path, "stats", &body, NULL, err, sizeof err) == -1 &&
	       strstr(err, path),
	   "no server: the error names the socket: %s", err);

	/* Whatever is at the path and is not a socket stays, untouched. */
	char file[160], sub[160], longp[200];
	snprintf(file, sizeof file, "%s/precious", dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0 && write(fd, "data\n", 5) == 5 && !close(fd) &&
	       control_start(file, d, err, sizeof err) == NULL &&
	       strstr(err, "not a socket"),
	   "a regular file at the path is refused: %s", err);
	ok(stat(file, &st) == 0 && st.st_size == 5,
	   "and is still there, whole");
	unlink(file);
	snprintf(sub, sizeof sub, "%s/subdir", dir);
	mkdir(sub, 0700);
	ok(control_start(sub, d, err, sizeof err) == NULL &&
	       strstr(err, "not a socket") && stat(sub, &st) == 0,
	   "so is a directory: %s", err);
	rmdir(sub);
	/* A stale socket (bound, nobody listening) is replaced. */
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%.100s", path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof a) && !close(s) &&
	       (c = control_start(path, d, err, sizeof err)) != NULL,
	   "a stale socket is replaced (%s)", c ? "" : err);
	control_stop(c);
	memset(longp, 'x', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = 0;
	ok(control_start(longp, d, err, sizeof err) == NULL &&
	       strstr(err, "too long"),
	   "a path too long for a socket is refused: %.40s...", err);
	ok(control_start("/nonexistent-dir/ctl", d, err, sizeof err) == NULL &&
	       strstr(err, "cannot serve control socket"),
	   "a path in a missing directory is refused: %s", err);
	device_close(d);
	rmdir(dir);
	done_testing();
}
