/* inject.c - the control socket's fault-injection commands: load, add,
 * remove, clear, release, rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "inject.h"

static int cmd_load(struct device *d, const char *args, FILE *out, char *err,
                    size_t errlen, void *opaque)
{
	(void)out, (void)opaque;
	if (!*args || args[0] != '/') {
		snprintf(err, errlen,
		         "load needs an absolute path to a profile");
		return -1;
	}
	/* The file is read over the current settings, without the current
	 * rules: it replaces them. Nothing changes unless all of it is
	 * good. */
	struct profile *np = malloc(sizeof *np);
	if (!np) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	device_get_profile(d, np);
	np->nrules = 0;
	int r = profile_load(np, args, err, errlen) ||
	        profile_finish(np, err, errlen) ||
	        device_load_profile(d, np, err, errlen);
	if (!r)
		fprintf(out, "loaded %s: %u rules, seed %llu\n", args,
		        np->nrules, (unsigned long long)np->seed);
	free(np);
	return r ? -1 : 0;
}

static int cmd_add(struct device *d, const char *args, FILE *out, char *err,
                   size_t errlen, void *opaque)
{
	(void)out, (void)opaque;
	struct rule_spec r;
	if (rule_spec_parse(&r, args, err, errlen))
		return -1;
	return device_add_rule(d, &r, err, errlen);
}

static int cmd_remove(struct device *d, const char *args, FILE *out, char *err,
                      size_t errlen, void *opaque)
{
	(void)out, (void)opaque;
	if (!*args) {
		snprintf(err, errlen, "usage: remove NAME");
		return -1;
	}
	return device_remove_rule(d, args, err, errlen);
}

static int cmd_clear(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen, void *opaque)
{
	(void)args, (void)out, (void)err, (void)errlen, (void)opaque;
	device_clear_rules(d);
	return 0;
}

static int cmd_release(struct device *d, const char *args, FILE *out, char *err,
                       size_t errlen, void *opaque)
{
	(void)args, (void)err, (void)errlen, (void)opaque;
	fprintf(out, "released %llu\n", (unsigned long long)device_stalled(d));
	device_release(d);
	return 0;
}

static int cmd_rules(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen, void *opaque)
{
	(void)args, (void)err, (void)errlen, (void)opaque;
	device_list_rules(d, out);
	return 0;
}

void inject_register(struct control *c)
{
	control_add(c, "load", "load FILE: replace the rules and live settings",
	            cmd_load, NULL);
	control_add(c, "add", "add NAME KEY=VALUE...: add a rule", cmd_add,
	            NULL);
	control_add(c, "remove", "remove NAME: remove a rule", cmd_remove,
	            NULL);
	control_add(c, "clear", "remove every rule", cmd_clear, NULL);
	control_add(c, "release", "let stalled requests go", cmd_release, NULL);
	control_add(c, "rules", "the rules with their matches and firings",
	            cmd_rules, NULL);
}
