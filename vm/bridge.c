/* bridge.c - swapemu-vm-bridge: serves the control mailbox that a guest's
 * torture workload writes into the shared memory after the generation
 * table (common/mailbox.h), by passing each command on to the device's
 * control socket.
 *
 *   swapemu-vm-bridge SHARED_FILE CONTROL_SOCKET
 *
 * SHARED_FILE is the host's side of the guest's ivshmem device (the
 * device's gentab, grown to the BAR size). Only read-only commands are
 * passed on. Runs until SIGTERM or SIGINT; then withdraws the magic so a
 * guest stops waiting for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "ctlclient.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int allowed(const char *cmd)
{
	static const char *const ok[] = {"counters", "stats", "profile",
	                                 "help"};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (!strcmp(cmd, ok[i]))
			return 1;
	return 0;
}

static void answer(struct shmctl *c, int status, const char *text)
{
	size_t len = strlen(text);
	if (len >= SHMCTL_REPLY_MAX)
		len = SHMCTL_REPLY_MAX - 1; /* cut; counters fit easily */
	memcpy(c->reply, text, len);
	c->reply[len] = '\0';
	c->reply_len = (uint32_t)len;
	c->status = (uint32_t)status;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(
		    stderr,
		    "usage: swapemu-vm-bridge SHARED_FILE CONTROL_SOCKET\n");
		return 2;
	}
	const char *path = argv[1], *sock = argv[2];
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "swapemu-vm-bridge: %s: %s\n", path,
		        strerror(errno));
		return 2;
	}
	if ((uint64_t)st.st_size < SHMCTL_REGION_MIN) {
		fprintf(stderr,
		        "swapemu-vm-bridge: %s: %lld bytes, the mailbox needs "
		        "%llu\n",
		        path, (long long)st.st_size,
		        (unsigned long long)SHMCTL_REGION_MIN);
		return 2;
	}
	void *m = mmap(NULL, sizeof(struct shmctl), PROT_READ | PROT_WRITE,
	               MAP_SHARED, fd, SHMCTL_OFFSET);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "swapemu-vm-bridge: cannot map %s: %s\n", path,
		        strerror(errno));
		return 2;
	}
	struct shmctl *c = m;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* A fresh mailbox: nothing pending. */
	atomic_store(&c->req, 0);
	atomic_store(&c->done, 0);
	atomic_store_explicit(&c->magic, SHMCTL_MAGIC, memory_order_release);
	uint64_t served = 0;
	while (!stop) {
		uint64_t req =
		    atomic_load_explicit(&c->req, memory_order_acquire);
		if (req ==
		    atomic_load_explicit(&c->done, memory_order_relaxed)) {
			struct timespec ts = {0, 1000000}; /* 1 ms */
			nanosleep(&ts, NULL);
			continue;
		}
		char cmd[SHMCTL_CMD_MAX];
		memcpy(cmd, c->cmd, sizeof cmd);
		cmd[sizeof cmd - 1] = '\0';
		if (!allowed(cmd)) {
			char e[SHMCTL_CMD_MAX + 64];
			snprintf(e, sizeof e,
			         "command '%s' is not passed on from a guest",
			         cmd);
			answer(c, 1, e);
		} else {
			char *body = NULL, err[512];
			if (ctl_request(sock, cmd, &body, NULL, err,
			                sizeof err))
				answer(c, 1, err);
			else
				answer(c, 0, body ? body : "");
			free(body);
		}
		atomic_store_explicit(&c->done, req, memory_order_release);
		served++;
	}
	atomic_store_explicit(&c->magic, 0, memory_order_release);
	fprintf(stderr, "swapemu-vm-bridge: served %llu requests\n",
	        (unsigned long long)served);
	return 0;
}
