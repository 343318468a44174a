/* profile-keys - prints the profile key table (lib/profile_keys.c) for the
 * documents: --markdown gives the README's table, --pod TEMPLATE gives
 * swapemu.conf(5) with the key list in place of the template's
 * "=for swapemu-profile-keys" paragraph. Run by make; not installed. */
#include <stdio.h>
#include <string.h>

#include "profile.h"

#define MARKER "=for swapemu-profile-keys"

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--markdown")) {
		profile_keys_markdown(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--pod")) {
		fprintf(stderr,
		        "usage: profile-keys --markdown | --pod TEMPLATE\n");
		return 2;
	}
	FILE *in = fopen(argv[2], "r");
	if (!in) {
		fprintf(stderr, "profile-keys: %s: %m\n", argv[2]);
		return 1;
	}
	char line[4096];
	int found = 0;
	while (fgets(line, sizeof line, in)) {
		if (!strncmp(line, MARKER, strlen(MARKER)) &&
		    strchr("\r\n", line[strlen(MARKER)])) {
			profile_keys_pod(stdout);
			found = 1;
		} else {
			fputs(line, stdout);
		}
	}
	fclose(in);
	if (!found) {
		fprintf(stderr, "profile-keys: %s has no '%s' line\n", argv[2],
		        MARKER);
		return 1;
	}
	return 0;
}
