/*
 * Configuration: each variable is read from the environment, or else from a
 * .env file in the working directory, checked, and stored in struct config.
 * A present but malformed value is an error that names the variable and what
 * it expects; an empty value counts as unset. Error messages never contain
 * the value of a secret (SECRET_KEY, MONGO_PASSWORD, RESEND_API_KEY, or a
 * storage URI, which may hold a password).
 */
#include "server/config.h"

#include "storage/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_DOTENV_PATH         ".env"
#define CONFIG_DOTENV_MAX_LINE     4096
#define CONFIG_MIN_SECRET_KEY      32
#define CONFIG_GENERATED_KEY_BYTES 32
#define CONFIG_MAX_WORKERS         256
/* Token lifetimes above ten years are taken for a typo. */
#define CONFIG_MAX_TOKEN_MINUTES (10L * 366 * 24 * 60)

/* The variables of the .env file, in file order. */
struct config_dotenv {
    char **names;
    char **values;
    size_t count;
};

struct config_loader {
    struct config *cfg;
    struct config_dotenv dotenv;
    char *err;
    size_t err_len;
};

static bool config_fail(struct config_loader *loader, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool config_fail(struct config_loader *loader, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(loader->err, loader->err_len, fmt, ap);
    va_end(ap);
    return false;
}

static char *config_strdup(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL) {
        fputs("kairos: out of memory while reading the configuration\n", stderr);
        exit(1);
    }
    return copy;
}

static char *config_strndup(const char *s, size_t len)
{
    char *copy = strndup(s, len);
    if (copy == NULL) {
        fputs("kairos: out of memory while reading the configuration\n", stderr);
        exit(1);
    }
    return copy;
}

static void config_dotenv_free(struct config_dotenv *dotenv)
{
    for (size_t i = 0; i < dotenv->count; i++) {
        free(dotenv->names[i]);
        free(dotenv->values[i]);
    }
    free(dotenv->names);
    free(dotenv->values);
    memset(dotenv, 0, sizeof(*dotenv));
}

static void config_dotenv_add(struct config_dotenv *dotenv, char *name, char *value)
{
    char **names = realloc(dotenv->names, (dotenv->count + 1) * sizeof(*names));
    char **values = names != NULL ? realloc(dotenv->values, (dotenv->count + 1) * sizeof(*values)) : NULL;
    if (names == NULL || values == NULL) {
        fputs("kairos: out of memory while reading .env\n", stderr);
        exit(1);
    }
    dotenv->names = names;
    dotenv->values = values;
    dotenv->names[dotenv->count] = name;
    dotenv->values[dotenv->count] = value;
    dotenv->count++;
}

static char *config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/*
 * Parses one .env line: `KEY=VALUE`, `export KEY=VALUE`, a value in single
 * or double quotes (taken literally), or an unquoted value where " #" starts
 * a comment. Blank lines and lines starting with '#' are skipped.
 */
static bool config_dotenv_line(struct config_loader *loader, char *line, int lineno)
{
    line = config_trim(line);
    if (line[0] == '\0' || line[0] == '#')
        return true;
    if (strncmp(line, "export ", 7) == 0)
        line = config_trim(line + 7);

    char *eq = strchr(line, '=');
    if (eq == NULL)
        return config_fail(loader, ".env line %d: expected KEY=VALUE", lineno);
    *eq = '\0';
    char *name = config_trim(line);
    bool name_ok = name[0] != '\0' && !isdigit((unsigned char)name[0]);
    for (char *p = name; *p; p++)
        name_ok = name_ok && (isalnum((unsigned char)*p) || *p == '_');
    if (!name_ok)
        return config_fail(loader, ".env line %d: \"%.64s\" is not a variable name", lineno, name);

    char *value = config_trim(eq + 1);
    size_t len = strlen(value);
    if (len > 0 && (value[0] == '"' || value[0] == '\'')) {
        char *close = strchr(value + 1, value[0]);
        if (close == NULL)
            return config_fail(loader, ".env line %d: the value of %s has no closing quote", lineno, name);
        if (config_trim(close + 1)[0] != '\0' && config_trim(close + 1)[0] != '#')
            return config_fail(loader, ".env line %d: unexpected text after the quoted value of %s", lineno, name);
        value = config_strndup(value + 1, (size_t)(close - value - 1));
    } else {
        for (char *p = value; *p; p++) {
            if (*p == '#' && p > value && isspace((unsigned char)p[-1])) {
                *p = '\0';
                break;
            }
        }
        value = config_strdup(config_trim(value));
    }
    config_dotenv_add(&loader->dotenv, config_strdup(name), value);
    return true;
}

static bool config_dotenv_read(struct config_loader *loader)
{
    FILE *f = fopen(CONFIG_DOTENV_PATH, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return true;
        return config_fail(loader, "cannot read .env: %s", strerror(errno));
    }

    char line[CONFIG_DOTENV_MAX_LINE];
    int lineno = 0;
    bool good = true;
    while (good && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            good = config_fail(loader, ".env line %d: longer than %d bytes", lineno, CONFIG_DOTENV_MAX_LINE - 2);
            break;
        }
        good = config_dotenv_line(loader, line, lineno);
    }
    fclose(f);
    return good;
}

/* The value of a variable, the environment first, then .env; NULL when unset or empty. */
static const char *config_get(struct config_loader *loader, const char *name)
{
    const char *value = getenv(name);
    if (value == NULL) {
        /* The last assignment in the file wins, as when a shell sources it. */
        for (size_t i = loader->dotenv.count; i > 0; i--) {
            if (strcmp(loader->dotenv.names[i - 1], name) == 0) {
                value = loader->dotenv.values[i - 1];
                break;
            }
        }
    }
    return value != NULL && value[0] != '\0' ? value : NULL;
}

static bool config_parse_long(const char *s, long *out)
{
    if (s == NULL || !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+'))
        return false;
    char *end;
    errno = 0;
    long value = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = value;
    return true;
}

static bool config_environment(struct config_loader *loader)
{
    const char *value = config_get(loader, "ENVIRONMENT");
    struct config *cfg = loader->cfg;
    if (value == NULL || strcmp(value, "local") == 0) {
        cfg->environment = ENV_LOCAL;
        cfg->environment_name = "local";
    } else if (strcmp(value, "staging") == 0) {
        cfg->environment = ENV_STAGING;
        cfg->environment_name = "staging";
    } else if (strcmp(value, "production") == 0) {
        cfg->environment = ENV_PRODUCTION;
        cfg->environment_name = "production";
    } else {
        return config_fail(loader, "ENVIRONMENT must be local, staging or production, got \"%.64s\"", value);
    }
    return true;
}

/* Reads the local secret key file, or creates it with fresh random bytes (hex) when it does not exist. */
static bool config_local_secret_key(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    if (mkdir(cfg->var_dir, 0700) != 0 && errno != EEXIST)
        return config_fail(loader, "cannot create KAIROS_VAR_DIR %s: %s", cfg->var_dir, strerror(errno));

    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/secret_key", cfg->var_dir) >= sizeof(path))
        return config_fail(loader, "KAIROS_VAR_DIR is longer than %d bytes", PATH_MAX - 12);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char raw[CONFIG_GENERATED_KEY_BYTES];
        char hex[2 * CONFIG_GENERATED_KEY_BYTES + 2];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
            return config_fail(loader, "cannot generate a SECRET_KEY: getrandom failed: %s", strerror(errno));
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        hex[2 * sizeof(raw)] = '\n';

        /* O_EXCL: when two processes race, one creates the file and the other reads it below. */
        int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out >= 0) {
            ssize_t written = write(out, hex, 2 * sizeof(raw) + 1);
            int saved = errno;
            close(out);
            if (written != (ssize_t)(2 * sizeof(raw) + 1)) {
                unlink(path);
                return config_fail(loader, "cannot write %s: %s", path, strerror(saved));
            }
            log_info("config", "generated a SECRET_KEY into %s (mode 0600); it is reused at every start", path);
        } else if (errno != EEXIST) {
            return config_fail(loader, "cannot create %s: %s", path, strerror(errno));
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return config_fail(loader, "cannot read %s: %s", path, strerror(errno));

    char buf[sizeof(cfg->secret_key) + 2];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return config_fail(loader, "cannot read %s: %s", path, strerror(errno));
    buf[n] = '\0';
    char *key = config_trim(buf);
    size_t len = strlen(key);
    if (len < CONFIG_MIN_SECRET_KEY || len > sizeof(cfg->secret_key))
        return config_fail(loader, "%s must hold a key of %d to %zu bytes; delete it to have a new one generated", path,
                           CONFIG_MIN_SECRET_KEY, sizeof(cfg->secret_key));
    memcpy(cfg->secret_key, key, len);
    cfg->secret_key_len = len;
    return true;
}

static bool config_secret_key(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    const char *value = config_get(loader, "SECRET_KEY");
    if (value == NULL) {
        if (cfg->environment != ENV_LOCAL)
            return config_fail(loader,
                               "SECRET_KEY is required when ENVIRONMENT is %s: set it to at least %d random bytes",
                               cfg->environment_name, CONFIG_MIN_SECRET_KEY);
        return config_local_secret_key(loader);
    }

    size_t len = strlen(value);
    if (cfg->environment != ENV_LOCAL && len < CONFIG_MIN_SECRET_KEY)
        return config_fail(loader, "SECRET_KEY must be at least %d bytes long when ENVIRONMENT is %s, got %zu bytes",
                           CONFIG_MIN_SECRET_KEY, cfg->environment_name, len);
    if (len > sizeof(cfg->secret_key))
        return config_fail(loader, "SECRET_KEY must be at most %zu bytes long, got %zu bytes", sizeof(cfg->secret_key),
                           len);
    memcpy(cfg->secret_key, value, len);
    cfg->secret_key_len = len;
    return true;
}

/* Writes s into out percent-encoded as a URI userinfo part (RFC 3986 unreserved characters stay). */
static void config_percent_encode(const char *s, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = digits[c >> 4];
            *out++ = digits[c & 0xf];
        }
    }
    *out = '\0';
}

/* Builds mongodb+srv://user:password@host/db?retryWrites=true&w=majority from the old backend's variables. */
static bool config_mongo_uri(struct config_loader *loader, const char *host)
{
    static const char *const names[] = {"MONGO_USERNAME", "MONGO_PASSWORD", "MONGO_DB_NAME"};
    const char *values[3];
    for (size_t i = 0; i < 3; i++) {
        values[i] = config_get(loader, names[i]);
        if (values[i] == NULL)
            return config_fail(loader, "%s is required when MONGO_HOST is set (or set KAIROS_STORAGE instead)",
                               names[i]);
    }
    for (const char *p = host; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':'))
            return config_fail(
                loader, "MONGO_HOST must be a host name such as cluster0.example.mongodb.net, got \"%.64s\"", host);
    for (const char *p = values[2]; *p; p++)
        if (strchr("/\\. \"$?#", *p) != NULL)
            return config_fail(loader, "MONGO_DB_NAME must not contain / \\ . space \" $ ? or #, got \"%.64s\"",
                               values[2]);

    char *user = malloc(3 * strlen(values[0]) + 1);
    char *password = malloc(3 * strlen(values[1]) + 1);
    if (user == NULL || password == NULL) {
        fputs("kairos: out of memory while reading the configuration\n", stderr);
        exit(1);
    }
    config_percent_encode(values[0], user);
    config_percent_encode(values[1], password);

    size_t len = strlen(user) + strlen(password) + strlen(host) + strlen(values[2]) + 64;
    char *uri = malloc(len);
    if (uri == NULL) {
        fputs("kairos: out of memory while reading the configuration\n", stderr);
        exit(1);
    }
    snprintf(uri, len, "mongodb+srv://%s:%s@%s/%s?retryWrites=true&w=majority", user, password, host, values[2]);
    free(user);
    free(password);
    loader->cfg->storage_uri = uri;
    return true;
}

/* A MongoDB URI needs a host and, after it, the database Kairos keeps its collections in. */
static bool config_mongo_uri_check(struct config_loader *loader, const char *uri)
{
    const char *hosts = strstr(uri, "://") + 3;
    const char *at = strchr(hosts, '@');
    const char *slash = strchr(hosts, '/');
    if (at != NULL && (slash == NULL || at < slash))
        hosts = at + 1;
    if (hosts[0] == '\0' || hosts[0] == '/' || hosts[0] == '?')
        return config_fail(loader, "KAIROS_STORAGE is a MongoDB URI without a host");

    slash = strchr(hosts, '/');
    if (slash == NULL || slash[1] == '\0' || slash[1] == '?')
        return config_fail(loader, "KAIROS_STORAGE must name the database after the host, "
                                   "e.g. mongodb://localhost:27017/kairos");
    return true;
}

static bool config_storage(struct config_loader *loader)
{
    const char *value = config_get(loader, "KAIROS_STORAGE");
    if (value != NULL) {
        bool mongodb = strncmp(value, "mongodb://", 10) == 0 || strncmp(value, "mongodb+srv://", 14) == 0;
        if (!mongodb && strstr(value, "://") != NULL)
            return config_fail(loader, "KAIROS_STORAGE must be a mongodb:// or mongodb+srv:// URI or a SpatiaLite "
                                       "file path; other URI schemes are not supported");
        if (mongodb && !config_mongo_uri_check(loader, value))
            return false;
        loader->cfg->storage_uri = config_strdup(value);
        return true;
    }

    const char *host = config_get(loader, "MONGO_HOST");
    if (host != NULL)
        return config_mongo_uri(loader, host);
    loader->cfg->storage_uri = config_strdup("var/kairos.sqlite");
    return true;
}

/* KAIROS_LISTEN: "host:port" or "[ipv6]:port"; a port of 0 lets the kernel choose one. */
static bool config_listen(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    const char *value = config_get(loader, "KAIROS_LISTEN");
    if (value == NULL)
        value = "127.0.0.1:8000";

    const char *colon;
    char *host;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        host = config_strndup(value + 1, (size_t)(close - value - 1));
        colon = close + 1;
        unsigned char addr[16];
        if (inet_pton(AF_INET6, host, addr) != 1) {
            free(host);
            goto bad;
        }
    } else {
        colon = strrchr(value, ':');
        if (colon == NULL || colon == value || memchr(value, ':', (size_t)(colon - value)) != NULL)
            goto bad;
        host = config_strndup(value, (size_t)(colon - value));
        for (const char *p = host; *p; p++) {
            if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-')) {
                free(host);
                goto bad;
            }
        }
    }

    long port;
    if (!config_parse_long(colon + 1, &port) || port < 0 || port > 65535 || colon[1] == '+' || colon[1] == '-') {
        free(host);
        goto bad;
    }
    cfg->listen_host = host;
    cfg->listen_port = (int)port;
    return true;

bad:
    return config_fail(
        loader, "KAIROS_LISTEN must be host:port or [ipv6]:port with a port from 0 to 65535, got \"%.64s\"", value);
}

static bool config_workers(struct config_loader *loader)
{
    const char *value = config_get(loader, "KAIROS_WORKERS");
    if (value == NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus < 1)
            cpus = 1;
        if (cpus > CONFIG_MAX_WORKERS)
            cpus = CONFIG_MAX_WORKERS;
        loader->cfg->workers = (int)cpus;
        return true;
    }
    long workers;
    if (!config_parse_long(value, &workers) || workers < 1 || workers > CONFIG_MAX_WORKERS)
        return config_fail(loader, "KAIROS_WORKERS must be an integer from 1 to %d, got \"%.64s\"", CONFIG_MAX_WORKERS,
                           value);
    loader->cfg->workers = (int)workers;
    return true;
}

static bool config_log_format(struct config_loader *loader)
{
    const char *value = config_get(loader, "KAIROS_LOG_FORMAT");
    if (value == NULL || strcmp(value, "text") == 0)
        loader->cfg->log_json = false;
    else if (strcmp(value, "json") == 0)
        loader->cfg->log_json = true;
    else
        return config_fail(loader, "KAIROS_LOG_FORMAT must be text or json, got \"%.64s\"", value);
    return true;
}

static bool config_minutes(struct config_loader *loader, const char *name, long fallback, long *out)
{
    const char *value = config_get(loader, name);
    if (value == NULL) {
        *out = fallback;
        return true;
    }
    long minutes;
    if (!config_parse_long(value, &minutes) || minutes < 1 || minutes > CONFIG_MAX_TOKEN_MINUTES)
        return config_fail(loader, "%s must be a whole number of minutes from 1 to %ld, got \"%.64s\"", name,
                           CONFIG_MAX_TOKEN_MINUTES, value);
    *out = minutes;
    return true;
}

static bool config_token_lifetimes(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    return config_minutes(loader, "ACCESS_TOKEN_EXPIRE_MINUTES", 60, &cfg->access_token_minutes) &&
           config_minutes(loader, "REFRESH_TOKEN_EXPIRE_MINUTES", 11520, &cfg->refresh_token_minutes) &&
           config_minutes(loader, "VERIFICATION_TOKEN_EXPIRE_MINUTES", 15, &cfg->verification_token_minutes) &&
           config_minutes(loader, "PASSWORD_RESET_TOKEN_EXPIRE_MINUTES", 15, &cfg->password_reset_token_minutes);
}

/* True when s is an http or https URL with a host and nothing after it but an optional port. */
static bool config_is_origin(const char *s)
{
    const char *host;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return false;
    if (*host == '\0')
        return false;
    for (const char *p = host; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr(".-:[]_", *p) != NULL))
            return false;
    return true;
}

/* Adds one origin; a single trailing slash is dropped, since browsers send Origin without one. */
static bool config_cors_add(struct config_loader *loader, const char *origin, size_t len)
{
    struct config *cfg = loader->cfg;
    while (len > 0 && isspace((unsigned char)origin[0])) {
        origin++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)origin[len - 1]))
        len--;
    if (len > 0 && origin[len - 1] == '/')
        len--;
    if (len == 0)
        return true;

    char *copy = config_strndup(origin, len);
    if (strcmp(copy, "*") == 0) {
        free(copy);
        cfg->cors_any = true;
        return true;
    }
    if (!config_is_origin(copy)) {
        bool good = config_fail(loader,
                                "CORS_ORIGINS must be * or a comma-separated list of origins such as "
                                "https://app.example.com, got \"%.64s\"",
                                copy);
        free(copy);
        return good;
    }

    char **origins = realloc(cfg->cors_origins, (cfg->cors_origin_count + 1) * sizeof(*origins));
    if (origins == NULL) {
        fputs("kairos: out of memory while reading the configuration\n", stderr);
        exit(1);
    }
    cfg->cors_origins = origins;
    cfg->cors_origins[cfg->cors_origin_count++] = copy;
    return true;
}

/* CORS_ORIGINS: "*", "a,b", or a JSON list ["a","b"] as the old backend's settings accepted. */
static bool config_cors(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    const char *value = config_get(loader, "CORS_ORIGINS");
    if (value == NULL) {
        cfg->cors_any = cfg->environment == ENV_LOCAL;
        return true;
    }

    if (value[0] == '[') {
        json_error_t error;
        json_t *list = json_loads(value, 0, &error);
        size_t i;
        json_t *item;
        bool good = json_is_array(list);
        json_array_foreach(list, i, item)
        {
            if (!good)
                break;
            good = json_is_string(item) && config_cors_add(loader, json_string_value(item), json_string_length(item));
        }
        json_decref(list);
        if (!good && loader->err[0] == '\0')
            return config_fail(loader, "CORS_ORIGINS in JSON form must be a list of strings");
        if (!good)
            return false;
    } else {
        for (const char *p = value;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (!config_cors_add(loader, p, len))
                return false;
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    if (cfg->cors_any && cfg->cors_origin_count > 0)
        return config_fail(loader, "CORS_ORIGINS must be either * or a list of origins, not both");
    return true;
}

/* An http(s) URL without trailing slashes into *out; fallback (may be NULL) when unset. */
static bool config_url(struct config_loader *loader, const char *name, const char *fallback, char **out)
{
    const char *value = config_get(loader, name);
    if (value == NULL) {
        *out = fallback != NULL ? config_strdup(fallback) : NULL;
        return true;
    }
    if ((strncmp(value, "http://", 7) != 0 || value[7] == '\0') &&
        (strncmp(value, "https://", 8) != 0 || value[8] == '\0'))
        return config_fail(loader, "%s must be an http:// or https:// URL, got \"%.64s\"", name, value);
    for (const char *p = value; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return config_fail(loader, "%s must be a URL without spaces, got \"%.64s\"", name, value);

    size_t len = strlen(value);
    while (len > 0 && value[len - 1] == '/')
        len--;
    *out = config_strndup(value, len);
    return true;
}

static bool config_mail(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    bool local = cfg->environment == ENV_LOCAL;

    const char *from = config_get(loader, "MAIL_FROM");
    if (from != NULL && (strchr(from, '@') == NULL || strpbrk(from, "\r\n") != NULL))
        return config_fail(
            loader, "MAIL_FROM must be an address such as \"Kairos <no-reply@example.com>\", got \"%.64s\"", from);
    if (from != NULL)
        cfg->mail_from = config_strdup(from);
    else if (local)
        cfg->mail_from = config_strdup("Kairos <no-reply@localhost>");

    const char *key = config_get(loader, "RESEND_API_KEY");
    if (key != NULL && strpbrk(key, " \t\r\n") != NULL)
        return config_fail(loader, "RESEND_API_KEY must not contain spaces or line breaks");
    cfg->resend_api_key = key != NULL ? config_strdup(key) : NULL;

    return config_url(loader, "FRONTEND_URL", local ? "http://localhost:3000" : NULL, &cfg->frontend_url) &&
           config_url(loader, "RESEND_API_URL", "https://api.resend.com", &cfg->resend_api_url);
}

static bool config_load_all(struct config_loader *loader)
{
    struct config *cfg = loader->cfg;
    const char *var_dir = config_get(loader, "KAIROS_VAR_DIR");
    cfg->var_dir = config_strdup(var_dir != NULL ? var_dir : "var");

    return config_environment(loader) && config_secret_key(loader) && config_storage(loader) && config_listen(loader) &&
           config_workers(loader) && config_log_format(loader) && config_token_lifetimes(loader) &&
           config_cors(loader) && config_mail(loader);
}

bool config_load(struct config *cfg, char *err, size_t err_len)
{
    struct config_loader loader = {.cfg = cfg, .err = err, .err_len = err_len};
    memset(cfg, 0, sizeof(*cfg));
    if (err_len > 0)
        err[0] = '\0';

    bool good = config_dotenv_read(&loader) && config_load_all(&loader);
    config_dotenv_free(&loader.dotenv);
    if (!good)
        config_free(cfg);
    return good;
}

void config_free(struct config *cfg)
{
    free(cfg->storage_uri);
    free(cfg->listen_host);
    for (size_t i = 0; i < cfg->cors_origin_count; i++)
        free(cfg->cors_origins[i]);
    free(cfg->cors_origins);
    free(cfg->mail_from);
    free(cfg->frontend_url);
    free(cfg->resend_api_key);
    free(cfg->resend_api_url);
    free(cfg->var_dir);
    explicit_bzero(cfg, sizeof(*cfg));
}
