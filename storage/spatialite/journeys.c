/*
 * Journeys in the SpatiaLite backend. The partial unique index
 * journeys_one_active allows one active journey per user. Activating a
 * journey deactivates the other one first, inside the same write transaction.
 */
#include <string.h>

#include "storage/spatialite/spatialite.h"

#define JOURNEY_COLUMNS "id, user_id, name, description, created_at, active, completed"

static void journey_read_row(struct pool *pool, sqlite3_stmt *stmt, int first, struct journey *out)
{
    memset(out, 0, sizeof(*out));
    spatialite_column_id(stmt, first, out->id);
    spatialite_column_id(stmt, first + 1, out->user_id);
    out->name = spatialite_column_text(pool, stmt, first + 2);
    out->description = spatialite_column_text(pool, stmt, first + 3);
    if (out->description == NULL)
        out->description = pool_strdup(pool, "");
    out->created_at = sqlite3_column_int64(stmt, first + 4);
    out->active = sqlite3_column_int(stmt, first + 5) != 0;
    out->completed = sqlite3_column_int(stmt, first + 6) != 0;
}

static enum kairos_error journey_read_one(struct spatialite_storage *sl, struct pool *pool, sqlite3_stmt *stmt,
                                          struct journey *out)
{
    int rc = sqlite3_step(stmt);
    enum kairos_error err = KAIROS_OK;
    if (rc == SQLITE_ROW)
        journey_read_row(pool, stmt, 0, out);
    else if (rc == SQLITE_DONE)
        err = KAIROS_ERR_NOT_FOUND;
    else
        err = spatialite_fail(sl, rc, "read journey");
    sqlite3_reset(stmt);
    return err;
}

/* Deactivates every active journey of user_id; the caller has begun the write transaction. */
static enum kairos_error journey_deactivate_all(struct spatialite_storage *sl, const char *user_id)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE journeys SET active = 0 WHERE user_id = ? AND active = 1");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, user_id);
    return spatialite_run(sl, stmt, "deactivate journeys");
}

static enum kairos_error journey_insert(struct spatialite_storage *sl, const struct journey *journey)
{
    sqlite3_stmt *stmt =
        spatialite_prepare(sl, "INSERT INTO journeys (" JOURNEY_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_text(stmt, 1, journey->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, journey->user_id, -1, SQLITE_STATIC);
    spatialite_bind_text(stmt, 3, journey->name);
    spatialite_bind_text(stmt, 4, journey->description ? journey->description : "");
    sqlite3_bind_int64(stmt, 5, journey->created_at);
    sqlite3_bind_int(stmt, 6, journey->active);
    sqlite3_bind_int(stmt, 7, journey->completed);
    /* A FOREIGN KEY violation (NOT_FOUND) means the user does not exist. */
    return spatialite_run(sl, stmt, "insert journey");
}

enum kairos_error spatialite_journey_create(struct storage *s, struct journey *journey)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (journey->name == NULL)
        return KAIROS_ERR_INVALID;
    /* A completed journey is never active. */
    if (journey->completed)
        journey->active = false;

    char saved_id[ID_HEX_LEN + 1];
    memcpy(saved_id, journey->id, sizeof(saved_id));
    id_generate(journey->id);
    journey->created_at = storage_now_ms();

    enum kairos_error err = spatialite_begin_write(sl);
    if (err == KAIROS_OK && journey->active)
        err = journey_deactivate_all(sl, journey->user_id);
    if (err == KAIROS_OK)
        err = journey_insert(sl, journey);
    err = err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);

    if (err != KAIROS_OK) {
        memcpy(journey->id, saved_id, sizeof(saved_id));
        journey->created_at = 0;
    }
    return err;
}

enum kairos_error spatialite_journey_get(struct storage *s, struct pool *pool, const char *id, struct journey *out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT " JOURNEY_COLUMNS " FROM journeys WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    return journey_read_one(sl, pool, stmt, out);
}

enum kairos_error spatialite_journey_list_by_user(struct storage *s, struct pool *pool, const char *user_id,
                                                  struct journey **out, size_t *count)
{
    struct spatialite_storage *sl = spatialite_from(s);
    *out = NULL;
    *count = 0;
    /* rowid breaks ties between journeys created in the same millisecond. */
    sqlite3_stmt *stmt = spatialite_prepare(
        sl, "SELECT " JOURNEY_COLUMNS " FROM journeys WHERE user_id = ? ORDER BY created_at DESC, rowid DESC");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, user_id);

    struct journey *items = NULL;
    size_t n = 0, capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = spatialite_array_reserve(pool, items, sizeof(*items), n, &capacity);
        journey_read_row(pool, stmt, 0, &items[n++]);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return spatialite_fail(sl, rc, "list journeys");
    *out = items;
    *count = n;
    return KAIROS_OK;
}

enum kairos_error spatialite_journey_get_active(struct storage *s, struct pool *pool, const char *user_id,
                                                struct journey *out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt =
        spatialite_prepare(sl, "SELECT " JOURNEY_COLUMNS " FROM journeys WHERE user_id = ? AND active = 1");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, user_id);
    return journey_read_one(sl, pool, stmt, out);
}

static enum kairos_error journey_set_active(struct spatialite_storage *sl, const char *id, bool active)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE journeys SET active = ? WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_int(stmt, 1, active);
    spatialite_bind_text(stmt, 2, id);
    return spatialite_run(sl, stmt, "update journey active");
}

/* Flips the journey inside the caller's write transaction. */
static enum kairos_error journey_toggle_locked(struct spatialite_storage *sl, const char *id, bool *now_active)
{
    struct pool *pool = pool_create();
    struct journey journey;
    enum kairos_error err = spatialite_journey_get(&sl->base, pool, id, &journey);
    if (err == KAIROS_OK && journey.active) {
        err = journey_set_active(sl, id, false);
        *now_active = false;
    } else if (err == KAIROS_OK && journey.completed) {
        err = KAIROS_ERR_CONFLICT;
    } else if (err == KAIROS_OK) {
        err = journey_deactivate_all(sl, journey.user_id);
        if (err == KAIROS_OK)
            err = journey_set_active(sl, id, true);
        *now_active = true;
    }
    pool_destroy(pool);
    return err;
}

enum kairos_error spatialite_journey_toggle_active(struct storage *s, const char *id, bool *now_active)
{
    struct spatialite_storage *sl = spatialite_from(s);
    bool active = false;
    enum kairos_error err = spatialite_begin_write(sl);
    if (err != KAIROS_OK)
        return err;
    err = journey_toggle_locked(sl, id, &active);
    err = err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);
    if (err == KAIROS_OK)
        *now_active = active;
    return err;
}

/* Marking a journey completed also makes it inactive, in the same statement. */
enum kairos_error spatialite_journey_update(struct storage *s, const char *id, const struct journey_update *update)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (update->has_name && update->name == NULL)
        return KAIROS_ERR_INVALID;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE journeys SET"
                                                " name = CASE WHEN ?1 THEN ?2 ELSE name END,"
                                                " description = CASE WHEN ?3 THEN ?4 ELSE description END,"
                                                " completed = CASE WHEN ?5 THEN ?6 ELSE completed END,"
                                                " active = CASE WHEN ?5 AND ?6 THEN 0 ELSE active END"
                                                " WHERE id = ?7");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_int(stmt, 1, update->has_name);
    spatialite_bind_text(stmt, 2, update->name);
    sqlite3_bind_int(stmt, 3, update->has_description);
    spatialite_bind_text(stmt, 4, update->description ? update->description : "");
    sqlite3_bind_int(stmt, 5, update->has_completed);
    sqlite3_bind_int(stmt, 6, update->completed);
    spatialite_bind_text(stmt, 7, id);
    enum kairos_error err = spatialite_run(sl, stmt, "update journey");
    if (err == KAIROS_OK && sqlite3_changes(sl->db) == 0)
        return KAIROS_ERR_NOT_FOUND;
    return err;
}

/* The markers go with it through the ON DELETE CASCADE of markers.journey_id. */
enum kairos_error spatialite_journey_delete(struct storage *s, const char *id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "DELETE FROM journeys WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    enum kairos_error err = spatialite_run(sl, stmt, "delete journey");
    if (err == KAIROS_OK && sqlite3_changes(sl->db) == 0)
        return KAIROS_ERR_NOT_FOUND;
    return err;
}
