/* ctlclient.h - the client side of the control socket (see control.h):
 * send one command line, collect the reply up to its final "ok" or
 * "error: REASON" line. */
#ifndef SWAPEMU_CTLCLIENT_H
#define SWAPEMU_CTLCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Sends cmd (without newline) to the socket at path. On "ok" returns 0 and,
 * if body is not NULL, a malloc'd NUL-terminated copy of the reply without
 * its last line. On "error: R" returns -1 with R in err; on a connection
 * problem or timeout returns -1 with a reason naming path. If out is not NULL
 * the body is also streamed to it as it arrives (for "events --follow"). */
int ctl_request(const char *path, const char *cmd, char **body, FILE *out,
                char *err, size_t errlen);

/* Every request but "events --follow" must complete within a limit, or
 * ctl_request gives up with a reason: CTL_DEFAULT_TIMEOUT_MS, or
 * $SWAPEMU_CTL_TIMEOUT seconds (a decimal number, 0 = none), or what
 * ctl_set_timeout() set (ms, 0 = none). ctl_timeout() is the limit in
 * force, in ms. */
#define CTL_DEFAULT_TIMEOUT_MS 30000
void ctl_set_timeout(int ms);
int ctl_timeout(void);
/* Parses SECONDS (a decimal number, 0 to 2e6) into ms. Returns 0, or -1
 * if s is not such a number. */
int ctl_parse_timeout(const char *s, int *ms);

/* Looks up "key value" in a counters reply. Returns 0 and the value, or -1
 * if the key is absent. */
int ctl_counter(const char *body, const char *key, uint64_t *value);

/* The run directory of target name: $SWAPEMU_RUN_DIR or /run/swapemu,
 * then /name. Written into buf; returns buf. */
char *ctl_target_dir(const char *name, char *buf, size_t len);

#endif
