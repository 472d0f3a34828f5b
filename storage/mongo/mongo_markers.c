/*
 * Marker operations of the MongoDB backend, and journey_nearby, which reads
 * markers. Markers keep the insertion order in `seq`; old markers lack it
 * and sort first, by _id.
 */
#include "storage/mongo/mongo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/log.h"

/*
 * Returns an increasing marker order number: the time in microseconds,
 * raised past the last one this process gave. Markers added by different
 * processes in the same millisecond have no defined order between them.
 */
static int64_t mongo_next_seq(struct mongo_storage *m)
{
    int64_t seq = storage_now_ms() * 1000;
    if (seq <= m->last_seq)
        seq = m->last_seq + 1;
    m->last_seq = seq;
    return seq;
}

static enum kairos_error mongo_marker_read(const bson_t *doc, struct pool *pool, struct marker *out)
{
    char reason[160];
    if (!mongo_marker_from_bson(doc, pool, out, reason, sizeof(reason))) {
        mongo_log_bad_document("markers", reason);
        return KAIROS_ERR_INTERNAL;
    }
    return KAIROS_OK;
}

static enum kairos_error mongo_marker_count(struct mongo_storage *m, const bson_oid_t *journey, int64_t *count)
{
    bson_t *filter = BCON_NEW("journey_id", BCON_OID(journey));
    bson_error_t error;
    *count = mongoc_collection_count_documents(m->markers, filter, NULL, NULL, NULL, &error);
    bson_destroy(filter);
    return *count < 0 ? mongo_error(m, "count markers", &error) : KAIROS_OK;
}

/* NOTE: two concurrent creations may both pass the count, so a journey can exceed the limit by a few markers. */
enum kairos_error mongo_marker_create(struct storage *s, struct marker *marker)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t journey, owner;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(marker->journey_id, &journey) || !mongo_oid_from_hex(marker->owner_id, &owner))
        return KAIROS_ERR_INVALID;

    int64_t count;
    rc = mongo_marker_count(m, &journey, &count);
    if (rc != KAIROS_OK)
        return rc;
    if (count >= STORAGE_MAX_MARKERS_PER_JOURNEY)
        return KAIROS_ERR_LIMIT;

    id_generate(marker->id);
    marker->created_at = storage_now_ms();
    bson_t doc = BSON_INITIALIZER;
    bson_error_t error;
    if (!mongo_marker_to_bson(marker, mongo_next_seq(m), &doc))
        rc = KAIROS_ERR_INVALID;
    else if (!mongoc_collection_insert_one(m->markers, &doc, NULL, NULL, &error))
        rc = mongo_error(m, "insert marker", &error);
    bson_destroy(&doc);
    return rc;
}

enum kairos_error mongo_marker_list_by_journey(struct storage *s, struct pool *pool, const char *journey_id,
                                               struct marker **out, size_t *count)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t journey;
    *out = NULL;
    *count = 0;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(journey_id, &journey))
        return KAIROS_OK;

    bson_t *filter = BCON_NEW("journey_id", BCON_OID(&journey));
    bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(1), "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(m->markers, filter, opts, NULL);
    bson_destroy(filter);
    bson_destroy(opts);

    size_t capacity = 16, n = 0;
    struct marker *items = pool_alloc(pool, capacity * sizeof(*items));
    const bson_t *doc;
    while (rc == KAIROS_OK && mongoc_cursor_next(cursor, &doc)) {
        if (n == capacity) {
            struct marker *grown = pool_alloc(pool, 2 * capacity * sizeof(*items));
            memcpy(grown, items, n * sizeof(*items));
            items = grown;
            capacity *= 2;
        }
        rc = mongo_marker_read(doc, pool, &items[n++]);
    }
    bson_error_t error;
    if (rc == KAIROS_OK && mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "list markers", &error);
    mongoc_cursor_destroy(cursor);
    *out = items;
    *count = rc == KAIROS_OK ? n : 0;
    return rc;
}

/* The fields marker_update replaces: all but _id, journey_id, owner_id, created_at and seq. */
static bool mongo_marker_update_set(const struct marker *marker, bson_t *set)
{
    bson_t full = BSON_INITIALIZER;
    bool valid = mongo_marker_to_bson(marker, 0, &full);
    if (valid)
        bson_copy_to_excluding_noinit(&full, set, "_id", "journey_id", "owner_id", "created_at", "seq", NULL);
    bson_destroy(&full);
    return valid;
}

enum kairos_error mongo_marker_update(struct storage *s, struct marker *marker)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t id, journey;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(marker->id, &id) || !mongo_oid_from_hex(marker->journey_id, &journey))
        return KAIROS_ERR_NOT_FOUND;

    bson_t set = BSON_INITIALIZER;
    if (!mongo_marker_update_set(marker, &set)) {
        bson_destroy(&set);
        return KAIROS_ERR_INVALID;
    }
    bson_t update = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&update, "$set", &set);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "journey_id", BCON_OID(&journey));
    bson_t stored;
    rc = mongo_find_and_modify(m, m->markers, filter, NULL, &update, &stored, "update marker");
    bson_destroy(filter);
    bson_destroy(&update);
    bson_destroy(&set);
    if (rc != KAIROS_OK)
        return rc;

    /* The stored marker's strings must outlive this call, but the caller gave no pool: copy the scalars only. */
    struct pool *pool = pool_create();
    struct marker read;
    rc = mongo_marker_read(&stored, pool, &read);
    if (rc == KAIROS_OK) {
        memcpy(marker->owner_id, read.owner_id, sizeof(marker->owner_id));
        marker->created_at = read.created_at;
    }
    pool_destroy(pool);
    bson_destroy(&stored);
    return rc;
}

enum kairos_error mongo_marker_delete(struct storage *s, const char *journey_id, const char *marker_id)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t id, journey;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(marker_id, &id) || !mongo_oid_from_hex(journey_id, &journey))
        return KAIROS_ERR_NOT_FOUND;

    bson_t *filter = BCON_NEW("_id", BCON_OID(&id), "journey_id", BCON_OID(&journey));
    rc = mongo_delete(m, m->markers, filter, NULL, false, "delete marker");
    bson_destroy(filter);
    return rc;
}

/* Reads the positions of the journey's markers (at most STORAGE_MAX_MARKERS_PER_JOURNEY and a few). */
static enum kairos_error mongo_journey_points(struct mongo_storage *m, const bson_oid_t *journey,
                                              struct mongo_point **out, size_t *count)
{
    bson_t *filter = BCON_NEW("journey_id", BCON_OID(journey));
    bson_t *opts = BCON_NEW("projection", "{", "coordinates", BCON_INT32(1), "journey_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(m->markers, filter, opts, NULL);
    bson_destroy(filter);
    bson_destroy(opts);

    size_t capacity = 64, n = 0;
    struct mongo_point *points = malloc(capacity * sizeof(*points));
    enum kairos_error rc = points != NULL ? KAIROS_OK : KAIROS_ERR_INTERNAL;
    const bson_t *doc;
    struct pool *pool = pool_create();
    while (rc == KAIROS_OK && mongoc_cursor_next(cursor, &doc)) {
        struct marker marker;
        char reason[160];
        if (!mongo_marker_from_bson(doc, pool, &marker, reason, sizeof(reason)))
            continue; /* a marker without a readable position has no neighbours */
        if (n == capacity) {
            struct mongo_point *grown = realloc(points, 2 * capacity * sizeof(*points));
            if (grown == NULL) {
                rc = KAIROS_ERR_INTERNAL;
                break;
            }
            points = grown;
            capacity *= 2;
        }
        points[n].lng = marker.lng;
        points[n].lat = marker.lat;
        n++;
    }
    pool_destroy(pool);

    bson_error_t error;
    if (rc == KAIROS_OK && mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "read markers of journey", &error);
    mongoc_cursor_destroy(cursor);
    if (rc != KAIROS_OK) {
        free(points);
        points = NULL;
        n = 0;
    }
    *out = points;
    *count = n;
    return rc;
}

/* Reads one result of the nearby pipeline: {_id, distance_m, journey: {...}}. */
static enum kairos_error mongo_nearby_read(const bson_t *doc, struct pool *pool, struct nearby_journey *out)
{
    bson_iter_t iter, journey;
    uint32_t len;
    const uint8_t *data;
    bson_t journey_doc;
    if (!bson_iter_init_find(&iter, doc, "distance_m") || !bson_iter_init_find(&journey, doc, "journey") ||
        !BSON_ITER_HOLDS_DOCUMENT(&journey)) {
        mongo_log_bad_document("journeys", "nearby result lacks distance_m or journey");
        return KAIROS_ERR_INTERNAL;
    }
    out->distance_m = bson_iter_as_double(&iter);
    bson_iter_document(&journey, &len, &data);
    char reason[160];
    if (!bson_init_static(&journey_doc, data, len) ||
        !mongo_journey_from_bson(&journey_doc, pool, &out->journey, reason, sizeof(reason))) {
        mongo_log_bad_document("journeys", "nearby journey is unreadable");
        return KAIROS_ERR_INTERNAL;
    }
    return KAIROS_OK;
}

static enum kairos_error mongo_nearby_run(struct mongo_storage *m, struct pool *pool, const bson_t *pipeline,
                                          size_t limit, struct nearby_journey **out, size_t *count)
{
    mongoc_cursor_t *cursor = mongoc_collection_aggregate(m->markers, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
    struct nearby_journey *items = pool_alloc(pool, limit * sizeof(*items));
    size_t n = 0;
    enum kairos_error rc = KAIROS_OK;
    const bson_t *doc;
    while (rc == KAIROS_OK && n < limit && mongoc_cursor_next(cursor, &doc))
        rc = mongo_nearby_read(doc, pool, &items[n++]);
    bson_error_t error;
    if (rc == KAIROS_OK && mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "find nearby journeys", &error);
    mongoc_cursor_destroy(cursor);
    *out = items;
    *count = rc == KAIROS_OK ? n : 0;
    return rc;
}

enum kairos_error mongo_journey_nearby(struct storage *s, struct pool *pool, const char *journey_id,
                                       double max_distance_m, size_t limit, struct nearby_journey **out, size_t *count)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t journey;
    *out = NULL;
    *count = 0;
    if (rc != KAIROS_OK)
        return rc;
    if (!(max_distance_m >= 0.0) || !isfinite(max_distance_m))
        return KAIROS_ERR_INVALID;
    if (!mongo_oid_from_hex(journey_id, &journey))
        return KAIROS_ERR_NOT_FOUND;

    struct mongo_point *points;
    size_t n;
    rc = mongo_journey_points(m, &journey, &points, &n);
    if (rc != KAIROS_OK || n == 0) {
        free(points);
        /* Only a journey without markers needs the extra round trip to tell "none near" from "no such journey". */
        if (rc == KAIROS_OK) {
            struct journey found;
            rc = mongo_journey_get(s, pool, journey_id, &found);
        }
        return rc;
    }
    if (limit == 0)
        return KAIROS_OK;
    bson_t *pipeline = mongo_nearby_pipeline(&journey, points, n, max_distance_m, limit);
    free(points);
    if (pipeline == NULL) {
        log_error("storage", "find nearby journeys of %s: out of memory building the pipeline", journey_id);
        return KAIROS_ERR_INTERNAL;
    }
    rc = mongo_nearby_run(m, pool, pipeline, limit, out, count);
    bson_destroy(pipeline);
    return rc;
}
