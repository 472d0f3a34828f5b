/*
 * The Resend transport: one POST /emails per message through libcurl, with
 * the API key as a bearer token and an Idempotency-Key per outbox entry.
 * Resend returns 2xx when it accepted the mail. 408, 409, 429 and 5xx are
 * temporary, and any other 4xx means the request itself is wrong. A 409 that
 * reports a used Idempotency-Key counts as sent. TLS verification stays on;
 * tests point RESEND_API_URL at a plain-http server on loopback.
 */
#include "mail/transport.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "storage/log.h"

/* Response bodies are read up to this size, because Resend's responses are a few hundred bytes. */
#define MAIL_RESPONSE_MAX 16384

struct mail_response {
    char body[MAIL_RESPONSE_MAX + 1];
    size_t len;
    long retry_after_s; /* -1 when the header is absent or unreadable */
};

static size_t mail_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct mail_response *response = userdata;
    size_t n = size * nmemb;
    size_t room = MAIL_RESPONSE_MAX - response->len;
    size_t take = n < room ? n : room;
    memcpy(response->body + response->len, data, take);
    response->len += take;
    response->body[response->len] = '\0';
    return n; /* the rest of an oversized body is dropped, not an error */
}

/* Reads Retry-After as delay-seconds or as an HTTP date (RFC 9110, section 10.2.3). */
static long mail_parse_retry_after(const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        errno = 0;
        char *end;
        long seconds = strtol(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (errno != 0 || *end != '\0' || seconds < 0)
            return -1;
        return seconds;
    }

    char date[128];
    size_t len = strcspn(value, "\r\n");
    if (len == 0 || len >= sizeof(date))
        return -1;
    memcpy(date, value, len);
    date[len] = '\0';
    time_t when = curl_getdate(date, NULL);
    if (when == -1)
        return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static size_t mail_on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct mail_response *response = userdata;
    size_t n = size * nmemb;
    static const char name[] = "Retry-After:";
    size_t name_len = sizeof(name) - 1;
    if (n > name_len && n < 256 && strncasecmp(data, name, name_len) == 0) {
        char value[256];
        memcpy(value, data + name_len, n - name_len);
        value[n - name_len] = '\0';
        response->retry_after_s = mail_parse_retry_after(value);
    }
    return n;
}

static char *mail_request_body(const struct config *cfg, const struct mail_message *msg)
{
    json_t *body = json_pack("{s:s, s:[s], s:s, s:s, s:s}", "from", cfg->mail_from, "to", msg->to, "subject",
                             msg->subject, "html", msg->html, "text", msg->text);
    if (body == NULL)
        return NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* Writes Resend's error ("name" and "message" of its JSON response), or the status alone, into result->error. */
static void mail_describe_error(const struct mail_response *response, long status, struct mail_send_result *result)
{
    json_t *root = json_loadb(response->body, response->len, 0, NULL);
    const char *message = json_string_value(json_object_get(root, "message"));
    const char *name = json_string_value(json_object_get(root, "name"));
    if (message != NULL && name != NULL)
        snprintf(result->error, sizeof(result->error), "Resend returned %ld %s: %s", status, name, message);
    else if (message != NULL)
        snprintf(result->error, sizeof(result->error), "Resend returned %ld: %s", status, message);
    else
        snprintf(result->error, sizeof(result->error), "Resend returned %ld", status);
    json_decref(root);
}

/* True when Resend's 409 response reports that the Idempotency-Key was used already. */
static bool mail_key_was_used(const struct mail_response *response)
{
    json_t *root = json_loadb(response->body, response->len, 0, NULL);
    const char *name = json_string_value(json_object_get(root, "name"));
    bool used = name != NULL && strcmp(name, "invalid_idempotent_request") == 0;
    json_decref(root);
    return used;
}

static void mail_classify_status(long status, const struct mail_response *response, struct mail_send_result *result)
{
    result->http_status = status;
    result->retry_after_s = response->retry_after_s;
    if (status >= 200 && status < 300) {
        result->status = MAIL_SEND_OK;
        result->error[0] = '\0';
        return;
    }

    mail_describe_error(response, status, result);
    /*
     * The payload differs between attempts because the token in the link is fresh.
     * Resend documents that it checks whether an email with the same key "has
     * already been sent in the last 24 hours", so a used key means an earlier
     * attempt went through and only its response was lost.
     * NOTE: this relies on Resend keeping the keys of accepted requests only. A key
     * kept after a rejected request would make a never-sent mail count as sent.
     */
    if (status == 409 && mail_key_was_used(response)) {
        result->status = MAIL_SEND_OK;
        return;
    }
    if (status == 408 || status == 409 || status == 429 || status >= 500)
        result->status = MAIL_SEND_RETRY;
    else
        result->status = MAIL_SEND_FAILED;
}

static struct curl_slist *mail_request_headers(const struct config *cfg, const char *idempotency_key)
{
    char authorization[1024];
    char key_header[320];
    int n = snprintf(authorization, sizeof(authorization), "Authorization: Bearer %s", cfg->resend_api_key);
    int m = snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", idempotency_key);
    if (n < 0 || (size_t)n >= sizeof(authorization) || m < 0 || (size_t)m >= sizeof(key_header))
        return NULL;

    struct curl_slist *headers = NULL;
    const char *lines[] = {authorization, key_header, "Content-Type: application/json", "Accept: application/json",
                           "User-Agent: kairos-mail"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct curl_slist *next = curl_slist_append(headers, lines[i]);
        if (next == NULL) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = next;
    }
    return headers;
}

static bool mail_set_options(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                             const struct mail_send_options *options, struct mail_response *response)
{
    return curl_easy_setopt(curl, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options->connect_timeout_ms) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options->timeout_ms) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, mail_on_body) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_WRITEDATA, response) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, mail_on_header) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_HEADERDATA, response) == CURLE_OK;
}

/* Performs the request; fills result from the transfer's outcome. */
static void mail_perform(CURL *curl, struct mail_response *response, struct mail_send_result *result)
{
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        /* No response (timeout, refused, reset, TLS failure): retry later, and the key prevents a double send. */
        result->status = MAIL_SEND_RETRY;
        result->http_status = 0;
        snprintf(result->error, sizeof(result->error), "request to Resend failed: %s", curl_easy_strerror(rc));
        return;
    }
    long status = 0;
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
        result->status = MAIL_SEND_RETRY;
        snprintf(result->error, sizeof(result->error), "reading the HTTP status of the Resend response failed");
        return;
    }
    mail_classify_status(status, response, result);
}

void mail_resend_send(const struct config *cfg, const struct mail_message *msg, const char *idempotency_key,
                      const struct mail_send_options *options, struct mail_send_result *result)
{
    memset(result, 0, sizeof(*result));
    result->status = MAIL_SEND_RETRY;
    result->retry_after_s = -1;

    char url[1024];
    int n = snprintf(url, sizeof(url), "%s/emails", cfg->resend_api_url);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(result->error, sizeof(result->error), "RESEND_API_URL is too long");
        return;
    }

    struct mail_response *response = calloc(1, sizeof(*response));
    char *body = mail_request_body(cfg, msg);
    struct curl_slist *headers = mail_request_headers(cfg, idempotency_key);
    CURL *curl = curl_easy_init();
    if (response == NULL || body == NULL || headers == NULL || curl == NULL) {
        snprintf(result->error, sizeof(result->error),
                 "building the Resend request failed (missing MAIL_FROM, or out of memory)");
        goto done;
    }
    response->retry_after_s = -1;

    if (!mail_set_options(curl, url, headers, body, options, response)) {
        snprintf(result->error, sizeof(result->error), "setting libcurl options failed");
        goto done;
    }
    mail_perform(curl, response, result);

done:
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    free(body);
    free(response);
}

void mail_transport_send(const struct config *cfg, const struct mail_message *msg, const char *idempotency_key,
                         const struct mail_send_options *options, struct mail_send_result *result)
{
    if (cfg->resend_api_key == NULL || cfg->resend_api_key[0] == '\0')
        mail_log_send(msg, result);
    else
        mail_resend_send(cfg, msg, idempotency_key, options, result);
}
