/*
 * Schema of the SpatiaLite backend and its migrations. PRAGMA user_version
 * is the number of migrations applied. Opening a database applies the
 * missing ones in order in one write transaction, so two processes opening
 * the same new file do not both create the schema.
 */
#include <stdio.h>
#include <string.h>

#include "storage/spatialite/spatialite.h"

/*
 * A migration is a list of statements. A statement that returns a row must
 * return 1 in its first column: the SpatiaLite functions (AddGeometryColumn,
 * CreateSpatialIndex) report failure by returning 0, not by an error code.
 */
struct spatialite_migration {
    const char *const *statements;
};

static const char *const spatialite_migration_1[] = {
    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY,"
    " email TEXT NOT NULL,"
    " email_normalized TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " phonenumber TEXT,"
    " instagram TEXT,"
    " country TEXT,"
    " is_verified INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0, 1)),"
    " password_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL)",

    "CREATE TABLE journeys ("
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),"
    " completed INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),"
    " CHECK (NOT (active = 1 AND completed = 1)))",
    "CREATE INDEX journeys_user_created ON journeys (user_id, created_at)",
    /* At most one active journey per user, whatever the number of writers. */
    "CREATE UNIQUE INDEX journeys_one_active ON journeys (user_id) WHERE active = 1",

    /* seq is the rowid: insertion order, and the key of the spatial index. */
    "CREATE TABLE markers ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " journey_id TEXT NOT NULL REFERENCES journeys (id) ON DELETE CASCADE,"
    " owner_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " marker_type TEXT NOT NULL CHECK (marker_type IN ('past', 'plan')),"
    " lng REAL NOT NULL CHECK (lng BETWEEN -180 AND 180),"
    " lat REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),"
    " alt REAL,"
    " timestamp TEXT,"
    " estimated_time TEXT,"
    " notes TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL)",
    "CREATE INDEX markers_journey ON markers (journey_id, seq)",
    "SELECT AddGeometryColumn('markers', 'geom', 4326, 'POINT', 'XY', 1)",
    "SELECT CreateSpatialIndex('markers', 'geom')",

    "CREATE TABLE refresh_families ("
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " current_jti TEXT NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
    " expires_at INTEGER NOT NULL)",
    "CREATE INDEX refresh_families_user ON refresh_families (user_id)",

    "CREATE TABLE mail_outbox ("
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL CHECK (kind IN ('verify_email', 'reset_password')),"
    " to_email TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL,"
    " lease_until INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " created_at INTEGER NOT NULL)",
    "CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at)",
    "CREATE INDEX mail_outbox_user ON mail_outbox (user_id)",
    NULL,
};

/*
 * A per-journey marker count kept by triggers, so marker_create checks the
 * limit in constant time instead of counting up to 10000 rows per insert.
 */
static const char *const spatialite_migration_2[] = {
    "ALTER TABLE journeys ADD COLUMN marker_count INTEGER NOT NULL DEFAULT 0",
    "UPDATE journeys SET marker_count = (SELECT count(*) FROM markers WHERE markers.journey_id = journeys.id)",
    "CREATE TRIGGER markers_count_insert AFTER INSERT ON markers BEGIN"
    " UPDATE journeys SET marker_count = marker_count + 1 WHERE id = NEW.journey_id; END",
    "CREATE TRIGGER markers_count_delete AFTER DELETE ON markers BEGIN"
    " UPDATE journeys SET marker_count = marker_count - 1 WHERE id = OLD.journey_id; END",
    "CREATE TRIGGER markers_count_move AFTER UPDATE OF journey_id ON markers BEGIN"
    " UPDATE journeys SET marker_count = marker_count - 1 WHERE id = OLD.journey_id;"
    " UPDATE journeys SET marker_count = marker_count + 1 WHERE id = NEW.journey_id; END",
    NULL,
};

static const struct spatialite_migration spatialite_migrations[] = {
    {spatialite_migration_1},
    {spatialite_migration_2},
};

#define SPATIALITE_MIGRATION_COUNT ((int)(sizeof(spatialite_migrations) / sizeof(spatialite_migrations[0])))

int spatialite_schema_version(void)
{
    return SPATIALITE_MIGRATION_COUNT;
}

/* Runs one statement once (no cache: migrations run once per open). */
static bool spatialite_exec_checked(sqlite3 *db, const char *sql, char *err, size_t err_len)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 1) {
            snprintf(err, err_len, "schema statement returned %d: %.80s", sqlite3_column_int(stmt, 0), sql);
            sqlite3_finalize(stmt);
            return false;
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        snprintf(err, err_len, "schema statement failed: %s: %.80s", sqlite3_errmsg(db), sql);
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK;
}

static int spatialite_read_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int value = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

/*
 * Creates the SpatiaLite metadata tables (spatial_ref_sys with the WGS84
 * systems only, geometry_columns...) unless the file has them already.
 */
static bool spatialite_init_metadata(sqlite3 *db, char *err, size_t err_len)
{
    if (spatialite_read_int(db, "SELECT CheckSpatialMetaData()") > 0)
        return true;
    /* The first argument 0 runs it inside our transaction instead of its own. */
    return spatialite_exec_checked(db, "SELECT InitSpatialMetadata(0, 'WGS84')", err, err_len);
}

static bool spatialite_apply(sqlite3 *db, int from, char *err, size_t err_len)
{
    if (from == 0 && !spatialite_init_metadata(db, err, err_len))
        return false;
    for (int version = from; version < SPATIALITE_MIGRATION_COUNT; version++)
        for (const char *const *sql = spatialite_migrations[version].statements; *sql != NULL; sql++)
            if (!spatialite_exec_checked(db, *sql, err, err_len))
                return false;

    char pragma[64];
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", SPATIALITE_MIGRATION_COUNT);
    return spatialite_exec_checked(db, pragma, err, err_len);
}

enum kairos_error spatialite_migrate(struct spatialite_storage *sl, char *err, size_t err_len)
{
    int rc = sqlite3_exec(sl->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot lock the database to check its schema: %s", sqlite3_errmsg(sl->db));
        return (rc & 0xff) == SQLITE_BUSY ? KAIROS_ERR_UNAVAILABLE : KAIROS_ERR_INTERNAL;
    }

    int version = spatialite_read_int(sl->db, "PRAGMA user_version");
    if (version < 0 || version > SPATIALITE_MIGRATION_COUNT) {
        snprintf(err, err_len, "database schema version %d is not one this build knows (0 to %d)", version,
                 SPATIALITE_MIGRATION_COUNT);
        sqlite3_exec(sl->db, "ROLLBACK", NULL, NULL, NULL);
        return KAIROS_ERR_INTERNAL;
    }
    if (version < SPATIALITE_MIGRATION_COUNT && !spatialite_apply(sl->db, version, err, err_len)) {
        sqlite3_exec(sl->db, "ROLLBACK", NULL, NULL, NULL);
        return KAIROS_ERR_INTERNAL;
    }

    rc = sqlite3_exec(sl->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot commit the schema: %s", sqlite3_errmsg(sl->db));
        sqlite3_exec(sl->db, "ROLLBACK", NULL, NULL, NULL);
        return KAIROS_ERR_INTERNAL;
    }
    return KAIROS_OK;
}
