/* Configuration: defaults, .env, every malformed variable, MONGO_* URIs, and the secret key rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/config.h"
#include "t/unit/tap.h"

static const char *const variables[] = {
    "ENVIRONMENT",
    "SECRET_KEY",
    "KAIROS_STORAGE",
    "MONGO_HOST",
    "MONGO_USERNAME",
    "MONGO_PASSWORD",
    "MONGO_DB_NAME",
    "KAIROS_LISTEN",
    "KAIROS_WORKERS",
    "KAIROS_LOG_FORMAT",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "REFRESH_TOKEN_EXPIRE_MINUTES",
    "VERIFICATION_TOKEN_EXPIRE_MINUTES",
    "PASSWORD_RESET_TOKEN_EXPIRE_MINUTES",
    "CORS_ORIGINS",
    "MAIL_FROM",
    "FRONTEND_URL",
    "RESEND_API_KEY",
    "RESEND_API_URL",
    "KAIROS_VAR_DIR",
};

static const char strong_key[] = "0123456789abcdef0123456789abcdef-strong";

static void clear_environment(void)
{
    for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++)
        unsetenv(variables[i]);
    unlink(".env");
}

static char *read_file(const char *path)
{
    static char buf[512];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_local_defaults(void)
{
    struct config cfg;
    char err[512];
    clear_environment();
    ok(config_load(&cfg, err, sizeof(err)), "local defaults load");
    is_int(cfg.environment, ENV_LOCAL, "environment defaults to local");
    is_str(cfg.environment_name, "local", "environment name");
    is_str(cfg.storage_uri, "var/kairos.sqlite", "storage default");
    is_str(cfg.listen_host, "127.0.0.1", "listen host default");
    is_int(cfg.listen_port, 8000, "listen port default");
    ok(cfg.workers >= 1 && cfg.workers <= 256, "workers default is the CPU count within 1..256");
    ok(!cfg.log_json, "log format defaults to text");
    is_int(cfg.access_token_minutes, 60, "access token minutes default");
    is_int(cfg.refresh_token_minutes, 11520, "refresh token minutes default");
    is_int(cfg.verification_token_minutes, 15, "verification token minutes default");
    is_int(cfg.password_reset_token_minutes, 15, "password reset token minutes default");
    ok(cfg.cors_any, "CORS allows any origin in local");
    is_str(cfg.mail_from, "Kairos <no-reply@localhost>", "mail from default in local");
    is_str(cfg.frontend_url, "http://localhost:3000", "frontend url default in local");
    is_str(cfg.resend_api_url, "https://api.resend.com", "resend api url default");
    ok(cfg.resend_api_key == NULL, "no resend key by default");
    is_str(cfg.var_dir, "var", "var dir default");

    is_int(cfg.secret_key_len, 64, "generated key is 32 bytes in hex");
    struct stat st;
    ok(stat("var/secret_key", &st) == 0, "generated key file exists");
    is_int(st.st_mode & 0777, 0600, "generated key file has mode 0600");
    char *stored = read_file("var/secret_key");
    ok(stored != NULL && memcmp(stored, cfg.secret_key, 64) == 0, "key file holds the key in use");

    unsigned char first[64];
    memcpy(first, cfg.secret_key, sizeof(first));
    config_free(&cfg);
    ok(config_load(&cfg, err, sizeof(err)), "second local load");
    ok(cfg.secret_key_len == 64 && memcmp(first, cfg.secret_key, 64) == 0, "generated key is reused");
    config_free(&cfg);

    setenv("KAIROS_VAR_DIR", "other-var", 1);
    ok(config_load(&cfg, err, sizeof(err)), "load with KAIROS_VAR_DIR");
    ok(stat("other-var/secret_key", &st) == 0, "key is generated in KAIROS_VAR_DIR");
    ok(memcmp(first, cfg.secret_key, 64) != 0, "a new directory gets a new key");
    config_free(&cfg);
}

static void test_values(void)
{
    struct config cfg;
    char err[512];
    clear_environment();
    setenv("KAIROS_LISTEN", "[::1]:9001", 1);
    setenv("KAIROS_WORKERS", "3", 1);
    setenv("KAIROS_LOG_FORMAT", "json", 1);
    setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "5", 1);
    setenv("CORS_ORIGINS", " http://a.example , https://b.example:8443/ ,", 1);
    setenv("FRONTEND_URL", "https://app.example/", 1);
    setenv("KAIROS_STORAGE", "mongodb://u:p@db.example:27017/kairos", 1);
    setenv("SECRET_KEY", "short-is-fine-in-local", 1);
    ok(config_load(&cfg, err, sizeof(err)), "explicit values load");
    is_str(cfg.listen_host, "::1", "IPv6 host without brackets");
    is_int(cfg.listen_port, 9001, "IPv6 port");
    is_int(cfg.workers, 3, "workers");
    ok(cfg.log_json, "json log format");
    is_int(cfg.access_token_minutes, 5, "access token minutes");
    ok(!cfg.cors_any, "listed origins are not any");
    is_int(cfg.cors_origin_count, 2, "two origins, empty entry skipped");
    is_str(cfg.cors_origin_count > 0 ? cfg.cors_origins[0] : NULL, "http://a.example", "origin trimmed");
    is_str(cfg.cors_origin_count > 1 ? cfg.cors_origins[1] : NULL, "https://b.example:8443", "trailing slash dropped");
    is_str(cfg.frontend_url, "https://app.example", "frontend url without trailing slash");
    is_str(cfg.storage_uri, "mongodb://u:p@db.example:27017/kairos", "mongodb storage uri kept");
    is_int(cfg.secret_key_len, strlen("short-is-fine-in-local"), "given key used in local");
    config_free(&cfg);

    clear_environment();
    setenv("CORS_ORIGINS", "[\"https://a.example\", \"https://b.example\"]", 1);
    setenv("KAIROS_LISTEN", "0.0.0.0:0", 1);
    ok(config_load(&cfg, err, sizeof(err)), "JSON origins and port 0 load");
    is_int(cfg.cors_origin_count, 2, "JSON list of origins");
    is_int(cfg.listen_port, 0, "port 0 lets the kernel choose");
    config_free(&cfg);
}

static void test_mongo_variables(void)
{
    struct config cfg;
    char err[512];
    clear_environment();
    setenv("MONGO_HOST", "cluster0.abc.mongodb.net", 1);
    setenv("MONGO_USERNAME", "rider one", 1);
    setenv("MONGO_PASSWORD", "p@ss:w/rd%", 1);
    setenv("MONGO_DB_NAME", "kairos", 1);
    ok(config_load(&cfg, err, sizeof(err)), "MONGO_* variables load");
    is_str(cfg.storage_uri,
           "mongodb+srv://rider%20one:p%40ss%3Aw%2Frd%25@cluster0.abc.mongodb.net/kairos?retryWrites=true&w=majority",
           "MONGO_* build a percent-encoded URI");
    config_free(&cfg);

    setenv("KAIROS_STORAGE", "var/explicit.sqlite", 1);
    ok(config_load(&cfg, err, sizeof(err)), "KAIROS_STORAGE with MONGO_* loads");
    is_str(cfg.storage_uri, "var/explicit.sqlite", "KAIROS_STORAGE wins over MONGO_*");
    config_free(&cfg);

    unsetenv("KAIROS_STORAGE");
    unsetenv("MONGO_PASSWORD");
    ok(!config_load(&cfg, err, sizeof(err)), "MONGO_HOST without password fails");
    ok(strstr(err, "MONGO_PASSWORD") != NULL, "error names MONGO_PASSWORD");
}

static void test_secret_key_rules(void)
{
    struct config cfg;
    char err[512];
    clear_environment();
    setenv("ENVIRONMENT", "production", 1);
    ok(!config_load(&cfg, err, sizeof(err)), "production without SECRET_KEY fails");
    ok(strstr(err, "SECRET_KEY") != NULL, "error names SECRET_KEY");

    setenv("SECRET_KEY", "too-short-secret-value", 1);
    ok(!config_load(&cfg, err, sizeof(err)), "production with a short key fails");
    ok(strstr(err, "SECRET_KEY") != NULL, "short key error names SECRET_KEY");
    ok(strstr(err, "too-short-secret-value") == NULL, "short key error does not print the key");

    setenv("SECRET_KEY", strong_key, 1);
    ok(config_load(&cfg, err, sizeof(err)), "production with a strong key loads");
    is_int(cfg.environment, ENV_PRODUCTION, "production environment");
    ok(!cfg.cors_any && cfg.cors_origin_count == 0, "no cross-origin access by default outside local");
    ok(cfg.mail_from == NULL, "no default MAIL_FROM outside local");
    ok(cfg.frontend_url == NULL, "no default FRONTEND_URL outside local");
    config_free(&cfg);

    setenv("ENVIRONMENT", "staging", 1);
    setenv("SECRET_KEY", "x", 1);
    ok(!config_load(&cfg, err, sizeof(err)), "staging with a short key fails");
}

struct bad_value {
    const char *name;
    const char *value;
};

static void test_bad_values(void)
{
    static const struct bad_value cases[] = {
        {"ENVIRONMENT", "prod"},
        {"KAIROS_WORKERS", "abc"},
        {"KAIROS_WORKERS", "0"},
        {"KAIROS_WORKERS", "257"},
        {"KAIROS_WORKERS", "4x"},
        {"KAIROS_WORKERS", "-1"},
        {"KAIROS_LISTEN", "8000"},
        {"KAIROS_LISTEN", "127.0.0.1:"},
        {"KAIROS_LISTEN", "127.0.0.1:65536"},
        {"KAIROS_LISTEN", "127.0.0.1:http"},
        {"KAIROS_LISTEN", "::1:8000"},
        {"KAIROS_LISTEN", "[::1]8000"},
        {"KAIROS_LISTEN", "[nope]:8000"},
        {"KAIROS_LISTEN", "host name:80"},
        {"KAIROS_LOG_FORMAT", "xml"},
        {"ACCESS_TOKEN_EXPIRE_MINUTES", "0"},
        {"REFRESH_TOKEN_EXPIRE_MINUTES", "-5"},
        {"VERIFICATION_TOKEN_EXPIRE_MINUTES", "1.5"},
        {"PASSWORD_RESET_TOKEN_EXPIRE_MINUTES", "ten"},
        {"ACCESS_TOKEN_EXPIRE_MINUTES", "99999999999999999999"},
        {"CORS_ORIGINS", "a.example"},
        {"CORS_ORIGINS", "https://a.example/path"},
        {"CORS_ORIGINS", "*,https://a.example"},
        {"CORS_ORIGINS", "[1, 2]"},
        {"CORS_ORIGINS", "[\"*\", \"https://a.example\"]"},
        {"FRONTEND_URL", "localhost:3000"},
        {"RESEND_API_URL", "ftp://api.example"},
        {"MAIL_FROM", "no address"},
        {"KAIROS_STORAGE", "postgres://db/kairos"},
        {"KAIROS_STORAGE", "mongodb:///kairos"},
        {"KAIROS_STORAGE", "mongodb://u:p@/kairos"},
        {"KAIROS_STORAGE", "mongodb://localhost:27017"},
        {"KAIROS_STORAGE", "mongodb://localhost:27017/"},
        {"KAIROS_STORAGE", "mongodb+srv://u:p@cluster0.example/?retryWrites=true"},
        {"MONGO_HOST", "bad/host"},
    };
    struct config cfg;
    char err[512], name[160];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_environment();
        if (strcmp(cases[i].name, "MONGO_HOST") == 0) {
            setenv("MONGO_USERNAME", "u", 1);
            setenv("MONGO_PASSWORD", "p", 1);
            setenv("MONGO_DB_NAME", "d", 1);
        }
        setenv(cases[i].name, cases[i].value, 1);
        snprintf(name, sizeof(name), "%s=\"%s\" fails", cases[i].name, cases[i].value);
        bool loaded = config_load(&cfg, err, sizeof(err));
        ok(!loaded, name);
        if (loaded)
            config_free(&cfg);
        snprintf(name, sizeof(name), "%s=\"%s\" error names the variable", cases[i].name, cases[i].value);
        ok(strstr(err, cases[i].name) != NULL, name);
    }

    clear_environment();
    setenv("KAIROS_WORKERS", "abc", 1);
    config_load(&cfg, err, sizeof(err));
    is_str(err, "KAIROS_WORKERS must be an integer from 1 to 256, got \"abc\"", "workers error sentence");

    clear_environment();
    setenv("KAIROS_STORAGE", "mongodb://localhost:27017/", 1);
    config_load(&cfg, err, sizeof(err));
    is_str(err, "KAIROS_STORAGE must name the database after the host, e.g. mongodb://localhost:27017/kairos",
           "MongoDB URI without a database: error sentence");

    clear_environment();
    setenv("KAIROS_STORAGE", "mongodb+srv://u:p%40x@cluster0.example/kairos?retryWrites=true&w=majority", 1);
    ok(config_load(&cfg, err, sizeof(err)), "Atlas URI with a database loads");
    config_free(&cfg);
}

static void write_dotenv(const char *text)
{
    FILE *f = fopen(".env", "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_dotenv(void)
{
    struct config cfg;
    char err[512];
    clear_environment();
    write_dotenv("# settings for a test\n"
                 "\n"
                 "export KAIROS_WORKERS=5\n"
                 "KAIROS_LOG_FORMAT = \"json\"\n"
                 "MAIL_FROM='Rides <rides@example.com>'\n"
                 "FRONTEND_URL=https://app.example # the web client\n"
                 "KAIROS_LISTEN=127.0.0.1:7000\n");
    setenv("KAIROS_LISTEN", "127.0.0.1:7100", 1);
    ok(config_load(&cfg, err, sizeof(err)), ".env loads");
    is_int(cfg.workers, 5, ".env value with export");
    ok(cfg.log_json, ".env double-quoted value with spaces around =");
    is_str(cfg.mail_from, "Rides <rides@example.com>", ".env single-quoted value");
    is_str(cfg.frontend_url, "https://app.example", ".env inline comment dropped");
    is_int(cfg.listen_port, 7100, "environment wins over .env");
    config_free(&cfg);

    clear_environment();
    write_dotenv("KAIROS_WORKERS=2\nthis line is wrong\n");
    ok(!config_load(&cfg, err, sizeof(err)), ".env with a bad line fails");
    ok(strstr(err, ".env line 2") != NULL, ".env error names the line");

    clear_environment();
    write_dotenv("MAIL_FROM=\"unterminated\n");
    ok(!config_load(&cfg, err, sizeof(err)), ".env with an open quote fails");
    ok(strstr(err, "MAIL_FROM") != NULL, ".env quote error names the variable");

    clear_environment();
    write_dotenv("KAIROS_WORKERS=999\n");
    ok(!config_load(&cfg, err, sizeof(err)), "bad value from .env fails");
    ok(strstr(err, "KAIROS_WORKERS") != NULL, "bad value from .env names the variable");
    unlink(".env");
}

int main(void)
{
    char dir[] = "/tmp/kairos-config-test-XXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }

    test_local_defaults();
    test_values();
    test_mongo_variables();
    test_secret_key_rules();
    test_bad_values();
    test_dotenv();

    clear_environment();
    unlink("var/secret_key");
    unlink("other-var/secret_key");
    rmdir("var");
    rmdir("other-var");
    if (chdir("/") == 0)
        rmdir(dir);
    return tap_done();
}
