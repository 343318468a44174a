/* nbd-connect.c - swapemu-nbd-connect: hands a TCP connection to an NBD
 * server to the guest kernel's NBD client, for 'swapemu vm --front-end nbd
 * --nbd-client guest'. Linked statically into the guest's initramfs, so
 * that the guest needs neither Debian's nbd-client nor its libraries.
 *
 *   swapemu-nbd-connect HOST PORT DEVICE [EXPORT]   connect (backgrounds)
 *   swapemu-nbd-connect -d DEVICE                   disconnect
 *
 * Negotiates the fixed newstyle handshake with NBD_OPT_EXPORT_NAME, then
 * gives the socket, size and flags to the kernel and leaves a child in
 * NBD_DO_IT, which returns when the device is disconnected.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBD_MAGIC_INIT 0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_MAGIC_OPT 0x49484156454f5054ull  /* "IHAVEOPT" */
#define NBD_FLAG_FIXED_NEWSTYLE 1
#define NBD_FLAG_NO_ZEROES 2
#define NBD_OPT_EXPORT_NAME 1

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "swapemu-nbd-connect: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("the server closed the connection during the "
			    "handshake%s",
			    r < 0 ? " (read error)" : " (no such export?)");
		p += r;
		n -= (size_t)r;
	}
}

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("cannot write to the server: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static int disconnect(const char *dev)
{
	int fd = open(dev, O_RDWR);
	if (fd < 0)
		die("cannot open %s", dev);
	if (ioctl(fd, NBD_DISCONNECT) < 0)
		die("NBD_DISCONNECT on %s failed", dev);
	ioctl(fd, NBD_CLEAR_SOCK);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-d"))
		return disconnect(argv[2]);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: swapemu-nbd-connect HOST PORT DEVICE "
		                "[EXPORT]\n"
		                "       swapemu-nbd-connect -d DEVICE\n");
		return 2;
	}
	const char *export = argc == 5 ? argv[4] : "";
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		die("'%s' is not an IPv4 address", argv[1]);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa))
		die("cannot connect to the server: %s", strerror(errno));
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	uint64_t magic;
	uint16_t hflags;
	read_all(s, &magic, 8);
	if (be64toh(magic) != NBD_MAGIC_INIT)
		die("%s", "not an NBD server");
	read_all(s, &magic, 8);
	if (be64toh(magic) != NBD_MAGIC_OPT)
		die("%s", "the server speaks only the old-style handshake");
	read_all(s, &hflags, 2);
	hflags = be16toh(hflags);
	if (!(hflags & NBD_FLAG_FIXED_NEWSTYLE))
		die("%s", "the server lacks the fixed newstyle handshake");
	uint32_t cflags =
	    htobe32(NBD_FLAG_FIXED_NEWSTYLE | (hflags & NBD_FLAG_NO_ZEROES));
	write_all(s, &cflags, 4);

	size_t nl = strlen(export);
	struct {
		uint64_t magic;
		uint32_t opt, len;
	} __attribute__((packed))
	opt = {htobe64(NBD_MAGIC_OPT), htobe32(NBD_OPT_EXPORT_NAME),
	       htobe32((uint32_t)nl)};
	write_all(s, &opt, sizeof opt);
	write_all(s, export, nl);
	uint64_t size;
	uint16_t tflags;
	read_all(s, &size, 8);
	read_all(s, &tflags, 2);
	size = be64toh(size);
	tflags = be16toh(tflags);
	if (!(hflags & NBD_FLAG_NO_ZEROES)) {
		char zeroes[124];
		read_all(s, zeroes, sizeof zeroes);
	}
	if (!size || size % 4096)
		die("%s", "the export's size is not a multiple of 4096");

	int nbd = open(argv[3], O_RDWR);
	if (nbd < 0)
		die("cannot open %s (is the nbd module loaded?)", argv[3]);
	ioctl(nbd, NBD_CLEAR_SOCK);
	if (ioctl(nbd, NBD_SET_BLKSIZE, 4096UL) < 0 ||
	    ioctl(nbd, NBD_SET_SIZE_BLOCKS, (unsigned long)(size / 4096)) < 0 ||
	    ioctl(nbd, NBD_SET_FLAGS, (unsigned long)tflags) < 0 ||
	    ioctl(nbd, NBD_SET_SOCK, (unsigned long)s) < 0)
		die("cannot configure %s", argv[3]);

	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The device's owner must never wait for swap itself. */
		mlockall(MCL_CURRENT | MCL_FUTURE);
		setsid();
		int r = ioctl(nbd, NBD_DO_IT);
		ioctl(nbd, NBD_CLEAR_QUE);
		ioctl(nbd, NBD_CLEAR_SOCK);
		_exit(r < 0 ? 1 : 0);
	}
	close(s);
	/* The device is usable once the child is in NBD_DO_IT: wait for its
	 * size to show in sysfs. */
	const char *name = strrchr(argv[3], '/');
	char p[256];
	snprintf(p, sizeof p, "/sys/block/%s/size", name ? name + 1 : argv[3]);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(p, "r");
		unsigned long long sectors = 0;
		if (f) {
			if (fscanf(f, "%llu", &sectors) != 1)
				sectors = 0;
			fclose(f);
		}
		if (sectors)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("%s", "NBD_DO_IT ended at once");
		usleep(10000);
	}
	die("%s did not become ready in 5 s", argv[3]);
}
