/*
 * Refresh-token families in the SpatiaLite backend. Rotation reads and writes
 * the family inside one write transaction, so two requests presenting the same
 * token cannot both rotate it.
 */
#include <string.h>

#include "storage/spatialite/spatialite.h"

enum kairos_error spatialite_refresh_family_create(struct storage *s, const struct refresh_family *family)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "INSERT INTO refresh_families (id, user_id, current_jti, revoked,"
                                                " expires_at) VALUES (?, ?, ?, ?, ?)");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_text(stmt, 1, family->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, family->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, family->current_jti, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, family->revoked);
    sqlite3_bind_int64(stmt, 5, family->expires_at);
    /* NOT_FOUND from a FOREIGN KEY violation: the user does not exist. */
    return spatialite_run(sl, stmt, "insert refresh family");
}

static enum kairos_error refresh_set(struct spatialite_storage *sl, const char *family_id, const char *new_jti)
{
    sqlite3_stmt *stmt;
    if (new_jti != NULL) {
        stmt = spatialite_prepare(sl, "UPDATE refresh_families SET current_jti = ? WHERE id = ?");
        if (stmt == NULL)
            return KAIROS_ERR_INTERNAL;
        sqlite3_bind_text(stmt, 1, new_jti, -1, SQLITE_STATIC);
    } else {
        stmt = spatialite_prepare(sl, "UPDATE refresh_families SET revoked = 1 WHERE id = ?");
        if (stmt == NULL)
            return KAIROS_ERR_INTERNAL;
    }
    spatialite_bind_text(stmt, new_jti != NULL ? 2 : 1, family_id);
    return spatialite_run(sl, stmt, new_jti != NULL ? "rotate refresh family" : "revoke refresh family");
}

/* The checks and the write of refresh_family_rotate, inside the caller's write transaction. */
static enum kairos_error refresh_rotate_locked(struct spatialite_storage *sl, const char *family_id,
                                               const char *presented_jti, const char *new_jti, int64_t now,
                                               char *user_id_out)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT user_id, current_jti = ?, revoked, expires_at"
                                                " FROM refresh_families WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, presented_jti);
    spatialite_bind_text(stmt, 2, family_id);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(stmt);
        return rc == SQLITE_DONE ? KAIROS_ERR_NOT_FOUND : spatialite_fail(sl, rc, "read refresh family");
    }
    char user_id[ID_HEX_LEN + 1];
    spatialite_column_id(stmt, 0, user_id);
    bool matches = sqlite3_column_int(stmt, 1) == 1;
    bool revoked = sqlite3_column_int(stmt, 2) != 0;
    int64_t expires_at = sqlite3_column_int64(stmt, 3);
    sqlite3_reset(stmt);

    if (revoked || expires_at <= now)
        return KAIROS_ERR_NOT_FOUND;
    if (!matches) {
        /* An older token of the family came back: it was copied, so no token of the family is trusted now. */
        enum kairos_error err = refresh_set(sl, family_id, NULL);
        return err == KAIROS_OK ? KAIROS_ERR_CONFLICT : err;
    }
    enum kairos_error err = refresh_set(sl, family_id, new_jti);
    if (err == KAIROS_OK)
        memcpy(user_id_out, user_id, sizeof(user_id));
    return err;
}

enum kairos_error spatialite_refresh_family_rotate(struct storage *s, const char *family_id, const char *presented_jti,
                                                   const char *new_jti, int64_t now, char *user_id_out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (presented_jti == NULL || new_jti == NULL)
        return KAIROS_ERR_INVALID;
    enum kairos_error err = spatialite_begin_write(sl);
    if (err != KAIROS_OK)
        return err;
    err = refresh_rotate_locked(sl, family_id, presented_jti, new_jti, now, user_id_out);
    /* CONFLICT commits: the revocation must stay. */
    if (err == KAIROS_OK || err == KAIROS_ERR_CONFLICT) {
        enum kairos_error commit = spatialite_commit(sl);
        return commit == KAIROS_OK ? err : commit;
    }
    return spatialite_rollback(sl, err);
}

enum kairos_error spatialite_refresh_family_revoke_user(struct storage *s, const char *user_id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE refresh_families SET revoked = 1 WHERE user_id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, user_id);
    return spatialite_run(sl, stmt, "revoke refresh families");
}
