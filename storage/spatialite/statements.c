/*
 * SQLite plumbing of the SpatiaLite backend: the prepared-statement cache,
 * transactions, result-code mapping and column reading used by every
 * operation.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/log.h"
#include "storage/spatialite/spatialite.h"

static sqlite3_stmt *spatialite_cache_find(struct spatialite_storage *sl, const char *sql)
{
    for (size_t i = 0; i < sl->statement_count; i++)
        if (sl->statements[i].sql == sql)
            return sl->statements[i].stmt;
    return NULL;
}

static bool spatialite_cache_add(struct spatialite_storage *sl, const char *sql, sqlite3_stmt *stmt)
{
    if (sl->statement_count == sl->statement_capacity) {
        size_t capacity = sl->statement_capacity ? sl->statement_capacity * 2 : 32;
        struct spatialite_statement *grown = realloc(sl->statements, capacity * sizeof(*grown));
        if (grown == NULL)
            return false;
        sl->statements = grown;
        sl->statement_capacity = capacity;
    }
    sl->statements[sl->statement_count].sql = sql;
    sl->statements[sl->statement_count].stmt = stmt;
    sl->statement_count++;
    return true;
}

sqlite3_stmt *spatialite_prepare(struct spatialite_storage *sl, const char *sql)
{
    sqlite3_stmt *stmt = spatialite_cache_find(sl, sql);
    if (stmt != NULL) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return stmt;
    }

    int rc = sqlite3_prepare_v3(sl->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        log_error("storage", "prepare statement failed: %s (%.60s)", sqlite3_errmsg(sl->db), sql);
        sqlite3_finalize(stmt);
        return NULL;
    }
    if (!spatialite_cache_add(sl, sql, stmt)) {
        log_error("storage", "out of memory caching a prepared statement");
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

enum kairos_error spatialite_fail(struct spatialite_storage *sl, int rc, const char *operation)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        log_warn("storage", "%s failed: %s", operation, sqlite3_errstr(rc));
        return KAIROS_ERR_UNAVAILABLE;
    }
    log_error("storage", "%s failed: %s", operation, sqlite3_errmsg(sl->db));
    return KAIROS_ERR_INTERNAL;
}

static enum kairos_error spatialite_exec_control(struct spatialite_storage *sl, const char *sql, const char *operation)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, sql);
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return spatialite_fail(sl, rc, operation);
    return KAIROS_OK;
}

enum kairos_error spatialite_begin_write(struct spatialite_storage *sl)
{
    return spatialite_exec_control(sl, "BEGIN IMMEDIATE", "begin write transaction");
}

enum kairos_error spatialite_begin_read(struct spatialite_storage *sl)
{
    return spatialite_exec_control(sl, "BEGIN", "begin read transaction");
}

enum kairos_error spatialite_commit(struct spatialite_storage *sl)
{
    enum kairos_error err = spatialite_exec_control(sl, "COMMIT", "commit");
    if (err != KAIROS_OK)
        return spatialite_rollback(sl, err);
    return KAIROS_OK;
}

enum kairos_error spatialite_rollback(struct spatialite_storage *sl, enum kairos_error err)
{
    /* A failed statement may already have ended the transaction (RAISE(ROLLBACK) in a trigger). */
    if (!sqlite3_get_autocommit(sl->db))
        spatialite_exec_control(sl, "ROLLBACK", "rollback");
    return err;
}

enum kairos_error spatialite_run(struct spatialite_storage *sl, sqlite3_stmt *stmt, const char *operation)
{
    int rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(stmt);
        return KAIROS_OK;
    }

    enum kairos_error err;
    int extended = sqlite3_extended_errcode(sl->db);
    if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY)
        err = KAIROS_ERR_DUPLICATE;
    else if (extended == SQLITE_CONSTRAINT_FOREIGNKEY)
        err = KAIROS_ERR_NOT_FOUND;
    else
        err = spatialite_fail(sl, rc, operation);
    sqlite3_reset(stmt);
    return err;
}

int spatialite_bind_text(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value == NULL)
        return sqlite3_bind_null(stmt, index);
    return sqlite3_bind_text(stmt, index, value, -1, SQLITE_STATIC);
}

char *spatialite_column_text(struct pool *pool, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    if (text == NULL)
        return NULL;
    return pool_strndup(pool, (const char *)text, (size_t)sqlite3_column_bytes(stmt, column));
}

void spatialite_column_id(sqlite3_stmt *stmt, int column, char out[ID_HEX_LEN + 1])
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    out[0] = '\0';
    if (text != NULL && sqlite3_column_bytes(stmt, column) == ID_HEX_LEN) {
        memcpy(out, text, ID_HEX_LEN);
        out[ID_HEX_LEN] = '\0';
    }
}

void *spatialite_array_reserve(struct pool *pool, void *items, size_t element_size, size_t count, size_t *capacity)
{
    if (count < *capacity)
        return items;
    size_t grown = *capacity ? *capacity * 2 : 8;
    void *fresh = pool_alloc(pool, grown * element_size);
    if (count > 0)
        memcpy(fresh, items, count * element_size);
    *capacity = grown;
    return fresh;
}
