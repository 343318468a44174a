/* helpers.h - the one helper layer of the C tests: TAP output with named
 * exit codes (as liburing's test/helpers.h), per-point skips (as kselftest's
 * ksft_test_result_skip), a private temporary directory removed on every
 * exit path, small file and program helpers, and an nbdkit server on the
 * swapemu plugin with a watchdog. Every C test is one standalone program
 * linked with helpers.o; it exits T_EXIT_PASS, T_EXIT_FAIL or T_EXIT_SKIP.
 */
#ifndef SWAPEMU_TEST_HELPERS_H
#define SWAPEMU_TEST_HELPERS_H

#include <stdint.h>
#include <stdio.h>

enum t_exit { T_EXIT_PASS = 0, T_EXIT_FAIL = 1, T_EXIT_SKIP = 77 };

/* ---- TAP ---------------------------------------------------------------- */

/* A plan up front, or none: done_testing() then prints it at the end. */
void plan(int n);
/* One test point; returns cond (so "if (ok(...))" reads naturally). The
 * condition is evaluated before the description's arguments, so these may
 * show what the condition computed. */
int t_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ok(cond, ...)                                                          \
	({                                                                     \
		int t_cond_ = !!(cond);                                        \
		t_ok(t_cond_, __VA_ARGS__);                                    \
	})
/* One test point that was not run: "ok N - what # SKIP why". */
void skip(const char *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A "# " comment line. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Nothing can be tested here: "1..0 # SKIP why", exit T_EXIT_SKIP. */
_Noreturn void skip_all(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The test cannot go on: "Bail out! why", exit T_EXIT_FAIL. */
_Noreturn void bail_out(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The exit code so far; prints the plan when none was given. */
int t_finish(void);
#define done_testing() return t_finish()
/* How many points failed so far. */
int t_failures(void);

/* ---- temporary files ---------------------------------------------------- */

/* A new directory (mode 0700) removed with everything in it at exit or on
 * SIGINT/SIGTERM/SIGHUP; bails out if it cannot be made. The same directory
 * on later calls. */
const char *t_tmpdir(void);
/* t_tmpdir()/name, in static storage that stays valid (up to 64 names). */
const char *t_tmp_path(const char *name);
/* Writes text to path; 0 or -1 (with a diag). */
int t_write_file(const char *path, const char *text);

/* ---- programs ----------------------------------------------------------- */

/* Is prog runnable (as a path, or somewhere in PATH)? */
int t_have_program(const char *prog);
/* The directory holding the running test program (e.g. build/tests). */
const char *t_self_dir(void);

/* ---- an nbdkit server on the swapemu plugin ------------------------------ */

struct nbd_handle;
struct gentab;

/* The nbdkit program (SWAPEMU_NBDKIT, default "nbdkit") and the plugin
 * (SWAPEMU_NBD_PLUGIN, default ../nbdkit-swapemu-plugin.so next to the test
 * program): skips the whole test when either is missing. Preloads the ASan
 * runtime for a sanitized plugin. */
void t_nbd_require(void);
/* Starts "nbdkit -s --exit-with-parent PLUGIN size=64M control=ctl ARGS..."
 * (ARGS NULL-terminated) and connects; NULL with a diag on failure. A
 * watchdog kills the server if the test hangs with it for 120 s. */
struct nbd_handle *t_nbd_start(const char *ctl, ...);
/* Disconnects; one test point: nbdkit exited within 20 s. */
void t_nbd_close(struct nbd_handle *h);

/* ---- the device model -----------------------------------------------------
 */

struct device;
/* What report (device_events, device_counters, ...) writes, malloc'd. */
char *device_text(struct device *d, void (*report)(struct device *, FILE *));

/* ---- the control socket ---------------------------------------------------
 */

/* The body of a control command's reply (malloc'd), or NULL with a diag. */
char *t_ctl_body(const char *sock, const char *cmd);
/* The value of "key value" in a counters body, or UINT64_MAX. */
uint64_t t_counter(const char *body, const char *key);
/* One test point: the target's counters have the expected values, given as
 * C("key", value) pairs ending in NULL; each mismatch is a diag. */
void t_check_counters(const char *sock, const char *what, ...);
#define C(key, val) key, (uint64_t)(val)

/* ---- small things ------------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds. */
double t_now_ms(void);
/* Are the n bytes at p all zero? */
int t_all_zero(const void *p, size_t n);
/* Maps a generation table file read-write, or NULL with a diag. */
struct gentab *t_map_gentab(const char *path);

#endif
