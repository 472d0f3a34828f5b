/* Users in the SpatiaLite backend: the users table, unique on the normalized email. */
#include <ctype.h>
#include <string.h>

#include "storage/spatialite/spatialite.h"

#define USER_COLUMNS "id, email, name, phonenumber, instagram, country, is_verified, password_hash, created_at"

static void user_read_row(struct pool *pool, sqlite3_stmt *stmt, struct user *out)
{
    memset(out, 0, sizeof(*out));
    spatialite_column_id(stmt, 0, out->id);
    out->email = spatialite_column_text(pool, stmt, 1);
    out->name = spatialite_column_text(pool, stmt, 2);
    out->phonenumber = spatialite_column_text(pool, stmt, 3);
    out->instagram = spatialite_column_text(pool, stmt, 4);
    out->country = spatialite_column_text(pool, stmt, 5);
    out->is_verified = sqlite3_column_int(stmt, 6) != 0;
    out->password_hash = spatialite_column_text(pool, stmt, 7);
    out->created_at = sqlite3_column_int64(stmt, 8);
}

/* Steps a query for at most one user row; NOT_FOUND when there is none. */
static enum kairos_error user_read_one(struct spatialite_storage *sl, struct pool *pool, sqlite3_stmt *stmt,
                                       struct user *out)
{
    int rc = sqlite3_step(stmt);
    enum kairos_error err = KAIROS_OK;
    if (rc == SQLITE_ROW)
        user_read_row(pool, stmt, out);
    else if (rc == SQLITE_DONE)
        err = KAIROS_ERR_NOT_FOUND;
    else
        err = spatialite_fail(sl, rc, "read user");
    sqlite3_reset(stmt);
    return err;
}

/* Runs an UPDATE or DELETE keyed by id; NOT_FOUND when it touched no row. */
static enum kairos_error user_run_keyed(struct spatialite_storage *sl, sqlite3_stmt *stmt, const char *operation)
{
    enum kairos_error err = spatialite_run(sl, stmt, operation);
    if (err == KAIROS_OK && sqlite3_changes(sl->db) == 0)
        return KAIROS_ERR_NOT_FOUND;
    return err;
}

enum kairos_error spatialite_user_create(struct storage *s, struct user *user)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (user->name == NULL || user->password_hash == NULL)
        return KAIROS_ERR_INVALID;

    struct pool *pool = pool_create();
    char *normalized = storage_email_normalize(pool, user->email);
    if (normalized == NULL) {
        pool_destroy(pool);
        return KAIROS_ERR_INVALID;
    }
    /* The address as registered, trimmed like its normalized form. */
    const char *start = user->email;
    while (isspace((unsigned char)*start))
        start++;
    char *trimmed = pool_strndup(pool, start, strlen(normalized));

    enum kairos_error err = KAIROS_ERR_INTERNAL;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "INSERT INTO users (" USER_COLUMNS ", email_normalized)"
                                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (stmt != NULL) {
        char id[ID_HEX_LEN + 1];
        int64_t now = storage_now_ms();
        id_generate(id);
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        spatialite_bind_text(stmt, 2, trimmed);
        spatialite_bind_text(stmt, 3, user->name);
        spatialite_bind_text(stmt, 4, user->phonenumber);
        spatialite_bind_text(stmt, 5, user->instagram);
        spatialite_bind_text(stmt, 6, user->country);
        sqlite3_bind_int(stmt, 7, user->is_verified ? 1 : 0);
        spatialite_bind_text(stmt, 8, user->password_hash);
        sqlite3_bind_int64(stmt, 9, now);
        spatialite_bind_text(stmt, 10, normalized);
        err = spatialite_run(sl, stmt, "insert user");
        if (err == KAIROS_OK) {
            memcpy(user->id, id, sizeof(id));
            user->created_at = now;
        }
    }
    pool_destroy(pool);
    return err;
}

enum kairos_error spatialite_user_get(struct storage *s, struct pool *pool, const char *id, struct user *out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT " USER_COLUMNS " FROM users WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    return user_read_one(sl, pool, stmt, out);
}

enum kairos_error spatialite_user_get_by_email(struct storage *s, struct pool *pool, const char *email,
                                               struct user *out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    char *normalized = storage_email_normalize(pool, email);
    if (normalized == NULL)
        return KAIROS_ERR_NOT_FOUND;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT " USER_COLUMNS " FROM users WHERE email_normalized = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, normalized);
    return user_read_one(sl, pool, stmt, out);
}

/* A NULL member keeps the column; a clear flag sets it to NULL and wins over a value. */
enum kairos_error spatialite_user_update(struct storage *s, const char *id, const struct user_update *update)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt =
        spatialite_prepare(sl, "UPDATE users SET"
                               " name = coalesce(?1, name),"
                               " phonenumber = CASE WHEN ?2 THEN NULL ELSE coalesce(?3, phonenumber) END,"
                               " instagram = CASE WHEN ?4 THEN NULL ELSE coalesce(?5, instagram) END,"
                               " country = CASE WHEN ?6 THEN NULL ELSE coalesce(?7, country) END"
                               " WHERE id = ?8");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, update->name);
    sqlite3_bind_int(stmt, 2, update->clear_phonenumber);
    spatialite_bind_text(stmt, 3, update->phonenumber);
    sqlite3_bind_int(stmt, 4, update->clear_instagram);
    spatialite_bind_text(stmt, 5, update->instagram);
    sqlite3_bind_int(stmt, 6, update->clear_country);
    spatialite_bind_text(stmt, 7, update->country);
    spatialite_bind_text(stmt, 8, id);
    return user_run_keyed(sl, stmt, "update user");
}

enum kairos_error spatialite_user_set_password(struct storage *s, const char *id, const char *password_hash)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (password_hash == NULL)
        return KAIROS_ERR_INVALID;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE users SET password_hash = ? WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, password_hash);
    spatialite_bind_text(stmt, 2, id);
    return user_run_keyed(sl, stmt, "update user password");
}

enum kairos_error spatialite_user_set_verified(struct storage *s, const char *id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE users SET is_verified = 1 WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    return user_run_keyed(sl, stmt, "verify user");
}

/*
 * The foreign keys cascade from users to journeys, markers, refresh families
 * and mail_outbox, so one DELETE removes everything the user owns, atomically.
 */
enum kairos_error spatialite_user_delete(struct storage *s, const char *id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "DELETE FROM users WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    return user_run_keyed(sl, stmt, "delete user");
}
