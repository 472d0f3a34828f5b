/*
 * journey_nearby in the SpatiaLite backend. For each marker of the journey,
 * the R*Tree of markers.geom (idx_markers_geom) returns the markers inside
 * the bounding boxes of a circle of max_distance_m: two boxes across the
 * antimeridian, a longitude band around a pole. geo_distance_m then keeps
 * those really within the distance. The cost grows with the journey's markers
 * and the markers near them, not with the whole table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/geo.h"
#include "storage/log.h"
#include "storage/spatialite/spatialite.h"

/* The smallest distance found so far to one other journey. */
struct nearby_entry {
    char journey_id[ID_HEX_LEN + 1];
    double distance_m;
};

/* Open-addressing hash table of nearby_entry by journey id; used slots have a non-empty id. */
struct nearby_table {
    struct nearby_entry *slots;
    size_t capacity, count;
};

struct nearby_point {
    double lng, lat;
};

static size_t nearby_hash(const char *id)
{
    size_t hash = 14695981039346656037u;
    for (const char *p = id; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 1099511628211u;
    return hash;
}

static bool nearby_table_grow(struct nearby_table *table)
{
    size_t capacity = table->capacity ? table->capacity * 2 : 64;
    struct nearby_entry *slots = calloc(capacity, sizeof(*slots));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < table->capacity; i++) {
        if (table->slots[i].journey_id[0] == '\0')
            continue;
        size_t j = nearby_hash(table->slots[i].journey_id) & (capacity - 1);
        while (slots[j].journey_id[0] != '\0')
            j = (j + 1) & (capacity - 1);
        slots[j] = table->slots[i];
    }
    free(table->slots);
    table->slots = slots;
    table->capacity = capacity;
    return true;
}

/* Records distance_m for journey_id when it is the first or a smaller one. */
static bool nearby_table_offer(struct nearby_table *table, const char *journey_id, double distance_m)
{
    if (2 * (table->count + 1) > table->capacity && !nearby_table_grow(table))
        return false;
    size_t i = nearby_hash(journey_id) & (table->capacity - 1);
    while (table->slots[i].journey_id[0] != '\0') {
        if (strcmp(table->slots[i].journey_id, journey_id) == 0) {
            if (distance_m < table->slots[i].distance_m)
                table->slots[i].distance_m = distance_m;
            return true;
        }
        i = (i + 1) & (table->capacity - 1);
    }
    memcpy(table->slots[i].journey_id, journey_id, ID_HEX_LEN + 1);
    table->slots[i].distance_m = distance_m;
    table->count++;
    return true;
}

/* Reads the journey's marker positions into a malloc'd array. */
static enum kairos_error nearby_load_points(struct spatialite_storage *sl, const char *journey_id,
                                            struct nearby_point **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT lng, lat FROM markers WHERE journey_id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, journey_id);

    struct nearby_point *points = NULL;
    size_t n = 0, capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            struct nearby_point *grown = realloc(points, capacity * sizeof(*grown));
            if (grown == NULL) {
                sqlite3_reset(stmt);
                free(points);
                log_error("storage", "out of memory reading the markers of journey %s", journey_id);
                return KAIROS_ERR_INTERNAL;
            }
            points = grown;
        }
        points[n].lng = sqlite3_column_double(stmt, 0);
        points[n].lat = sqlite3_column_double(stmt, 1);
        n++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(points);
        return spatialite_fail(sl, rc, "read markers for nearby");
    }
    *out = points;
    *count = n;
    return KAIROS_OK;
}

/* Offers every marker of another journey within max_distance_m of point and inside box. */
static enum kairos_error nearby_scan_box(struct spatialite_storage *sl, const char *journey_id,
                                         const struct nearby_point *point, const struct geo_bbox *box,
                                         double max_distance_m, struct nearby_table *table)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT m.journey_id, m.lng, m.lat"
                                                " FROM idx_markers_geom AS r JOIN markers AS m ON m.seq = r.pkid"
                                                " WHERE r.xmin <= ?2 AND r.xmax >= ?1 AND r.ymin <= ?4 AND r.ymax >= ?3"
                                                " AND m.journey_id <> ?5");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_double(stmt, 1, box->min_lng);
    sqlite3_bind_double(stmt, 2, box->max_lng);
    sqlite3_bind_double(stmt, 3, box->min_lat);
    sqlite3_bind_double(stmt, 4, box->max_lat);
    spatialite_bind_text(stmt, 5, journey_id);

    enum kairos_error err = KAIROS_OK;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        double distance =
            geo_distance_m(point->lng, point->lat, sqlite3_column_double(stmt, 1), sqlite3_column_double(stmt, 2));
        if (distance > max_distance_m)
            continue;
        char other[ID_HEX_LEN + 1];
        spatialite_column_id(stmt, 0, other);
        if (other[0] != '\0' && !nearby_table_offer(table, other, distance)) {
            log_error("storage", "out of memory collecting journeys near %s", journey_id);
            err = KAIROS_ERR_INTERNAL;
            break;
        }
    }
    sqlite3_reset(stmt);
    if (err == KAIROS_OK && rc != SQLITE_DONE)
        err = spatialite_fail(sl, rc, "search markers nearby");
    return err;
}

static enum kairos_error nearby_collect(struct spatialite_storage *sl, const char *journey_id, double max_distance_m,
                                        struct nearby_table *table)
{
    struct nearby_point *points;
    size_t count;
    enum kairos_error err = nearby_load_points(sl, journey_id, &points, &count);
    for (size_t i = 0; err == KAIROS_OK && i < count; i++) {
        struct geo_bbox boxes[2];
        size_t box_count = geo_bbox_around(points[i].lng, points[i].lat, max_distance_m, boxes);
        for (size_t b = 0; err == KAIROS_OK && b < box_count; b++)
            err = nearby_scan_box(sl, journey_id, &points[i], &boxes[b], max_distance_m, table);
    }
    free(points);
    return err;
}

/* Orders nearest first, and equal distances by journey id so the result is stable. */
static int nearby_entry_compare(const void *a, const void *b)
{
    const struct nearby_entry *x = a, *y = b;
    if (x->distance_m < y->distance_m)
        return -1;
    if (x->distance_m > y->distance_m)
        return 1;
    return strcmp(x->journey_id, y->journey_id);
}

/* Sorts the table's entries and reads the first `limit` journeys into the pool. */
static enum kairos_error nearby_build_result(struct spatialite_storage *sl, struct pool *pool,
                                             struct nearby_table *table, size_t limit, struct nearby_journey **out,
                                             size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < table->capacity; i++)
        if (table->slots[i].journey_id[0] != '\0')
            table->slots[n++] = table->slots[i];
    if (n > 0)
        qsort(table->slots, n, sizeof(*table->slots), nearby_entry_compare);
    if (n > limit)
        n = limit;

    struct nearby_journey *result = pool_alloc(pool, (n ? n : 1) * sizeof(*result));
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        enum kairos_error err =
            spatialite_journey_get(&sl->base, pool, table->slots[i].journey_id, &result[found].journey);
        if (err == KAIROS_ERR_NOT_FOUND)
            continue;
        if (err != KAIROS_OK)
            return err;
        result[found++].distance_m = table->slots[i].distance_m;
    }
    *out = result;
    *count = found;
    return KAIROS_OK;
}

static enum kairos_error nearby_journey_exists(struct spatialite_storage *sl, const char *journey_id)
{
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT 1 FROM journeys WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, journey_id);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return KAIROS_OK;
    return rc == SQLITE_DONE ? KAIROS_ERR_NOT_FOUND : spatialite_fail(sl, rc, "read journey");
}

enum kairos_error spatialite_journey_nearby(struct storage *s, struct pool *pool, const char *journey_id,
                                            double max_distance_m, size_t limit, struct nearby_journey **out,
                                            size_t *count)
{
    struct spatialite_storage *sl = spatialite_from(s);
    *out = NULL;
    *count = 0;
    if (!(max_distance_m >= 0.0) || !isfinite(max_distance_m))
        return KAIROS_ERR_INVALID;

    /* One read transaction, so every query reads the same snapshot. */
    enum kairos_error err = spatialite_begin_read(sl);
    if (err != KAIROS_OK)
        return err;
    struct nearby_table table = {0};
    err = nearby_journey_exists(sl, journey_id);
    if (err == KAIROS_OK && limit > 0)
        err = nearby_collect(sl, journey_id, max_distance_m, &table);
    if (err == KAIROS_OK)
        err = nearby_build_result(sl, pool, &table, limit, out, count);
    free(table.slots);
    return err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);
}
