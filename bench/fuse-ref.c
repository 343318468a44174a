/* fuse-ref.c - the reference for bench/fuse-bench: a minimal libfuse3
 * low-level server holding one file in memory, tuned as a fast FUSE
 * server would be (max_background 128, async direct I/O, libfuse's
 * multi-threaded loop, splice off like swapemu-fuse). It does nothing
 * but copy: whatever swapemu-fuse costs beyond it is the price of the
 * device model and its capture path.
 *
 * usage: fuse-ref [-f] [--threads N] [--name NAME] SIZE_MIB MOUNTPOINT
 */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_INO 2

static char *mem;
static size_t mem_size;
static const char *file_name = "disk";

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)mem_size;
		st->st_blocks = st->st_size / 512;
		st->st_blksize = 4096;
	}
}

static void ref_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
	                          FUSE_CAP_SPLICE_MOVE);
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	conn->max_background = 128;
	conn->congestion_threshold = 96;
}

static void ref_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID || strcmp(name, file_name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {
	    .ino = FILE_INO, .attr_timeout = 3600, .entry_timeout = 3600};
	fill_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void ref_getattr(fuse_req_t req, fuse_ino_t ino,
                        struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void ref_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static int clamp(off_t off, size_t *size)
{
	if (off < 0 || (size_t)off > mem_size)
		return -1;
	if (*size > mem_size - (size_t)off)
		*size = mem_size - (size_t)off;
	return 0;
}

static void ref_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	if (clamp(off, &size))
		fuse_reply_err(req, EINVAL);
	else
		fuse_reply_buf(req, mem + off, size);
}

static void ref_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                      size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	if (clamp(off, &size) || !size) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	memcpy(mem + off, buf, size);
	fuse_reply_write(req, size);
}

static void ref_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void ref_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                      struct fuse_file_info *fi)
{
	(void)datasync;
	ref_ok(req, ino, fi);
}

static const struct fuse_lowlevel_ops ref_ops = {
    .init = ref_init,
    .lookup = ref_lookup,
    .getattr = ref_getattr,
    .open = ref_open,
    .read = ref_read,
    .write = ref_write,
    .flush = ref_ok,
    .release = ref_ok,
    .fsync = ref_fsync,
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: fuse-ref [-f] [--threads N] [--name NAME] SIZE_MIB "
	        "MOUNTPOINT\n"
	        "A minimal in-memory FUSE server (the reference of "
	        "bench/fuse-bench).\n");
}

int main(int argc, char **argv)
{
	int foreground = 0, threads = 10;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-f"))
			foreground = 1;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			file_name = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "fuse-ref: unknown option '%s'\n",
			        argv[i]);
			return 2;
		}
	}
	if (argc - i != 2 || atol(argv[i]) <= 0 || threads < 1) {
		usage(stderr);
		return 2;
	}
	mem_size = (size_t)atol(argv[i]) << 20;
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("fuse-ref: mmap");
		return 1;
	}
	char *fargv[] = {argv[0], "-o", "allow_other", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se =
	    fuse_session_new(&args, &ref_ops, sizeof ref_ops, NULL);
	fuse_opt_free_args(&args);
	if (!se || fuse_session_mount(se, argv[i + 1])) {
		fprintf(stderr, "fuse-ref: cannot mount on %s\n", argv[i + 1]);
		return 1;
	}
	int rc = 1;
	if (fuse_daemonize(foreground) == 0 &&
	    fuse_set_signal_handlers(se) == 0) {
		struct fuse_loop_config cfg = {
		    .clone_fd = 0, .max_idle_threads = (unsigned)threads};
		rc = fuse_session_loop_mt(se, &cfg) ? 1 : 0;
		fuse_remove_signal_handlers(se);
	}
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc;
}
