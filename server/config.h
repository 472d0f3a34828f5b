/*
 * Configuration, read once at start from the environment, after a .env file
 * in the working directory (variables already set in the environment win).
 * A bad value is a startup error naming the variable, never a default.
 */
#ifndef KAIROS_CONFIG_H
#define KAIROS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum environment { ENV_LOCAL, ENV_STAGING, ENV_PRODUCTION };

struct config {
    enum environment environment;
    const char *environment_name;

    unsigned char secret_key[256];
    size_t secret_key_len;

    char *storage_uri; /* KAIROS_STORAGE, or built from MONGO_*; default var/kairos.sqlite */
    char *listen_host; /* KAIROS_LISTEN host part; default 127.0.0.1 */
    int listen_port;   /* default 8000 */
    int workers;       /* KAIROS_WORKERS; default the number of CPUs */
    bool log_json;     /* KAIROS_LOG_FORMAT=json */

    long access_token_minutes;         /* ACCESS_TOKEN_EXPIRE_MINUTES, 60 */
    long refresh_token_minutes;        /* REFRESH_TOKEN_EXPIRE_MINUTES, 11520 */
    long verification_token_minutes;   /* VERIFICATION_TOKEN_EXPIRE_MINUTES, 15 */
    long password_reset_token_minutes; /* PASSWORD_RESET_TOKEN_EXPIRE_MINUTES, 15 */

    /* CORS_ORIGINS: "*" (cors_any) or a list of exact origins. */
    bool cors_any;
    char **cors_origins;
    size_t cors_origin_count;

    char *mail_from;      /* MAIL_FROM */
    char *frontend_url;   /* FRONTEND_URL, without a trailing slash */
    char *resend_api_key; /* RESEND_API_KEY; NULL selects the log transport */
    char *resend_api_url; /* RESEND_API_URL; default https://api.resend.com */

    char *var_dir; /* KAIROS_VAR_DIR, default "var": generated secret key */
};

/*
 * Fills cfg from the environment (and ./.env). On error writes a sentence that
 * names the variable into err and returns false.
 */
bool config_load(struct config *cfg, char *err, size_t err_len);

/* Frees what config_load allocated and zeroes cfg (the secret key included). */
void config_free(struct config *cfg);

#endif
