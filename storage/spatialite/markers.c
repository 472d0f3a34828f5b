/*
 * Markers in the SpatiaLite backend. Each row carries its point twice: lng,
 * lat (and alt) as given, and a SpatiaLite POINT in geom whose R*Tree index
 * idx_markers_geom serves journey_nearby. SpatiaLite's triggers keep the
 * index in step with inserts, updates and deletes, cascades included.
 */
#include <math.h>
#include <string.h>

#include "storage/spatialite/spatialite.h"

#define MARKER_COLUMNS                                                                                                 \
    "id, journey_id, owner_id, name, marker_type, lng, lat, alt, timestamp, estimated_time, notes, created_at"

static const char *marker_type_text(enum marker_type type)
{
    return type == MARKER_PLAN ? "plan" : "past";
}

static bool marker_is_valid(const struct marker *marker)
{
    if (marker->name == NULL || (marker->marker_type != MARKER_PAST && marker->marker_type != MARKER_PLAN))
        return false;
    if (!isfinite(marker->lng) || !isfinite(marker->lat) || fabs(marker->lng) > 180.0 || fabs(marker->lat) > 90.0)
        return false;
    return !marker->has_alt || isfinite(marker->alt);
}

static void marker_read_row(struct pool *pool, sqlite3_stmt *stmt, struct marker *out)
{
    memset(out, 0, sizeof(*out));
    spatialite_column_id(stmt, 0, out->id);
    spatialite_column_id(stmt, 1, out->journey_id);
    spatialite_column_id(stmt, 2, out->owner_id);
    out->name = spatialite_column_text(pool, stmt, 3);
    const unsigned char *type = sqlite3_column_text(stmt, 4);
    out->marker_type = type != NULL && strcmp((const char *)type, "plan") == 0 ? MARKER_PLAN : MARKER_PAST;
    out->lng = sqlite3_column_double(stmt, 5);
    out->lat = sqlite3_column_double(stmt, 6);
    out->has_alt = sqlite3_column_type(stmt, 7) != SQLITE_NULL;
    out->alt = out->has_alt ? sqlite3_column_double(stmt, 7) : 0.0;
    out->timestamp = spatialite_column_text(pool, stmt, 8);
    out->estimated_time = spatialite_column_text(pool, stmt, 9);
    out->notes = spatialite_column_text(pool, stmt, 10);
    if (out->notes == NULL)
        out->notes = pool_strdup(pool, "");
    out->created_at = sqlite3_column_int64(stmt, 11);
}

/*
 * Reads the journey's marker count (kept by triggers) inside the caller's
 * write transaction, so no insert slips in between. NOT_FOUND when the
 * journey does not exist.
 */
static enum kairos_error marker_check_room(struct spatialite_storage *sl, const char *journey_id)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT marker_count FROM journeys WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, journey_id);
    int rc = sqlite3_step(stmt);
    sqlite3_int64 count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return KAIROS_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return spatialite_fail(sl, rc, "count markers");
    return count >= STORAGE_MAX_MARKERS_PER_JOURNEY ? KAIROS_ERR_LIMIT : KAIROS_OK;
}

/* Binds parameters 1 to 8: the fields a create or an update writes. ?3 and ?4 also give the geometry. */
static void marker_bind_fields(sqlite3_stmt *stmt, const struct marker *marker)
{
    spatialite_bind_text(stmt, 1, marker->name);
    sqlite3_bind_text(stmt, 2, marker_type_text(marker->marker_type), -1, SQLITE_STATIC);
    sqlite3_bind_double(stmt, 3, marker->lng);
    sqlite3_bind_double(stmt, 4, marker->lat);
    if (marker->has_alt)
        sqlite3_bind_double(stmt, 5, marker->alt);
    else
        sqlite3_bind_null(stmt, 5);
    spatialite_bind_text(stmt, 6, marker->timestamp);
    spatialite_bind_text(stmt, 7, marker->estimated_time);
    spatialite_bind_text(stmt, 8, marker->notes ? marker->notes : "");
}

static enum kairos_error marker_insert(struct spatialite_storage *sl, const struct marker *marker)
{
    sqlite3_stmt *stmt = spatialite_prepare(
        sl, "INSERT INTO markers (name, marker_type, lng, lat, alt, timestamp, estimated_time, notes,"
            " id, journey_id, owner_id, created_at, geom)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, MakePoint(?3, ?4, 4326))");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    marker_bind_fields(stmt, marker);
    sqlite3_bind_text(stmt, 9, marker->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 10, marker->journey_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, marker->owner_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 12, marker->created_at);
    /* A FOREIGN KEY violation (NOT_FOUND) means the journey does not exist. */
    return spatialite_run(sl, stmt, "insert marker");
}

enum kairos_error spatialite_marker_create(struct storage *s, struct marker *marker)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (!marker_is_valid(marker))
        return KAIROS_ERR_INVALID;

    char saved_id[ID_HEX_LEN + 1];
    memcpy(saved_id, marker->id, sizeof(saved_id));
    id_generate(marker->id);
    marker->created_at = storage_now_ms();

    enum kairos_error err = spatialite_begin_write(sl);
    if (err == KAIROS_OK)
        err = marker_check_room(sl, marker->journey_id);
    if (err == KAIROS_OK)
        err = marker_insert(sl, marker);
    err = err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);

    if (err != KAIROS_OK) {
        memcpy(marker->id, saved_id, sizeof(saved_id));
        marker->created_at = 0;
    }
    return err;
}

enum kairos_error spatialite_marker_list_by_journey(struct storage *s, struct pool *pool, const char *journey_id,
                                                    struct marker **out, size_t *count)
{
    struct spatialite_storage *sl = spatialite_from(s);
    *out = NULL;
    *count = 0;
    sqlite3_stmt *stmt =
        spatialite_prepare(sl, "SELECT " MARKER_COLUMNS " FROM markers WHERE journey_id = ? ORDER BY seq");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, journey_id);

    struct marker *items = NULL;
    size_t n = 0, capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = spatialite_array_reserve(pool, items, sizeof(*items), n, &capacity);
        marker_read_row(pool, stmt, &items[n++]);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return spatialite_fail(sl, rc, "list markers");
    *out = items;
    *count = n;
    return KAIROS_OK;
}

enum kairos_error spatialite_marker_update(struct storage *s, struct marker *marker)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (!marker_is_valid(marker))
        return KAIROS_ERR_INVALID;
    sqlite3_stmt *stmt = spatialite_prepare(
        sl, "UPDATE markers SET name = ?1, marker_type = ?2, lng = ?3, lat = ?4, alt = ?5, timestamp = ?6,"
            " estimated_time = ?7, notes = ?8, geom = MakePoint(?3, ?4, 4326)"
            " WHERE id = ?9 AND journey_id = ?10 RETURNING owner_id, created_at");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    marker_bind_fields(stmt, marker);
    sqlite3_bind_text(stmt, 9, marker->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 10, marker->journey_id, -1, SQLITE_STATIC);

    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        enum kairos_error err = rc == SQLITE_DONE ? KAIROS_ERR_NOT_FOUND : spatialite_fail(sl, rc, "update marker");
        sqlite3_reset(stmt);
        return err;
    }
    spatialite_column_id(stmt, 0, marker->owner_id);
    marker->created_at = sqlite3_column_int64(stmt, 1);
    /* The statement must run to its end for the update to be complete. */
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return spatialite_fail(sl, rc, "update marker");
    return KAIROS_OK;
}

enum kairos_error spatialite_marker_delete(struct storage *s, const char *journey_id, const char *marker_id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "DELETE FROM markers WHERE id = ? AND journey_id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, marker_id);
    spatialite_bind_text(stmt, 2, journey_id);
    enum kairos_error err = spatialite_run(sl, stmt, "delete marker");
    if (err == KAIROS_OK && sqlite3_changes(sl->db) == 0)
        return KAIROS_ERR_NOT_FOUND;
    return err;
}
