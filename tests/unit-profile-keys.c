/* unit-profile-keys: the README's profile key table is the one the key
 * table in lib/profile_keys.c generates (build/profile-keys --markdown prints
 * it). Run from the top of the tree, as make check does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "helpers.h"

#define HEADER "| section | key | values | default |"

int main(void)
{
	FILE *readme = fopen("README.md", "r");
	if (!readme)
		skip_all("no README.md here (run from the top of the tree)");
	plan(2);

	char *want = NULL, *line = NULL;
	size_t wantlen = 0, cap = 0;
	FILE *f = open_memstream(&want, &wantlen);
	profile_keys_markdown(f);
	fclose(f);

	/* The README's table: from its header to the first non-table line. */
	char *got = NULL;
	size_t gotlen = 0;
	f = open_memstream(&got, &gotlen);
	int in = 0, found = 0;
	while (getline(&line, &cap, readme) > 0) {
		if (!in && !strncmp(line, HEADER, strlen(HEADER)))
			in = found = 1;
		else if (in && line[0] != '|')
			in = 0;
		if (in)
			fputs(line, f);
	}
	fclose(f);
	fclose(readme);
	ok(found, "the README has a profile key table");

	/* Name the first line that differs. */
	const char *a = want, *b = got;
	while (*a && *a == *b)
		a++, b++;
	while (a > want && a[-1] != '\n')
		a--, b--;
	ok(!strcmp(want, got), "it matches the key table%s%.*s%s%.*s%s",
	   *a || *b ? "\n# table:  " : "", (int)strcspn(a, "\n"), a,
	   *a || *b ? "\n# README: " : "", (int)strcspn(b, "\n"), b,
	   *a || *b ? "\n# (regenerate: build/profile-keys --markdown)" : "");
	free(want);
	free(got);
	free(line);
	done_testing();
}
