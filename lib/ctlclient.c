/* ctlclient.c - the client side of the control socket (see control.h and
 * ctlclient.h).
 *
 * The reply is read until EOF. Complete lines are passed on (to the body
 * and to the optional stream) one line late: a line is known to be body,
 * not the final status line, only once another line has started after it.
 */
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

#include "ctlclient.h"
#include "clock.h"

/* The limit on one request, in ms; 0 = none; -1 = not yet decided. */
static int timeout_ms = -1;

void ctl_set_timeout(int ms)
{
	timeout_ms = ms < 0 ? 0 : ms;
}

int ctl_parse_timeout(const char *s, int *ms)
{
	char *end;
	errno = 0;
	double t = s && *s ? strtod(s, &end) : -1;
	if (!s || !*s || *end || errno || !(t >= 0 && t <= 2e6))
		return -1;
	*ms = (int)(t * 1000 + 0.5);
	return 0;
}

int ctl_timeout(void)
{
	if (timeout_ms < 0 &&
	    ctl_parse_timeout(getenv("SWAPEMU_CTL_TIMEOUT"), &timeout_ms))
		timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	return timeout_ms;
}

/* Is cmd "events --follow" (a stream that ends only when the reader
 * stops), which no timeout applies to? */
static int is_follow(const char *cmd)
{
	cmd += strspn(cmd, " \t");
	if (strncmp(cmd, "events", 6) || (cmd[6] != ' ' && cmd[6] != '\t'))
		return 0;
	cmd += 6 + strspn(cmd + 6, " \t");
	return !strncmp(cmd, "--follow", 8) && !cmd[8 + strspn(cmd + 8, " \t")];
}

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Could this line be the final status line? Any other line is body and is
 * passed on at once, which keeps "events --follow" live. */
static int looks_like_status(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return (n == 2 && !memcmp(s, "ok", 2)) ||
	       (n >= 6 && !memcmp(s, "error:", 6));
}

static int emit(struct buf *acc, FILE *out, const char *s, size_t n)
{
	if (out)
		fwrite(s, 1, n, out);
	return buf_add(acc, s, n);
}

/* Connects; with a limit, connect and every send give up after ms. */
static int ctl_connect(const char *path, int ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	if (ms > 0) {
		struct timeval tv = {.tv_sec = ms / 1000,
		                     .tv_usec = ms % 1000 * 1000};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot connect: %s%s", path,
		         e == EAGAIN ? "timed out" : strerror(e),
		         e == ECONNREFUSED ? " (is the daemon running?)"
		         : e == EAGAIN     ? " (the daemon is not accepting)"
		                           : "");
		close(fd);
		return -1;
	}
	return fd;
}

int ctl_request(const char *path, const char *cmd, char **body, FILE *out,
                char *err, size_t errlen)
{
	char tmp[1];
	if (!err) {
		err = tmp;
		errlen = sizeof tmp;
	}
	if (body)
		*body = NULL;
	if (strchr(cmd, '\n')) {
		snprintf(err, errlen, "a command cannot contain a newline");
		return -1;
	}
	int ms = is_follow(cmd) ? 0 : ctl_timeout();
	int64_t deadline = now_ms() + ms;
	int fd = ctl_connect(path, ms, err, errlen);
	if (fd < 0)
		return -1;

	struct buf line = {0}, pending = {0}, acc = {0};
	int ret = -1, have_pending = 0;
	/* If sending fails, a server that refused the connection may still
	 * have said why: the reply is read all the same. */
	int send_errno = 0;
	if (send_all(fd, cmd, strlen(cmd)) || send_all(fd, "\n", 1))
		send_errno = errno;
	if (buf_add(&acc, "", 0))
		goto nomem;

	char chunk[4096];
	for (;;) {
		if (ms > 0) {
			int64_t left = deadline - now_ms();
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (left <= 0 || poll(&p, 1, (int)left) == 0) {
				snprintf(err, errlen,
				         "%s: no complete reply within %.3g s "
				         "(the daemon may be stuck; "
				         "SWAPEMU_CTL_TIMEOUT sets the limit)",
				         path, ms / 1000.0);
				goto out;
			}
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		/* A server that closes without reading all we sent resets
		 * the connection: the end of the reply, as EOF is. */
		if (n < 0 && errno != ECONNRESET) {
			snprintf(err, errlen, "%s: cannot read the reply: %s",
			         path, strerror(errno));
			goto out;
		}
		if (n <= 0)
			break;
		size_t i = 0;
		while (i < (size_t)n) {
			char *nl = memchr(chunk + i, '\n', (size_t)n - i);
			size_t take =
			    nl ? (size_t)(nl - (chunk + i)) + 1 : (size_t)n - i;
			if (buf_add(&line, chunk + i, take))
				goto nomem;
			i += take;
			if (!nl)
				break;
			/* A complete line: whatever was held back is body. */
			if (have_pending &&
			    emit(&acc, out, pending.p, pending.len))
				goto nomem;
			have_pending = 0;
			if (looks_like_status(line.p, line.len)) {
				struct buf t = pending;
				pending = line;
				line = t;
				have_pending = 1;
			} else if (emit(&acc, out, line.p, line.len)) {
				goto nomem;
			}
			line.len = 0;
		}
		if (out)
			fflush(out);
	}

	/* The status is the last line: an unterminated tail, else the held
	 * complete line. */
	const char *status;
	size_t slen;
	if (line.len) {
		if (have_pending && emit(&acc, out, pending.p, pending.len))
			goto nomem;
		status = line.p;
		slen = line.len;
	} else if (have_pending) {
		status = pending.p;
		slen = pending.len;
	} else if (send_errno) {
		snprintf(err, errlen, "%s: cannot send the command: %s", path,
		         strerror(send_errno));
		goto out;
	} else {
		snprintf(err, errlen,
		         "%s: the reply ended without a status line (\"ok\" or "
		         "\"error: ...\")",
		         path);
		goto out;
	}
	if (out)
		fflush(out);
	while (slen && (status[slen - 1] == '\n' || status[slen - 1] == '\r'))
		slen--;
	if (slen == 2 && !memcmp(status, "ok", 2)) {
		ret = 0;
		if (body) {
			*body = acc.p;
			acc.p = NULL;
		}
	} else if (slen >= 7 && !memcmp(status, "error: ", 7)) {
		snprintf(err, errlen, "%.*s", (int)(slen - 7), status + 7);
	} else if (slen >= 6 && !memcmp(status, "error:", 6)) {
		snprintf(err, errlen, "%.*s", (int)(slen - 6), status + 6);
	} else {
		snprintf(err, errlen,
		         "%s: reply did not end with \"ok\" or \"error: ...\" "
		         "(last line: \"%.*s\")",
		         path, (int)(slen > 80 ? 80 : slen), status);
	}
	goto out;
nomem:
	snprintf(err, errlen, "%s: out of memory reading the reply", path);
out:
	close(fd);
	free(line.p);
	free(pending.p);
	free(acc.p);
	return ret;
}

int ctl_counter(const char *body, const char *key, uint64_t *value)
{
	size_t klen = strlen(key);
	if (!body || !klen)
		return -1;
	for (const char *l = body; *l;) {
		const char *end = strchr(l, '\n');
		if (!end)
			end = l + strlen(l);
		if ((size_t)(end - l) > klen && !memcmp(l, key, klen) &&
		    (l[klen] == ' ' || l[klen] == '\t')) {
			const char *v = l + klen;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v < '0' || *v > '9')
				return -1;
			char *e;
			errno = 0;
			unsigned long long x = strtoull(v, &e, 10);
			if (errno ||
			    (e != end && *e != ' ' && *e != '\t' && *e != '\r'))
				return -1;
			*value = x;
			return 0;
		}
		l = *end ? end + 1 : end;
	}
	return -1;
}

char *ctl_target_dir(const char *name, char *buf, size_t len)
{
	const char *base = getenv("SWAPEMU_RUN_DIR");
	if (!base || !*base)
		base = "/run/swapemu";
	size_t bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	snprintf(buf, len, "%.*s/%s", (int)bl, base, name ? name : "");
	return buf;
}
