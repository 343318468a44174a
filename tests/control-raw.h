/* control-raw.h - a bare control-socket client for the control tests
 * (header-only): connect, send a command, read the reply with a deadline.
 * It does not use lib/ctlclient.c, so that the tests can also drive a
 * server that misbehaves, and bound every wait themselves. */
#ifndef SWAPEMU_CONTROL_RAW_H
#define SWAPEMU_CONTROL_RAW_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* A connected socket, or -1. */
static inline int raw_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%.107s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Connects and sends cmd and a newline: the socket, or -1. */
static inline int raw_send(const char *path, const char *cmd)
{
	int fd = raw_connect(path);
	char line[4200];
	int n = snprintf(line, sizeof line, "%s\n", cmd);
	if (fd >= 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads fd to EOF within ms. Returns the bytes read (malloc'd, NUL
 * terminated) or NULL on timeout or error. */
static inline char *raw_read_all(int fd, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		if (len + 4096 + 1 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != ECONNRESET) /* a reset ends it too */
			break;
		if (r <= 0) {
			buf[len] = 0;
			return buf;
		}
		len += (size_t)r;
	}
	free(buf);
	return NULL;
}

/* One request: the whole reply (body and status line), or NULL if none
 * came within ms. */
static inline char *raw_request(const char *path, const char *cmd, int ms)
{
	int fd = raw_send(path, cmd);
	if (fd < 0)
		return NULL;
	char *r = raw_read_all(fd, ms);
	close(fd);
	return r;
}

/* Does a reply end with the status line "ok"? */
static inline int raw_ok(const char *reply)
{
	size_t n = reply ? strlen(reply) : 0;
	return n >= 3 && !strcmp(reply + n - 3, "ok\n") &&
	       (n == 3 || reply[n - 4] == '\n');
}

#endif
