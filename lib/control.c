/* control.c - the control socket server: one thread accepting, one thread
 * per connection (so a long "events --follow" never blocks stats).
 *
 * Nothing a client does may hold up the device or the server: connections
 * are capped (CONTROL_MAX_CONNS; more wait, then are told so), the
 * command line must arrive within CONTROL_READ_TIMEOUT_S, every write to a
 * client gives up after CONTROL_WRITE_TIMEOUT_S, and an accept() error
 * (EMFILE, ...) makes the server pause, not stop. Each connection has a
 * slot holding its thread and socket, so that control_stop() can wake
 * every thread (by shutting its socket down) and join it before freeing
 * anything. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "clock.h"

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

struct slot {
	struct control *c;
	pthread_t thread;
	int fd;
	enum slot_state state; /* under c->lock */
};

struct control {
	int fd;
	char path[108];
	struct device *dev;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t freed; /* a connection ended */
	_Atomic int stopping;
	struct slot slots[CONTROL_MAX_CONNS];
};

/* Reads the command line within CONTROL_READ_TIMEOUT_S in all. Returns 0,
 * -1 if none came, -2 if it is longer than len-1 bytes. */
static int read_line(int fd, char *line, size_t len)
{
	uint64_t deadline = now_ms() + CONTROL_READ_TIMEOUT_S * 1000;
	size_t n = 0;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr =
		    now >= deadline ? 0 : poll(&p, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (n + 1 == len)
			return -2;
		line[n++] = ch;
	}
	line[n] = 0;
	return n ? 0 : -1;
}

static void *serve_conn(void *arg)
{
	struct slot *sl = arg;
	struct control *c = sl->c;
	char line[4096], err[512] = "";
	FILE *out = NULL;
	/* The reply stream writes to a duplicate of the socket: closing it
	 * leaves the socket itself to the slot. Each write is bounded by the
	 * socket's SO_SNDTIMEO. */
	int fd2 = -1, got = read_line(sl->fd, line, sizeof line);
	if (got == -1 || (fd2 = fcntl(sl->fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    !(out = fdopen(fd2, "w"))) {
		if (fd2 >= 0)
			close(fd2);
		goto done;
	}
	if (got == -2) {
		fprintf(out, "error: command line longer than %zu bytes\n",
		        sizeof line - 1);
		fclose(out);
		goto done;
	}
	line[strcspn(line, "\r")] = 0;
	char *args = line + strcspn(line, " \t");
	if (*args)
		*args++ = 0;
	args += strspn(args, " \t");
	const struct ctl_command *cmd = ctl_command_find(line);
	if (!cmd)
		fprintf(out, "error: unknown command '%s' (try 'help')\n",
		        line);
	else if (cmd->fn(c->dev, args, out, err, sizeof err))
		fprintf(out, "error: %s\n", *err ? err : "failed");
	else
		fprintf(out, "ok\n");
	fclose(out);
done:
	/* The socket stays open until the slot is reaped: control_stop may
	 * still shut it down, and its number must not be reused before. */
	shutdown(sl->fd, SHUT_RDWR);
	pthread_mutex_lock(&c->lock);
	sl->state = SLOT_DONE;
	pthread_cond_signal(&c->freed);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Joins finished connection threads and frees their slots. Returns a free
 * slot, or NULL if all are busy. Accept thread only. */
static struct slot *reap(struct control *c)
{
	struct slot *free_slot = NULL;
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		struct slot *sl = &c->slots[i];
		pthread_mutex_lock(&c->lock);
		enum slot_state st = sl->state;
		pthread_mutex_unlock(&c->lock);
		if (st == SLOT_DONE) {
			pthread_join(sl->thread, NULL);
			close(sl->fd);
			pthread_mutex_lock(&c->lock);
			sl->state = SLOT_FREE;
			pthread_mutex_unlock(&c->lock);
			st = SLOT_FREE;
		}
		if (st == SLOT_FREE && !free_slot)
			free_slot = sl;
	}
	return free_slot;
}

/* A free slot, waiting up to CONTROL_QUEUE_WAIT_MS for one; NULL if
 * there is none by then. Meanwhile new clients wait in the listen queue:
 * a burst of clients is served in turn, and only while every slot stays
 * busy is one refused. */
static struct slot *wait_slot(struct control *c)
{
	struct slot *sl = reap(c);
	if (sl)
		return sl;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += CONTROL_QUEUE_WAIT_MS / 1000;
	ts.tv_nsec += CONTROL_QUEUE_WAIT_MS % 1000 * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		int any = 0, r = 0;
		while (!atomic_load(&c->stopping) && !r && !any) {
			for (int i = 0; i < CONTROL_MAX_CONNS; i++)
				any |= c->slots[i].state == SLOT_DONE;
			if (!any)
				r = pthread_cond_timedwait(&c->freed, &c->lock,
				                           &ts);
		}
		pthread_mutex_unlock(&c->lock);
		if (!any)
			return NULL;
		if ((sl = reap(c)))
			return sl;
	}
}

/* Tells a client the server cannot take it now, without waiting on it. */
static void refuse(int fd, const char *why)
{
	char msg[200];
	int n = snprintf(msg, sizeof msg, "error: %s\n", why);
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing more to do: the client sees the connection close */
	}
	/* Closing a Unix socket with unread data resets the peer, which
	 * may then lose the reason: take what the client sent. */
	char scratch[4096];
	for (int i = 0; i < 16; i++)
		if (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0)
			break;
	close(fd);
}

static void *accept_loop(void *arg)
{
	struct control *c = arg;
	while (!atomic_load(&c->stopping)) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (atomic_load(&c->stopping))
				break;
			if (errno != EINTR && errno != ECONNABORTED) {
				/* Out of descriptors or memory, or worse:
				 * free what finished, pause, try again. */
				reap(c);
				poll(NULL, 0, 100);
			}
			continue;
		}
		struct slot *sl = wait_slot(c);
		if (!sl) {
			char why[120];
			snprintf(why, sizeof why,
			         "too many control connections (at most %d at "
			         "once); try again later",
			         CONTROL_MAX_CONNS);
			refuse(fd, why);
			continue;
		}
		struct timeval wt = {.tv_sec = CONTROL_WRITE_TIMEOUT_S};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);
		sl->c = c;
		sl->fd = fd;
		pthread_mutex_lock(&c->lock);
		sl->state = SLOT_BUSY;
		pthread_mutex_unlock(&c->lock);
		if (pthread_create(&sl->thread, NULL, serve_conn, sl)) {
			pthread_mutex_lock(&c->lock);
			sl->state = SLOT_FREE;
			pthread_mutex_unlock(&c->lock);
			refuse(fd, "cannot start a thread for this connection");
		}
	}
	return NULL;
}

/* Is something listening on the socket at path? */
static int socket_live(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	/* Non-blocking: a live server with a full backlog says EAGAIN. */
	int r = connect(fd, (struct sockaddr *)&a, sizeof a);
	int live = r == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

int control_check_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat st;
	if (!*path) {
		snprintf(err, errlen, "empty control socket path");
		return -1;
	}
	if (strlen(path) >= sizeof a.sun_path) {
		snprintf(err, errlen,
		         "%s: control socket path too long (at most %zu bytes)",
		         path, sizeof a.sun_path - 1);
		return -1;
	}
	if (lstat(path, &st)) {
		/* Absent: its directory must be there to bind in. */
		char dir[sizeof a.sun_path] = ".";
		const char *slash = strrchr(path, '/');
		if (slash == path)
			snprintf(dir, sizeof dir, "/");
		else if (slash)
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - path),
			         path);
		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen,
			         "%s: cannot serve control socket: %s is not a "
			         "directory",
			         path, dir);
			return -1;
		}
		return 0;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		         "%s: exists and is not a socket; not replacing it",
		         path);
		return -1;
	}
	if (socket_live(path)) {
		snprintf(err, errlen,
		         "%s: control socket is in use by a running target",
		         path);
		return -1;
	}
	return 0;
}

struct control *control_start(const char *path, struct device *d, char *err,
                              size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (control_check_path(path, err, errlen))
		return NULL;
	unlink(path); /* a stale socket, if any (checked just now) */
	struct control *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->path, sizeof c->path, "%s", path);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	c->dev = d;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->freed, &ca);
	pthread_condattr_destroy(&ca);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Root-only from the moment it exists: no window with looser mode. */
	mode_t old = umask(077);
	int r = c->fd < 0 ? -1 : bind(c->fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r || listen(c->fd, SOMAXCONN)) {
		snprintf(err, errlen, "%s: cannot serve control socket: %m",
		         path);
		goto fail;
	}
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
	pthread_cond_destroy(&c->freed);
	free(c);
	return NULL;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stopping, 1);
	pthread_cond_broadcast(&c->freed);
	pthread_mutex_unlock(&c->lock);
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	/* Wake every connection thread (a blocked read or write fails, a
	 * follower sees the hang-up within a second), then wait for each. */
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (c->slots[i].state != SLOT_FREE)
			shutdown(c->slots[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		if (c->slots[i].state == SLOT_FREE)
			continue;
		pthread_join(c->slots[i].thread, NULL);
		close(c->slots[i].fd);
	}
	close(c->fd);
	unlink(c->path);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->freed);
	free(c);
}
