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

static void log_format_time(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
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

void log_msg(enum log_level level, const char *module, const char *request_id, const char *fmt, ...)
{
    char message[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    char when[40];
    log_format_time(when, sizeof(when));

    if (log_json) {
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", when, "level", log_level_name(level), "process",
                                log_process, "module", module, "message", message);
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
    const char *separator = module[0] != '\0' ? ": " : "";

    char line[4608];
    int n;
    if (request_id != NULL)
        n = snprintf(line, sizeof(line), "%s %s [%s] %s%s%s (req %s)", when, log_level_name(level), log_process, module,
                     separator, message, request_id);
    else
        n = snprintf(line, sizeof(line), "%s %s [%s] %s%s%s", when, log_level_name(level), log_process, module,
                     separator, message);
    if (n < 0)
        return;
    log_write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
