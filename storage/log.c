/* Log lines on stderr: text by default, JSON lines with KAIROS_LOG_FORMAT=json. */
#include "storage/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static bool log_json;
static char log_process[32] = "kairos";

void log_set_json(bool json)
{
    log_json = json;
}

bool log_is_json(void)
{
    return log_json;
}

void log_set_process(const char *name)
{
    snprintf(log_process, sizeof(log_process), "%s", name);
}

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warn";
    case LOG_ERROR:
        return "error";
    }
    return "info";
}

/*
 * The second a log line was written in, formatted once: every line of that
 * second reuses it, so only the milliseconds are formatted per line.
 * Workers are single-threaded, and the cache is per thread anyway.
 */
static _Thread_local struct {
    time_t second;
    char text[20]; /* "YYYY-MM-DDTHH:MM:SS" and a NUL */
} log_time_cache = {.second = -1};

size_t log_format_time(char out[LOG_TIME_SIZE])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != log_time_cache.second) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        /* A year past 9999 does not fit: the time is then left out, and only ".mmmZ" remains. */
        if (strftime(log_time_cache.text, sizeof(log_time_cache.text), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            log_time_cache.text[0] = '\0';
        log_time_cache.second = tv.tv_sec;
    }

    size_t n = strlen(log_time_cache.text);
    memcpy(out, log_time_cache.text, n);
    unsigned ms = (unsigned)(tv.tv_usec / 1000);
    out[n++] = '.';
    out[n++] = (char)('0' + ms / 100);
    out[n++] = (char)('0' + ms / 10 % 10);
    out[n++] = (char)('0' + ms % 10);
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

void log_write_line(const char *line, size_t len)
{
    char buf[8192];
    if (len < sizeof(buf)) {
        /* One write() per line keeps lines of concurrent processes whole. */
        memcpy(buf, line, len);
        buf[len] = '\n';
        ssize_t unused = write(STDERR_FILENO, buf, len + 1);
        (void)unused;
    } else {
        fwrite(line, 1, len, stderr);
        fputc('\n', stderr);
        fflush(stderr);
    }
}

/* Appends src[0..len) to the line at *used, as much as fits before its last byte. */
static void log_append(char *line, size_t size, size_t *used, const char *src, size_t len)
{
    size_t room = size - 1 - *used;
    if (len > room)
        len = room;
    memcpy(line + *used, src, len);
    *used += len;
}

static void log_append_str(char *line, size_t size, size_t *used, const char *src)
{
    log_append(line, size, used, src, strlen(src));
}

void log_message(enum log_level level, const char *module, const char *request_id, const char *message, size_t len)
{
    char when[LOG_TIME_SIZE];
    log_format_time(when);

    if (log_json) {
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s%}", "time", when, "level", log_level_name(level), "process",
                                log_process, "module", module, "message", message, len);
        if (obj != NULL && request_id != NULL)
            json_object_set_new(obj, "request_id", json_string(request_id));
        char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
        if (text != NULL) {
            log_write_line(text, strlen(text));
            free(text);
        }
        json_decref(obj);
        return;
    }

    /* "[mail] mail: ..." says the name twice: drop the module when it names the process. */
    if (strcmp(module, log_process) == 0)
        module = "";

    /* "TIME LEVEL [PROCESS] MODULE: MESSAGE (req ID)", cut to LOG_LINE_MAX bytes. */
    char line[LOG_LINE_MAX + 1];
    size_t used = 0;
    log_append_str(line, sizeof(line), &used, when);
    log_append(line, sizeof(line), &used, " ", 1);
    log_append_str(line, sizeof(line), &used, log_level_name(level));
    log_append(line, sizeof(line), &used, " [", 2);
    log_append_str(line, sizeof(line), &used, log_process);
    log_append(line, sizeof(line), &used, "] ", 2);
    if (module[0] != '\0') {
        log_append_str(line, sizeof(line), &used, module);
        log_append(line, sizeof(line), &used, ": ", 2);
    }
    log_append(line, sizeof(line), &used, message, len);
    if (request_id != NULL) {
        log_append(line, sizeof(line), &used, " (req ", 6);
        log_append_str(line, sizeof(line), &used, request_id);
        log_append(line, sizeof(line), &used, ")", 1);
    }
    log_write_line(line, used);
}

void log_msg(enum log_level level, const char *module, const char *request_id, const char *fmt, ...)
{
    char message[LOG_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (n < 0) {
        message[0] = '\0';
        n = 0;
    }
    log_message(level, module, request_id, message, (size_t)n < sizeof(message) ? (size_t)n : sizeof(message) - 1);
}
