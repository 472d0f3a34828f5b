/* Unit tests of storage/log.c: lines written to stderr in text and JSON form. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/log.h"
#include "t/unit/tap.h"

/* Runs log_msg with stderr redirected to a temporary file and returns what it wrote (malloc'd). */
static char *capture_log(const char *message)
{
    FILE *file = tmpfile();
    int saved = dup(STDERR_FILENO);
    dup2(fileno(file), STDERR_FILENO);
    log_msg(LOG_ERROR, "storage", NULL, "%s", message);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    long size = ftell(file);
    char *text = calloc(1, (size_t)(size > 0 ? size : 0) + 1);
    rewind(file);
    if (size > 0 && fread(text, 1, (size_t)size, file) != (size_t)size)
        text[0] = '\0';
    fclose(file);
    return text;
}

/* Returns the "message" of the one JSON line in text, or NULL when text is not one JSON object. */
static char *json_message(const char *text)
{
    json_t *line = json_loads(text, 0, NULL);
    const char *message = json_string_value(json_object_get(line, "message"));
    char *copy = message != NULL ? strdup(message) : NULL;
    json_decref(line);
    return copy;
}

int main(void)
{
    log_set_json(true);

    char *text = capture_log("plain message");
    char *message = json_message(text);
    is_str(message, "plain message", "json line keeps an ASCII message");
    free(message);
    free(text);

    /* A byte that starts no UTF-8 sequence, as in a value copied from a request. */
    text = capture_log("bad byte \xff here");
    ok(text[0] != '\0', "json line written for invalid UTF-8");
    message = json_message(text);
    is_str(message, "bad byte ? here", "json line replaces an invalid byte");
    free(message);
    free(text);

    /* A message cut at LOG_MESSAGE_MAX in the middle of a two-byte character. */
    char *long_message = malloc(LOG_MESSAGE_MAX + 2);
    memset(long_message, 'a', LOG_MESSAGE_MAX - 1);
    memcpy(long_message + LOG_MESSAGE_MAX - 1, "\xc3\xa9", 3);
    text = capture_log(long_message);
    message = json_message(text);
    ok(message != NULL, "json line written for a message cut inside a character");
    is_int(message != NULL ? (long long)strlen(message) : -1, LOG_MESSAGE_MAX, "cut message keeps its length");
    free(message);
    free(text);
    free(long_message);

    log_set_json(false);
    text = capture_log("bad byte \xff here");
    ok(strstr(text, "storage: bad byte \xff here") != NULL, "text line keeps the bytes as given");
    free(text);

    return tap_done();
}
