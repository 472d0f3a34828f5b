/*
 * The kairos command: `kairos serve` runs the HTTP server (a master and its
 * workers), `kairos lambda` runs under the AWS Lambda Runtime API, and
 * `kairos version` prints the version. Both servers read the same
 * configuration from the environment and ./.env.
 */
#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/lambda.h"
#include "server/master.h"
#include "server/version.h"
#include "storage/log.h"

/* Exit code of a usage or configuration error. */
#define MAIN_EXIT_USAGE 2

static void main_usage(FILE *out)
{
    fputs("usage: kairos COMMAND\n"
          "\n"
          "commands:\n"
          "  serve     run the HTTP server on KAIROS_LISTEN (default 127.0.0.1:8000)\n"
          "  lambda    serve requests from the AWS Lambda Runtime API\n"
          "  version   print the version\n"
          "  help      print this help\n"
          "\n"
          "Settings come from the environment and from ./.env (the environment wins):\n"
          "  ENVIRONMENT            local, staging or production (default local)\n"
          "  SECRET_KEY             JWT signing key, at least 32 bytes outside local;\n"
          "                         in local one is generated into KAIROS_VAR_DIR/secret_key\n"
          "  KAIROS_STORAGE         SpatiaLite file path or mongodb:// URI (default var/kairos.sqlite);\n"
          "                         MONGO_HOST, MONGO_USERNAME, MONGO_PASSWORD, MONGO_DB_NAME build a\n"
          "                         mongodb+srv:// URI instead\n"
          "  KAIROS_LISTEN          host:port or [ipv6]:port (default 127.0.0.1:8000)\n"
          "  KAIROS_WORKERS         worker processes, 1 to 256 (default: the number of CPUs)\n"
          "  KAIROS_LOG_FORMAT      text or json (default text)\n"
          "  KAIROS_VAR_DIR         directory for generated files (default var)\n"
          "  ACCESS_TOKEN_EXPIRE_MINUTES, REFRESH_TOKEN_EXPIRE_MINUTES,\n"
          "  VERIFICATION_TOKEN_EXPIRE_MINUTES, PASSWORD_RESET_TOKEN_EXPIRE_MINUTES\n"
          "                         token lifetimes in minutes (default 60, 11520, 15, 15)\n"
          "  CORS_ORIGINS           * or a comma-separated list of origins (default * in local, none elsewhere)\n"
          "  MAIL_FROM, FRONTEND_URL, RESEND_API_KEY, RESEND_API_URL\n"
          "                         mail sender address, base of links in mail, Resend API key and URL\n"
          "\n"
          "Signals to `kairos serve`: SIGTERM or SIGINT stop it after the requests in flight,\n"
          "SIGHUP replaces the workers one at a time.\n",
          out);
}

static int main_serve(void)
{
    struct config cfg;
    char err[512];
    if (!config_load(&cfg, err, sizeof(err))) {
        fprintf(stderr, "kairos: configuration error: %s\n", err);
        return MAIN_EXIT_USAGE;
    }
    log_set_json(cfg.log_json);
    int rc = master_run(&cfg);
    config_free(&cfg);
    return rc;
}

static int main_lambda(void)
{
    struct config cfg;
    char err[512];
    if (!config_load(&cfg, err, sizeof(err))) {
        char message[600];
        snprintf(message, sizeof(message), "configuration error: %s", err);
        return lambda_report_init_error(message);
    }
    log_set_json(cfg.log_json);
    int rc = lambda_run(&cfg);
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        main_usage(stderr);
        return MAIN_EXIT_USAGE;
    }

    const char *command = argv[1];
    if (strcmp(command, "serve") == 0)
        return main_serve();
    if (strcmp(command, "lambda") == 0)
        return main_lambda();
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("kairos %s\n", KAIROS_VERSION);
        return 0;
    }
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        main_usage(stdout);
        return 0;
    }

    fprintf(stderr, "kairos: unknown command \"%s\"\n\n", command);
    main_usage(stderr);
    return MAIN_EXIT_USAGE;
}
