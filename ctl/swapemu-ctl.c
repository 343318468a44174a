/* swapemu-ctl - send one command to a swapemu control socket and print the
 * reply's body as it arrives (see lib/control.h for the protocol). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctlclient.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: swapemu-ctl [--timeout SECONDS] SOCKET COMMAND "
	        "[ARGS...]\n"
	        "\n"
	        "Sends COMMAND and ARGS, joined with spaces, to the control "
	        "socket SOCKET\n"
	        "and prints the reply's body to stdout as it arrives.\n"
	        "SOCKET is a socket path; a bare name (no '/') that is not an "
	        "existing file\n"
	        "is taken as a target name: $SWAPEMU_RUN_DIR (default "
	        "/run/swapemu)/NAME/control.sock.\n"
	        "\n"
	        "--timeout SECONDS: give up if the whole reply has not come "
	        "within SECONDS\n"
	        "(a decimal number; 0 = wait for ever; default "
	        "$SWAPEMU_CTL_TIMEOUT, else 30).\n"
	        "\"events --follow\" is never timed out.\n"
	        "\n"
	        "Commands (the daemon's \"help\" lists them all): help, stats, "
	        "counters,\n"
	        "events [--follow], profile, reset.\n"
	        "\n"
	        "Exit status: 0 on \"ok\", 1 when the daemon answers an error "
	        "or cannot be\n"
	        "reached (the reason goes to stderr), 2 on a usage error.\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	int first = 1;
	const char *env = getenv("SWAPEMU_CTL_TIMEOUT");
	int ms;
	if (env && ctl_parse_timeout(env, &ms)) {
		fprintf(stderr,
		        "swapemu-ctl: SWAPEMU_CTL_TIMEOUT: bad number of "
		        "seconds '%s'\n",
		        env);
		return 2;
	}
	if (argc >= 2 && !strcmp(argv[1], "--timeout")) {
		if (argc < 3 || ctl_parse_timeout(argv[2], &ms)) {
			fprintf(stderr,
			        "swapemu-ctl: --timeout: bad number of seconds "
			        "'%s'\n",
			        argc < 3 ? "" : argv[2]);
			return 2;
		}
		ctl_set_timeout(ms);
		first = 3;
	}
	if (argc > first && !strcmp(argv[first], "--"))
		first++;
	if (argc - first < 2) {
		fprintf(stderr, "swapemu-ctl: %s\n",
		        argc - first < 1 ? "missing SOCKET and COMMAND"
		                         : "missing COMMAND");
		usage(stderr);
		return 2;
	}

	const char *sock = argv[first];
	char path[4200];
	struct stat st;
	if (!strchr(sock, '/') && stat(sock, &st) != 0) {
		char dir[4096];
		ctl_target_dir(sock, dir, sizeof dir);
		snprintf(path, sizeof path, "%s/control.sock", dir);
		sock = path;
	}

	size_t len = 1;
	for (int i = first + 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *cmd = malloc(len);
	if (!cmd) {
		fprintf(stderr, "swapemu-ctl: out of memory\n");
		return 1;
	}
	cmd[0] = '\0';
	for (int i = first + 1; i < argc; i++) {
		if (strchr(argv[i], '\n')) {
			fprintf(stderr,
			        "swapemu-ctl: arguments cannot contain a "
			        "newline\n");
			free(cmd);
			return 2;
		}
		if (i > first + 1)
			strcat(cmd, " ");
		strcat(cmd, argv[i]);
	}
	if (!cmd[strspn(cmd, " \t")]) {
		fprintf(stderr, "swapemu-ctl: empty COMMAND\n");
		free(cmd);
		return 2;
	}

	char err[4096];
	int r = ctl_request(sock, cmd, NULL, stdout, err, sizeof err);
	free(cmd);
	if (fflush(stdout) != 0) {
		perror("swapemu-ctl: stdout");
		return 1;
	}
	if (r) {
		fprintf(stderr, "swapemu-ctl: %s\n", err);
		return 1;
	}
	return 0;
}
