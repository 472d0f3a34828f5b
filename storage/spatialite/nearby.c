/*
 * journey_nearby in the SpatiaLite backend, in three steps:
 * 1. the journey's markers are grouped into grid cells, and each cell's
 *    bounding box grown by max_distance_m (geo_bbox_around_box: two boxes
 *    across the antimeridian, a longitude band around a pole) queries the
 *    R*Tree of markers.geom (idx_markers_geom) for candidate markers;
 * 2. for each candidate, a k-d tree of the journey's markers as unit vectors
 *    finds the nearest one, and geo_distance_m keeps the pair if it is within
 *    max_distance_m;
 * 3. a hash table keeps the smallest distance per other journey.
 * The cost grows with the journey's markers and the markers near them, not
 * with the whole table, and the nearest-marker search keeps it from growing
 * as the product of the two.
 */
/* qsort_r, a GNU extension in glibc. */
#define _GNU_SOURCE
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

/* A marker of the journey: degrees, its unit vector, and its k-d tree splitting axis. */
struct nearby_point {
    double lng, lat;
    double xyz[3];
    int axis;
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

static void nearby_unit_vector(double lng, double lat, double xyz[3])
{
    double lambda = lng * (M_PI / 180.0), phi = lat * (M_PI / 180.0);
    xyz[0] = cos(phi) * cos(lambda);
    xyz[1] = cos(phi) * sin(lambda);
    xyz[2] = sin(phi);
}

static double nearby_chord_squared(const double a[3], const double b[3])
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return dx * dx + dy * dy + dz * dz;
}

static int nearby_compare_axis(const void *a, const void *b, void *axis_arg)
{
    int axis = *(const int *)axis_arg;
    double x = ((const struct nearby_point *)a)->xyz[axis], y = ((const struct nearby_point *)b)->xyz[axis];
    return x < y ? -1 : x > y;
}

/*
 * Builds an implicit k-d tree in points[lo, hi): the median on the axis of
 * widest spread moves to the middle index, smaller values before it.
 */
static void nearby_tree_build(struct nearby_point *points, size_t lo, size_t hi)
{
    if (hi - lo <= 1)
        return;
    double min[3] = {2, 2, 2}, max[3] = {-2, -2, -2};
    for (size_t i = lo; i < hi; i++)
        for (int k = 0; k < 3; k++) {
            min[k] = fmin(min[k], points[i].xyz[k]);
            max[k] = fmax(max[k], points[i].xyz[k]);
        }
    int axis = 0;
    for (int k = 1; k < 3; k++)
        if (max[k] - min[k] > max[axis] - min[axis])
            axis = k;

    qsort_r(points + lo, hi - lo, sizeof(*points), nearby_compare_axis, &axis);
    size_t mid = lo + (hi - lo) / 2;
    points[mid].axis = axis;
    nearby_tree_build(points, lo, mid);
    nearby_tree_build(points, mid + 1, hi);
}

/* Finds the point of points[lo, hi) nearest to q when nearer than *best_squared (a squared chord). */
static void nearby_tree_nearest(const struct nearby_point *points, size_t lo, size_t hi, const double q[3],
                                double *best_squared, const struct nearby_point **best)
{
    if (lo >= hi)
        return;
    size_t mid = lo + (hi - lo) / 2;
    const struct nearby_point *node = &points[mid];
    double squared = nearby_chord_squared(node->xyz, q);
    if (squared <= *best_squared) {
        *best_squared = squared;
        *best = node;
    }
    if (hi - lo == 1)
        return;

    double diff = q[node->axis] - node->xyz[node->axis];
    size_t near_lo = diff < 0 ? lo : mid + 1, near_hi = diff < 0 ? mid : hi;
    size_t far_lo = diff < 0 ? mid + 1 : lo, far_hi = diff < 0 ? hi : mid;
    nearby_tree_nearest(points, near_lo, near_hi, q, best_squared, best);
    if (diff * diff <= *best_squared)
        nearby_tree_nearest(points, far_lo, far_hi, q, best_squared, best);
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
        nearby_unit_vector(points[n].lng, points[n].lat, points[n].xyz);
        points[n].axis = 0;
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

/* The journey's markers, their k-d tree and the search radius, shared by the steps of one query. */
struct nearby_search {
    const char *journey_id;
    double max_distance_m;
    double max_chord_squared;  /* max_distance_m as a squared chord of the unit sphere, slightly enlarged */
    struct nearby_point *tree; /* the journey's markers, ordered as a k-d tree */
    size_t count;
    struct nearby_table table;
};

/* Offers every marker of another journey inside box that lies within max_distance_m of the journey. */
static enum kairos_error nearby_scan_box(struct spatialite_storage *sl, struct nearby_search *search,
                                         const struct geo_bbox *box)
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
    spatialite_bind_text(stmt, 5, search->journey_id);

    enum kairos_error err = KAIROS_OK;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        double lng = sqlite3_column_double(stmt, 1), lat = sqlite3_column_double(stmt, 2), q[3];
        nearby_unit_vector(lng, lat, q);
        double best_squared = search->max_chord_squared;
        const struct nearby_point *nearest = NULL;
        nearby_tree_nearest(search->tree, 0, search->count, q, &best_squared, &nearest);
        if (nearest == NULL)
            continue;
        double distance = geo_distance_m(nearest->lng, nearest->lat, lng, lat);
        if (distance > search->max_distance_m)
            continue;

        char other[ID_HEX_LEN + 1];
        spatialite_column_id(stmt, 0, other);
        if (other[0] != '\0' && !nearby_table_offer(&search->table, other, distance)) {
            log_error("storage", "out of memory collecting journeys near %s", search->journey_id);
            err = KAIROS_ERR_INTERNAL;
            break;
        }
    }
    sqlite3_reset(stmt);
    if (err == KAIROS_OK && rc != SQLITE_DONE)
        err = spatialite_fail(sl, rc, "search markers nearby");
    return err;
}

static int nearby_compare_cell(const void *a, const void *b, void *cell_arg)
{
    double cell = *(const double *)cell_arg;
    const struct nearby_point *x = a, *y = b;
    double x_row = floor((x->lat + 90.0) / cell), y_row = floor((y->lat + 90.0) / cell);
    if (x_row != y_row)
        return x_row < y_row ? -1 : 1;
    double x_column = floor((x->lng + 180.0) / cell), y_column = floor((y->lng + 180.0) / cell);
    return x_column < y_column ? -1 : x_column > y_column;
}

/*
 * Queries the index once per grid cell holding markers of the journey. The
 * cell is twice the search radius (within 0.05 and 30 degrees), so a
 * candidate falls in the grown boxes of a few cells. It is tested once per
 * such cell, and the hash table keeps the minimum.
 */
static enum kairos_error nearby_scan_cells(struct spatialite_storage *sl, struct nearby_search *search,
                                           struct nearby_point *points)
{
    double cell = fmin(fmax(2.0 * search->max_distance_m / GEO_EARTH_RADIUS_M * (180.0 / M_PI), 0.05), 30.0);
    qsort_r(points, search->count, sizeof(*points), nearby_compare_cell, &cell);

    enum kairos_error err = KAIROS_OK;
    size_t start = 0;
    while (err == KAIROS_OK && start < search->count) {
        struct geo_bbox area = {points[start].lng, points[start].lat, points[start].lng, points[start].lat};
        size_t end = start + 1;
        while (end < search->count && nearby_compare_cell(&points[start], &points[end], &cell) == 0) {
            area.min_lng = fmin(area.min_lng, points[end].lng);
            area.max_lng = fmax(area.max_lng, points[end].lng);
            area.min_lat = fmin(area.min_lat, points[end].lat);
            area.max_lat = fmax(area.max_lat, points[end].lat);
            end++;
        }
        struct geo_bbox boxes[2];
        size_t box_count = geo_bbox_around_box(&area, search->max_distance_m, boxes);
        for (size_t b = 0; err == KAIROS_OK && b < box_count; b++)
            err = nearby_scan_box(sl, search, &boxes[b]);
        start = end;
    }
    return err;
}

/* Fills search->tree and search->table; the caller frees both. */
static enum kairos_error nearby_collect(struct spatialite_storage *sl, struct nearby_search *search)
{
    enum kairos_error err = nearby_load_points(sl, search->journey_id, &search->tree, &search->count);
    if (err != KAIROS_OK || search->count == 0)
        return err;

    /* Grouping into cells and building the tree both reorder the points, so each gets its own array. */
    struct nearby_point *cells = malloc(search->count * sizeof(*cells));
    if (cells == NULL) {
        log_error("storage", "out of memory searching near journey %s", search->journey_id);
        return KAIROS_ERR_INTERNAL;
    }
    memcpy(cells, search->tree, search->count * sizeof(*cells));
    nearby_tree_build(search->tree, 0, search->count);
    err = nearby_scan_cells(sl, search, cells);
    free(cells);
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
    /* The angle is capped at half a turn, and the chord enlarged by a relative 1e-9 against rounding. */
    double angle = fmin(max_distance_m / GEO_EARTH_RADIUS_M, M_PI);
    double chord = 2.0 * sin(angle / 2.0);
    struct nearby_search search = {
        .journey_id = journey_id,
        .max_distance_m = max_distance_m,
        .max_chord_squared = chord * chord * (1.0 + 1e-9) + 1e-18,
    };
    err = nearby_journey_exists(sl, journey_id);
    if (err == KAIROS_OK && limit > 0)
        err = nearby_collect(sl, &search);
    if (err == KAIROS_OK)
        err = nearby_build_result(sl, pool, &search.table, limit, out, count);
    free(search.tree);
    free(search.table.slots);
    return err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);
}
