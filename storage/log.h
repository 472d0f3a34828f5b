/*
 * Logging: one line per event on stderr, text for a terminal or JSON lines
 * (KAIROS_LOG_FORMAT=json) for CloudWatch. Every module logs through this.
 * Never pass a password, token, key or full email address.
 */
#ifndef KAIROS_LOG_H
#define KAIROS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Bytes of a formatted time, "2026-06-12T08:30:00.123Z", with its NUL. */
#define LOG_TIME_SIZE 25
/* Longer messages are cut to this many bytes, and text lines to LOG_LINE_MAX. */
#define LOG_MESSAGE_MAX 4095
#define LOG_LINE_MAX    4607

void log_set_json(bool json);
bool log_is_json(void);
/* Tag prefixed to every line of this process, e.g. "worker 2" or "master". */
void log_set_process(const char *name);

/* `module` is a short word ("storage", "mail"); `request_id` may be NULL. */
void log_msg(enum log_level level, const char *module, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Writes one line like log_msg, with a message already formatted:
 * message[0..len), cut to LOG_MESSAGE_MAX bytes by the caller. For lines
 * written on every request, where printf-style formatting costs too much.
 */
void log_message(enum log_level level, const char *module, const char *request_id, const char *message, size_t len);

/* Writes the current UTC time with milliseconds into out; returns its length. */
size_t log_format_time(char out[LOG_TIME_SIZE]);

#define log_info(module, ...)  log_msg(LOG_INFO, module, NULL, __VA_ARGS__)
#define log_warn(module, ...)  log_msg(LOG_WARN, module, NULL, __VA_ARGS__)
#define log_error(module, ...) log_msg(LOG_ERROR, module, NULL, __VA_ARGS__)

/* Writes a prebuilt line (the access log builds its own JSON) with a newline. */
void log_write_line(const char *line, size_t len);

#endif
