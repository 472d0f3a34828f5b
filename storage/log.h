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

void log_set_json(bool json);
bool log_is_json(void);
/* Tag prefixed to every line of this process, e.g. "worker 2" or "master". */
void log_set_process(const char *name);

/* `module` is a short word ("storage", "mail"); `request_id` may be NULL. */
void log_msg(enum log_level level, const char *module, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_info(module, ...)  log_msg(LOG_INFO, module, NULL, __VA_ARGS__)
#define log_warn(module, ...)  log_msg(LOG_WARN, module, NULL, __VA_ARGS__)
#define log_error(module, ...) log_msg(LOG_ERROR, module, NULL, __VA_ARGS__)

/* Writes a prebuilt line (the access log builds its own JSON) with a newline. */
void log_write_line(const char *line, size_t len);

#endif
