/* commands.h - the control socket's commands: one static table of every
 * command the server (control.c) answers. Each command gets the device, the
 * rest of its line and the reply stream. The protocol: one command line per
 * connection; the reply is the command's output followed by a last line
 * "ok" or "error: REASON". Commands:
 *   help       list the commands
 *   stats      JSON statistics
 *   counters   "key value" lines (for scripts and the torture workload)
 *   events     the event log, JSON lines ("events --follow": and then each
 *              new event as it comes)
 *   profile    the effective profile, INI
 *   reset      zero counters, histograms and the event log
 *   load FILE, add NAME KEY=VALUE..., remove NAME, clear, release, rules:
 *              fault injection (rules.h)
 */
#ifndef SWAPEMU_COMMANDS_H
#define SWAPEMU_COMMANDS_H

#include <stdio.h>

#include "device.h"

/* A handler writes its output to out and returns 0, or returns -1 after
 * writing a one-line reason to err (without "error: "). args is the rest
 * of the line after the command word (never NULL). It must not hold a
 * lock of the device while it writes to out: out is a client's socket. */
typedef int (*ctl_command_fn)(struct device *d, const char *args, FILE *out,
                              char *err, size_t errlen);

struct ctl_command {
	const char *name, *help;
	ctl_command_fn fn;
};

/* The command called name, or NULL. */
const struct ctl_command *ctl_command_find(const char *name);

#endif
