/*
 * The SpatiaLite backend: one SQLite file with the mod_spatialite extension,
 * for development, tests and single-host installs. This file opens the
 * connection (extension, pragmas, schema) and defines the operation table.
 * The operations live in users.c, journeys.c, nearby.c, markers.c, refresh.c
 * and mail.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/backends.h"
#include "storage/log.h"
#include "storage/spatialite/spatialite.h"

/* How long a writer waits for another process's write lock before UNAVAILABLE. */
#define SPATIALITE_BUSY_TIMEOUT_MS 5000

static void spatialite_close(struct storage *s)
{
    struct spatialite_storage *sl = spatialite_from(s);
    for (size_t i = 0; i < sl->statement_count; i++)
        sqlite3_finalize(sl->statements[i].stmt);
    free(sl->statements);
    if (sqlite3_close(sl->db) != SQLITE_OK)
        log_error("storage", "close database failed: %s", sqlite3_errmsg(sl->db));
    free(sl);
}

static enum kairos_error spatialite_ping(struct storage *s)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT count(*) FROM users WHERE 0");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return spatialite_fail(sl, rc, "ping");
    return KAIROS_OK;
}

static const struct storage_ops spatialite_ops = {
    .name = "spatialite",
    .close = spatialite_close,
    .ping = spatialite_ping,
    .user_create = spatialite_user_create,
    .user_get = spatialite_user_get,
    .user_get_by_email = spatialite_user_get_by_email,
    .user_update = spatialite_user_update,
    .user_set_password = spatialite_user_set_password,
    .user_set_verified = spatialite_user_set_verified,
    .user_delete = spatialite_user_delete,
    .journey_create = spatialite_journey_create,
    .journey_get = spatialite_journey_get,
    .journey_list_by_user = spatialite_journey_list_by_user,
    .journey_get_active = spatialite_journey_get_active,
    .journey_toggle_active = spatialite_journey_toggle_active,
    .journey_update = spatialite_journey_update,
    .journey_delete = spatialite_journey_delete,
    .journey_nearby = spatialite_journey_nearby,
    .marker_create = spatialite_marker_create,
    .marker_list_by_journey = spatialite_marker_list_by_journey,
    .marker_update = spatialite_marker_update,
    .marker_delete = spatialite_marker_delete,
    .refresh_family_create = spatialite_refresh_family_create,
    .refresh_family_rotate = spatialite_refresh_family_rotate,
    .refresh_family_revoke_user = spatialite_refresh_family_revoke_user,
    .mail_enqueue = spatialite_mail_enqueue,
    .mail_claim = spatialite_mail_claim,
    .mail_mark_sent = spatialite_mail_mark_sent,
    .mail_mark_retry = spatialite_mail_mark_retry,
    .mail_mark_failed = spatialite_mail_mark_failed,
    .mail_get = spatialite_mail_get,
};

/* Names the missing directory, where SQLite would report only "unable to open database file". */
static bool spatialite_check_directory(const char *path, char *err, size_t err_len)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return true;
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = strndup(path, len);
    if (dir == NULL) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    struct stat st;
    bool exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!exists)
        snprintf(err, err_len, "cannot open database %s: directory %s does not exist (create it first)", path, dir);
    free(dir);
    return exists;
}

/* Loads mod_spatialite, allowing extension loading on this connection for that call only. */
static bool spatialite_load_extension(sqlite3 *db, char *err, size_t err_len)
{
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot enable extension loading: %s", sqlite3_errmsg(db));
        return false;
    }
    char *message = NULL;
    int rc = sqlite3_load_extension(db, "mod_spatialite", NULL, &message);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot load mod_spatialite (install libsqlite3-mod-spatialite): %s",
                 message ? message : sqlite3_errstr(rc));
        sqlite3_free(message);
        return false;
    }
    return true;
}

/*
 * WAL lets readers proceed while one process writes; synchronous=NORMAL is
 * durable against a crash of the process, and may lose the last commits on a
 * power failure, the usual trade-off for WAL. temp_store=MEMORY keeps the
 * statement journals of every trigger-laden INSERT (the spatial index
 * triggers) out of temporary files.
 */
static bool spatialite_configure(sqlite3 *db, char *err, size_t err_len)
{
    static const char *const pragmas[] = {
        "PRAGMA foreign_keys = ON",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA temp_store = MEMORY",
    };
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        char *message = NULL;
        if (sqlite3_exec(db, pragmas[i], NULL, NULL, &message) != SQLITE_OK) {
            snprintf(err, err_len, "%s failed: %s", pragmas[i], message ? message : sqlite3_errmsg(db));
            sqlite3_free(message);
            return false;
        }
    }
    return true;
}

static enum kairos_error spatialite_open_connection(const char *path, sqlite3 **db, char *err, size_t err_len)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open database %s: %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        return KAIROS_ERR_UNAVAILABLE;
    }
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, SPATIALITE_BUSY_TIMEOUT_MS);
    if (!spatialite_load_extension(*db, err, err_len))
        return KAIROS_ERR_INTERNAL;
    if (!spatialite_configure(*db, err, err_len))
        return KAIROS_ERR_UNAVAILABLE;
    return KAIROS_OK;
}

enum kairos_error spatialite_storage_open(const char *path, struct storage **out, char *err, size_t err_len)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        snprintf(err, err_len, "the database path is empty");
        return KAIROS_ERR_INVALID;
    }
    if (!spatialite_check_directory(path, err, err_len))
        return KAIROS_ERR_INVALID;

    struct spatialite_storage *sl = calloc(1, sizeof(*sl));
    if (sl == NULL) {
        snprintf(err, err_len, "out of memory");
        return KAIROS_ERR_INTERNAL;
    }
    sl->base.ops = &spatialite_ops;

    enum kairos_error result = spatialite_open_connection(path, &sl->db, err, err_len);
    if (result == KAIROS_OK)
        result = spatialite_migrate(sl, err, err_len);
    if (result != KAIROS_OK) {
        sqlite3_close(sl->db);
        free(sl);
        return result;
    }
    *out = &sl->base;
    return KAIROS_OK;
}
