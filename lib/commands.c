/* commands.c - every control socket command, in one static table (see
 * commands.h): reports (stats, counters, events, profile, reset) and fault
 * injection (load, add, remove, clear, release, rules). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static int cmd_help(struct device *d, const char *args, FILE *out, char *err,
                    size_t errlen);

static int cmd_stats(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen)
{
	(void)args, (void)err, (void)errlen;
	device_stats_json(d, out);
	return 0;
}

static int cmd_counters(struct device *d, const char *args, FILE *out,
                        char *err, size_t errlen)
{
	(void)args, (void)err, (void)errlen;
	device_counters(d, out);
	return 0;
}

static int cmd_events(struct device *d, const char *args, FILE *out, char *err,
                      size_t errlen)
{
	if (!strcmp(args, "--follow")) {
		device_follow_events(d, out);
		return 0;
	}
	if (*args) {
		snprintf(err, errlen, "usage: events [--follow]");
		return -1;
	}
	device_events(d, out);
	return 0;
}

static int cmd_profile(struct device *d, const char *args, FILE *out, char *err,
                       size_t errlen)
{
	(void)args;
	struct profile *p = malloc(sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	device_get_profile(d, p);
	profile_write(p, out);
	free(p);
	return 0;
}

static int cmd_reset(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen)
{
	(void)args, (void)out, (void)err, (void)errlen;
	device_reset(d);
	return 0;
}

static int cmd_load(struct device *d, const char *args, FILE *out, char *err,
                    size_t errlen)
{
	(void)out;
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
                   size_t errlen)
{
	(void)out;
	struct rule_spec r;
	if (rule_spec_parse(&r, args, err, errlen))
		return -1;
	return device_add_rule(d, &r, err, errlen);
}

static int cmd_remove(struct device *d, const char *args, FILE *out, char *err,
                      size_t errlen)
{
	(void)out;
	if (!*args) {
		snprintf(err, errlen, "usage: remove NAME");
		return -1;
	}
	return device_remove_rule(d, args, err, errlen);
}

static int cmd_clear(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen)
{
	(void)args, (void)out, (void)err, (void)errlen;
	device_clear_rules(d);
	return 0;
}

static int cmd_release(struct device *d, const char *args, FILE *out, char *err,
                       size_t errlen)
{
	(void)args, (void)err, (void)errlen;
	fprintf(out, "released %llu\n", (unsigned long long)device_stalled(d));
	device_release(d);
	return 0;
}

static int cmd_rules(struct device *d, const char *args, FILE *out, char *err,
                     size_t errlen)
{
	(void)args, (void)err, (void)errlen;
	device_list_rules(d, out);
	return 0;
}

static const struct ctl_command commands[] = {
    {"help", "list the commands", cmd_help},
    {"stats", "statistics as one JSON object", cmd_stats},
    {"counters", "statistics as 'key value' lines", cmd_counters},
    {"events", "the event log, JSON lines", cmd_events},
    {"profile", "the effective profile", cmd_profile},
    {"reset", "zero the statistics and the event log", cmd_reset},
    {"load", "load FILE: replace the rules and live settings", cmd_load},
    {"add", "add NAME KEY=VALUE...: add a rule", cmd_add},
    {"remove", "remove NAME: remove a rule", cmd_remove},
    {"clear", "remove every rule", cmd_clear},
    {"release", "let stalled requests go", cmd_release},
    {"rules", "the rules with their matches and firings", cmd_rules},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(struct device *d, const char *args, FILE *out, char *err,
                    size_t errlen)
{
	(void)d, (void)args, (void)err, (void)errlen;
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "%-10s %s\n", commands[i].name, commands[i].help);
	return 0;
}

const struct ctl_command *ctl_command_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}
