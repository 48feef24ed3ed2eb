/*
 * A detached container's log, DIR/log, as container-log.ts writes it: one JSON line
 * {"t","s","l"} per line of the command's output, the file rotated to log.1 past LOGMAX bytes
 * (see monitor.c, which reads the command's output and hands it over line by line).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "monitor.h"

static int log_fd = -1;
static unsigned long long log_size, log_max;
static char log_path[4096], old_path[4096];

static void open_log(void)
{
  log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  log_size = log_fd >= 0 && fstat(log_fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
}

void monitor_log_open(const char *dir, unsigned long long max)
{
  snprintf(log_path, sizeof log_path, "%s/%s", dir, "log");
  snprintf(old_path, sizeof old_path, "%s/%s", dir, "log.1");
  log_max = max;
  open_log();
}

void monitor_log_close(void)
{
  if (log_fd >= 0)
    close(log_fd);
  log_fd = -1;
}

void monitor_write_all(int fd, const char *b, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* a full disk loses lines, not the container */
    b += w, n -= (size_t)w;
  }
}

/* ISO 8601 in UTC with milliseconds, as JavaScript's toISOString(). */
void monitor_iso_now(char out[96])
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
  unsigned c = s[0];
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;
    if (c == 0xED)
      hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    if (c == 0xF4)
      hi = 0x8F;
  } else
    return 0;
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    unsigned b = s[i];
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
      return 0;
  }
  return len;
}

/*
 * s as a JSON string's contents, as JSON.stringify writes them after Node's UTF-8 decoding:
 * bytes that are not UTF-8 become U+FFFD, quote, backslash and control characters escaped.
 * out must hold 6 * n + 1 bytes. Returns the length written.
 */
size_t monitor_json_escape(char *out, const unsigned char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t at = 0;
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c >= 0x80) {
      size_t len = utf8_len(s + i, n - i);
      if (len == 0) {
        memcpy(out + at, "\xEF\xBF\xBD", 3), at += 3, i++;
      } else {
        memcpy(out + at, s + i, len), at += len, i += len;
      }
      continue;
    }
    i++;
    const char *short_form = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    if (short_form) {
      memcpy(out + at, short_form, 2), at += 2;
    } else if (c < 0x20) {
      memcpy(out + at, "\\u00", 4), at += 4;
      out[at++] = hex[c >> 4];
      out[at++] = hex[c & 15];
    } else
      out[at++] = (char)c;
  }
  out[at] = 0;
  return at;
}

/* One line (without its newline) to the log; past the cap the log becomes log.1 first. */
void monitor_log_line(const char *stream, const unsigned char *s, size_t n)
{
  static char text[LINE_MAX_BYTES * 6 + 128];
  char t[96];
  if (log_fd < 0)
    return;
  monitor_iso_now(t);
  size_t at = (size_t)snprintf(text, sizeof text, "{\"t\":\"%s\",\"s\":\"%s\",\"l\":\"", t, stream);
  at += monitor_json_escape(text + at, s, n);
  memcpy(text + at, "\"}\n", 3), at += 3;
  if (log_size > 0 && log_size + at > log_max) {
    close(log_fd);
    rename(log_path, old_path);
    open_log();
    log_size = 0;
    if (log_fd < 0)
      return;
  }
  monitor_write_all(log_fd, text, at);
  log_size += at;
}
