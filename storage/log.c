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

/* Returns the length of the valid UTF-8 sequence at s[0..len), or 0 when none starts there. */
static size_t log_utf8_sequence(const unsigned char *s, size_t len)
{
    size_t need;
    unsigned char low = 0x80, high = 0xbf;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 1;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        need = 2;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        need = 3;
    else
        return 0;
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid. */
    if (s[0] == 0xe0)
        low = 0xa0;
    else if (s[0] == 0xed)
        high = 0x9f;
    else if (s[0] == 0xf0)
        low = 0x90;
    else if (s[0] == 0xf4)
        high = 0x8f;
    if (len <= need || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need + 1;
}

/*
 * Copies message into out with every byte that starts no valid UTF-8 sequence
 * replaced by '?'. JSON strings must be UTF-8, and a message cut at
 * LOG_MESSAGE_MAX may end inside a character.
 */
static void log_utf8_sanitize(const char *message, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)message;
    size_t i = 0;
    while (i < len) {
        size_t n = log_utf8_sequence(s + i, len - i);
        if (n == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s + i, n);
        i += n;
    }
}

void log_message(enum log_level level, const char *module, const char *request_id, const char *message, size_t len)
{
    char when[LOG_TIME_SIZE];
    log_format_time(when);

    if (log_json) {
        char valid[LOG_MESSAGE_MAX];
        if (len > sizeof(valid))
            len = sizeof(valid);
        log_utf8_sanitize(message, len, valid);
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s%}", "time", when, "level", log_level_name(level), "process",
                                log_process, "module", module, "message", valid, len);
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

    /* "[mail] mail: ..." would repeat the name, so the module is dropped when it names the process. */
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
