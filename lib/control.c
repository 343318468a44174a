/* control.c - the control socket server: one thread accepting, one short
 * thread per connection (so a long "events --follow" never blocks stats). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "inject.h"

#define MAX_COMMANDS 32

struct command {
	const char *name, *help;
	control_fn fn;
	void *opaque;
};

struct control {
	int fd;
	char path[108];
	struct device *dev;
	pthread_t thread;
	pthread_mutex_t lock;
	struct command cmds[MAX_COMMANDS];
	int ncmds;
	_Atomic int active; /* connections being served */
};

struct conn {
	struct control *c;
	int fd;
};

static int cmd_help(struct device *d, const char *args, FILE *out, char *err,
                    size_t errlen, void *opaque)
{
	struct control *c = opaque;
	(void)d, (void)args, (void)err, (void)errlen;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->ncmds; i++)
		fprintf(out, "%-10s %s\n", c->cmds[i].name, c->cmds[i].help);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static int cmd_stats(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen, void *opaque)
{
	(void)args, (void)err, (void)errlen, (void)opaque;
	device_stats_json(d, out);
	return 0;
}

static int cmd_counters(struct device *d, const char *args, FILE *out,
                        char *err, size_t errlen, void *opaque)
{
	(void)args, (void)err, (void)errlen, (void)opaque;
	device_counters(d, out);
	return 0;
}

static int cmd_events(struct device *d, const char *args, FILE *out, char *err,
                      size_t errlen, void *opaque)
{
	(void)opaque;
	if (!strcmp(args, "--follow")) {
		device_follow_events(d, out);
		return 0;
	}
	if (*args) {
		snprintf(err, errlen, "usage: events [--follow]");
		return -1;
	}
	device_events(d, out);
	return 0;
}

static int cmd_profile(struct device *d, const char *args, FILE *out, char *err,
                       size_t errlen, void *opaque)
{
	(void)args, (void)opaque;
	struct profile *p = malloc(sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	device_get_profile(d, p);
	profile_write(p, out);
	free(p);
	return 0;
}

static int cmd_reset(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen, void *opaque)
{
	(void)args, (void)out, (void)err, (void)errlen, (void)opaque;
	device_reset(d);
	return 0;
}

int control_add(struct control *c, const char *name, const char *help,
                control_fn fn, void *opaque)
{
	pthread_mutex_lock(&c->lock);
	int ok = c->ncmds < MAX_COMMANDS;
	if (ok)
		c->cmds[c->ncmds++] = (struct command){name, help, fn, opaque};
	pthread_mutex_unlock(&c->lock);
	return ok ? 0 : -1;
}

/* Reads the command line (one line, at most len-1 bytes). */
static int read_line(int fd, char *line, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		ssize_t r = read(fd, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	return n ? 0 : -1;
}

static void *serve_conn(void *arg)
{
	struct conn *cn = arg;
	struct control *c = cn->c;
	char line[4096], err[512] = "";
	FILE *out = NULL;
	if (read_line(cn->fd, line, sizeof line) ||
	    !(out = fdopen(cn->fd, "w"))) {
		close(cn->fd);
		goto done;
	}
	line[strcspn(line, "\r")] = 0;
	char *args = line + strcspn(line, " \t");
	if (*args)
		*args++ = 0;
	args += strspn(args, " \t");
	struct command cmd = {0};
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->ncmds; i++)
		if (!strcmp(c->cmds[i].name, line))
			cmd = c->cmds[i];
	pthread_mutex_unlock(&c->lock);
	if (!cmd.fn)
		fprintf(out, "error: unknown command '%s' (try 'help')\n",
		        line);
	else if (cmd.fn(c->dev, args, out, err, sizeof err, cmd.opaque))
		fprintf(out, "error: %s\n", *err ? err : "failed");
	else
		fprintf(out, "ok\n");
	fclose(out);
done:
	atomic_fetch_sub(&c->active, 1);
	free(cn);
	return NULL;
}

static void *accept_loop(void *arg)
{
	struct control *c = arg;
	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* the socket was shut down */
		}
		struct conn *cn = malloc(sizeof *cn);
		atomic_fetch_add(&c->active, 1);
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (!cn || (*cn = (struct conn){c, fd},
		            pthread_create(&t, &attr, serve_conn, cn))) {
			close(fd);
			free(cn);
			atomic_fetch_sub(&c->active, 1);
		}
		pthread_attr_destroy(&attr);
	}
}

/* Refuses a socket somebody still serves; removes a stale one. */
static int claim_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen,
		         "%s: control socket is in use by a running target",
		         path);
		return -1;
	}
	unlink(path);
	return 0;
}

struct control *control_start(const char *path, struct device *d, char *err,
                              size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		return NULL;
	}
	if (claim_path(path, err, errlen))
		return NULL;
	struct control *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->path, sizeof c->path, "%s", path);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	c->dev = d;
	pthread_mutex_init(&c->lock, NULL);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Root-only from the moment it exists: no window with looser mode. */
	mode_t old = umask(077);
	int r = c->fd < 0 ? -1 : bind(c->fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r || listen(c->fd, 16)) {
		snprintf(err, errlen, "%s: cannot serve control socket: %m",
		         path);
		goto fail;
	}
	control_add(c, "help", "list the commands", cmd_help, c);
	control_add(c, "stats", "statistics as one JSON object", cmd_stats,
	            NULL);
	control_add(c, "counters", "statistics as 'key value' lines",
	            cmd_counters, NULL);
	control_add(c, "events", "the event log, JSON lines", cmd_events, NULL);
	control_add(c, "profile", "the effective profile", cmd_profile, NULL);
	control_add(c, "reset", "zero the statistics and the event log",
	            cmd_reset, NULL);
	inject_register(c);
	/* A client that goes away mid-reply must not kill the target. */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&c->thread, NULL, accept_loop, c)) {
		snprintf(err, errlen, "cannot start control thread");
		unlink(path);
		goto fail;
	}
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	/* Let replies in progress finish; they use c. */
	for (int i = 0; i < 500 && atomic_load(&c->active); i++)
		usleep(10000);
	close(c->fd);
	unlink(c->path);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
