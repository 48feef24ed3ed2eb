/*
 * The monitor of a detached container (`flux run -d`): the helper's own supervising process,
 * left running once flux has gone, as podman leaves conmon. See monitor.c.
 */
#ifndef FLUX_MONITOR_H
#define FLUX_MONITOR_H

#include <sys/types.h>

/* The longest line the log holds; a longer one is cut into lines of this length. */
#define LINE_MAX_BYTES 16384

/* Set when the helper was started as `flux-helper monitor …`. */
extern int monitoring;

/* Reads the monitor's arguments (before the plan's); returns how many it took, or -1. */
int monitor_args(int argc, char **argv);

/* Before init is forked: the pipes that become the command's stdout and stderr. */
void monitor_pipes(void);

/* In init, right after the fork: its stdout and stderr become those pipes. */
void monitor_child_stdio(void);

/*
 * In the helper, once init runs: writes the command's output to the container's log until init
 * reports the end on `report` (one status byte, read into *status). Returns what that read
 * returned (1, or 0 at init's exit without a word).
 */
ssize_t monitor_relay(int report, unsigned char *status, pid_t init);

/* The status the run ends with: 124 when --timeout stopped it. */
int monitor_code(int code);

/*
 * Everything is cleaned up: once flux has said the container started (a K on `ctl`), records
 * the exit status, end time and `exited` event, then becomes flux's end-of-container step if it
 * has one (exec). Returns the run's status otherwise.
 */
int monitor_finish(int code, int ctl);

/* monitor-log.c: the container's log, DIR/log (rotated to DIR/log.1 past max bytes). */
void monitor_log_open(const char *dir, unsigned long long max);
/* One line of `stream` (stdout or stderr), without its newline. */
void monitor_log_line(const char *stream, const unsigned char *s, size_t n);
void monitor_log_close(void);

/* The log's writing, which the end's records share: a whole buffer written, a full disk losing it. */
void monitor_write_all(int fd, const char *b, size_t n);
/* Now, as JavaScript's toISOString() writes it. */
void monitor_iso_now(char out[96]);
/* s as a JSON string's contents, as JSON.stringify writes them; out must hold 6 * n + 1 bytes. */
size_t monitor_json_escape(char *out, const unsigned char *s, size_t n);

#endif
