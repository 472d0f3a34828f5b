/*
 * Filters and aggregation pipelines of the MongoDB backend, built apart from
 * the code that runs them so that the unit tests can compare them with the
 * documents they must be.
 */
#include "storage/mongo/mongo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/geo.h"

/* The geo prefilter of journey_nearby uses at most this many circles. */
#define MONGO_NEARBY_MAX_CIRCLES 64
/* Smallest cluster radius tried when grouping the source markers into circles, in metres. */
#define MONGO_NEARBY_MIN_CLUSTER_M 1000.0
/* Added to each circle (relative, then absolute in metres) so rounding never drops a point on its edge. */
#define MONGO_NEARBY_RELATIVE_MARGIN 1e-9
#define MONGO_NEARBY_MARGIN_M        0.01

#define MONGO_DEG_TO_RAD (M_PI / 180.0)

struct mongo_circle {
    struct mongo_point center;
    double radius_m;
};

static int mongo_point_compare(const void *a, const void *b)
{
    const struct mongo_point *p = a, *q = b;
    if (p->lng != q->lng)
        return p->lng < q->lng ? -1 : 1;
    if (p->lat != q->lat)
        return p->lat < q->lat ? -1 : 1;
    return 0;
}

/* Sorts a copy of points and drops exact duplicates; a journey often has several markers at one place. */
static struct mongo_point *mongo_points_unique(const struct mongo_point *points, size_t n, size_t *unique)
{
    struct mongo_point *copy = malloc(n * sizeof(*copy));
    if (copy == NULL)
        return NULL;
    memcpy(copy, points, n * sizeof(*copy));
    qsort(copy, n, sizeof(*copy), mongo_point_compare);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || mongo_point_compare(&copy[kept - 1], &copy[i]) != 0)
            copy[kept++] = copy[i];
    *unique = kept;
    return copy;
}

/*
 * Greedily groups points into circles of at most cluster_m around one of
 * them. Returns the number of circles, or max + 1 when more would be needed.
 * A circle's radius_m is the farthest member's distance from its center.
 */
static size_t mongo_cluster_points(const struct mongo_point *points, size_t n, double cluster_m,
                                   struct mongo_circle *circles, size_t max, bool *covered)
{
    size_t count = 0;
    memset(covered, 0, n * sizeof(*covered));
    for (size_t i = 0; i < n; i++) {
        if (covered[i])
            continue;
        if (count == max)
            return max + 1;
        struct mongo_circle *circle = &circles[count++];
        circle->center = points[i];
        circle->radius_m = 0.0;
        for (size_t j = i; j < n; j++) {
            if (covered[j])
                continue;
            double d = geo_distance_m(points[i].lng, points[i].lat, points[j].lng, points[j].lat);
            if (d <= cluster_m) {
                covered[j] = true;
                circle->radius_m = fmax(circle->radius_m, d);
            }
        }
    }
    return count;
}

/*
 * Appends {coordinates: {$geoWithin: {$centerSphere: [[lng, lat], radians]}}}
 * per circle to `or`. By the triangle inequality, a point within max_distance_m
 * of a member lies within max_distance_m + radius_m of the center. Returns
 * false when a circle would cover the whole sphere, so no prefilter applies.
 */
static bool mongo_append_circles(bson_t * or, const struct mongo_circle *circles, size_t count, double max_distance_m)
{
    for (size_t i = 0; i < count; i++) {
        double radius_m =
            (max_distance_m + circles[i].radius_m) * (1.0 + MONGO_NEARBY_RELATIVE_MARGIN) + MONGO_NEARBY_MARGIN_M;
        double radians = radius_m / GEO_EARTH_RADIUS_M;
        if (radians >= M_PI)
            return false;

        char key[16];
        const char *key_ptr;
        bson_uint32_to_string((uint32_t)i, &key_ptr, key, sizeof(key));
        bson_t clause, coordinates, within, sphere, center;
        BSON_APPEND_DOCUMENT_BEGIN(or, key_ptr, &clause);
        BSON_APPEND_DOCUMENT_BEGIN(&clause, "coordinates", &coordinates);
        BSON_APPEND_DOCUMENT_BEGIN(&coordinates, "$geoWithin", &within);
        BSON_APPEND_ARRAY_BEGIN(&within, "$centerSphere", &sphere);
        BSON_APPEND_ARRAY_BEGIN(&sphere, "0", &center);
        BSON_APPEND_DOUBLE(&center, "0", circles[i].center.lng);
        BSON_APPEND_DOUBLE(&center, "1", circles[i].center.lat);
        bson_append_array_end(&sphere, &center);
        BSON_APPEND_DOUBLE(&sphere, "1", radians);
        bson_append_array_end(&within, &sphere);
        bson_append_document_end(&coordinates, &within);
        bson_append_document_end(&clause, &coordinates);
        bson_append_document_end(or, &clause);
    }
    return true;
}

/*
 * Appends the first $match: markers of other journeys inside the circles
 * around the source points. Grows the cluster size until the points fit in
 * MONGO_NEARBY_MAX_CIRCLES circles, which keeps the $or small for a journey
 * of up to 10,000 markers.
 */
static bool mongo_append_nearby_match(bson_t *stages, const bson_oid_t *journey_id, const struct mongo_point *points,
                                      size_t n, double max_distance_m)
{
    struct mongo_circle circles[MONGO_NEARBY_MAX_CIRCLES];
    bool *covered = malloc(n * sizeof(*covered));
    if (covered == NULL)
        return false;
    double cluster_m = fmax(max_distance_m, MONGO_NEARBY_MIN_CLUSTER_M);
    size_t count;
    while ((count = mongo_cluster_points(points, n, cluster_m, circles, MONGO_NEARBY_MAX_CIRCLES, covered)) >
           MONGO_NEARBY_MAX_CIRCLES)
        cluster_m *= 2.0;
    free(covered);

    bson_t stage, match, ne, or ;
    BSON_APPEND_DOCUMENT_BEGIN(stages, "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
    BSON_APPEND_DOCUMENT_BEGIN(&match, "journey_id", &ne);
    BSON_APPEND_OID(&ne, "$ne", journey_id);
    bson_append_document_end(&match, &ne);

    bson_t circles_doc = BSON_INITIALIZER;
    if (mongo_append_circles(&circles_doc, circles, count, max_distance_m)) {
        BSON_APPEND_ARRAY_BEGIN(&match, "$or", & or);
        bson_concat(& or, &circles_doc);
        bson_append_array_end(&match, & or);
    }
    bson_destroy(&circles_doc);

    bson_append_document_end(&stage, &match);
    bson_append_document_end(stages, &stage);
    return true;
}

/* {$arrayElemAt: [array, index]} */
static bson_t *mongo_expr_element(const char *array, int index)
{
    return BCON_NEW("$arrayElemAt", "[", BCON_UTF8(array), BCON_INT32(index), "]");
}

/*
 * The haversine distance from the source $$s = [lng, lat, cos(lat)] to the
 * marker ($$lng, $$lat, $$cos_lat), in the same steps as geo_distance_m so
 * that both backends compute the same numbers.
 */
static bson_t *mongo_expr_haversine(void)
{
    bson_t *source_lng = mongo_expr_element("$$s", 0);
    bson_t *source_lat = mongo_expr_element("$$s", 1);
    bson_t *source_cos = mongo_expr_element("$$s", 2);
    bson_t *expr =
        BCON_NEW("$let", "{", "vars", "{", "sin_dphi", "{", "$sin", "{", "$divide", "[", "{", "$degreesToRadians", "{",
                 "$subtract", "[", BCON_UTF8("$$lat"), BCON_DOCUMENT(source_lat), "]", "}", "}", BCON_DOUBLE(2.0), "]",
                 "}", "}", "sin_dlambda", "{", "$sin", "{", "$divide", "[", "{", "$degreesToRadians", "{", "$subtract",
                 "[", BCON_UTF8("$$lng"), BCON_DOCUMENT(source_lng), "]", "}", "}", BCON_DOUBLE(2.0), "]", "}", "}",
                 "}", "in", "{", "$multiply", "[", BCON_DOUBLE(2.0 * GEO_EARTH_RADIUS_M), "{", "$asin", "{", "$sqrt",
                 "{", "$min", "[", BCON_DOUBLE(1.0), "{", "$max", "[", BCON_DOUBLE(0.0), "{", "$add", "[", "{",
                 "$multiply", "[", BCON_UTF8("$$sin_dphi"), BCON_UTF8("$$sin_dphi"), "]", "}", "{", "$multiply", "[",
                 BCON_DOCUMENT(source_cos), BCON_UTF8("$$cos_lat"), BCON_UTF8("$$sin_dlambda"),
                 BCON_UTF8("$$sin_dlambda"), "]", "}", "]", "}", "]", "}", "]", "}", "}", "}", "]", "}", "}");
    bson_destroy(source_lng);
    bson_destroy(source_lat);
    bson_destroy(source_cos);
    return expr;
}

/* Appends the sources as [[lng, lat, cos(lat in radians)], ...]; the cosine is computed once here. */
static void mongo_append_sources(bson_t *doc, const char *key, const struct mongo_point *points, size_t n)
{
    bson_t array;
    BSON_APPEND_ARRAY_BEGIN(doc, key, &array);
    for (size_t i = 0; i < n; i++) {
        char index[16];
        const char *index_ptr;
        bson_uint32_to_string((uint32_t)i, &index_ptr, index, sizeof(index));
        bson_t source;
        BSON_APPEND_ARRAY_BEGIN(&array, index_ptr, &source);
        BSON_APPEND_DOUBLE(&source, "0", points[i].lng);
        BSON_APPEND_DOUBLE(&source, "1", points[i].lat);
        BSON_APPEND_DOUBLE(&source, "2", cos(points[i].lat * MONGO_DEG_TO_RAD));
        bson_append_array_end(&array, &source);
    }
    bson_append_array_end(doc, &array);
}

/* Appends {$project: {journey_id: 1, distance_m: <min over the sources>}}. */
static void mongo_append_distance_stage(bson_t *stages, const char *key, const struct mongo_point *points, size_t n)
{
    bson_t *lng = mongo_expr_element("$coordinates.coordinates", 0);
    bson_t *lat = mongo_expr_element("$coordinates.coordinates", 1);
    bson_t *haversine = mongo_expr_haversine();

    bson_t stage, project, distance, let, vars, in, min, map;
    BSON_APPEND_DOCUMENT_BEGIN(stages, key, &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$project", &project);
    BSON_APPEND_INT32(&project, "journey_id", 1);
    BSON_APPEND_DOCUMENT_BEGIN(&project, "distance_m", &distance);
    BSON_APPEND_DOCUMENT_BEGIN(&distance, "$let", &let);
    BSON_APPEND_DOCUMENT_BEGIN(&let, "vars", &vars);
    BSON_APPEND_DOCUMENT(&vars, "lng", lng);
    BSON_APPEND_DOCUMENT(&vars, "lat", lat);
    bson_append_document_end(&let, &vars);
    BSON_APPEND_DOCUMENT_BEGIN(&let, "in", &in);
    /* A nested $let, because vars of one $let cannot refer to each other. */
    bson_t inner_let, inner_vars, cos_expr, radians_expr, inner_in;
    BSON_APPEND_DOCUMENT_BEGIN(&in, "$let", &inner_let);
    BSON_APPEND_DOCUMENT_BEGIN(&inner_let, "vars", &inner_vars);
    BSON_APPEND_DOCUMENT_BEGIN(&inner_vars, "cos_lat", &cos_expr);
    BSON_APPEND_DOCUMENT_BEGIN(&cos_expr, "$cos", &radians_expr);
    BSON_APPEND_UTF8(&radians_expr, "$degreesToRadians", "$$lat");
    bson_append_document_end(&cos_expr, &radians_expr);
    bson_append_document_end(&inner_vars, &cos_expr);
    bson_append_document_end(&inner_let, &inner_vars);
    BSON_APPEND_DOCUMENT_BEGIN(&inner_let, "in", &inner_in);
    BSON_APPEND_DOCUMENT_BEGIN(&inner_in, "$min", &min);
    BSON_APPEND_DOCUMENT_BEGIN(&min, "$map", &map);
    mongo_append_sources(&map, "input", points, n);
    BSON_APPEND_UTF8(&map, "as", "s");
    BSON_APPEND_DOCUMENT(&map, "in", haversine);
    bson_append_document_end(&min, &map);
    bson_append_document_end(&inner_in, &min);
    bson_append_document_end(&inner_let, &inner_in);
    bson_append_document_end(&in, &inner_let);
    bson_append_document_end(&let, &in);
    bson_append_document_end(&distance, &let);
    bson_append_document_end(&project, &distance);
    bson_append_document_end(&stage, &project);
    bson_append_document_end(stages, &stage);

    bson_destroy(lng);
    bson_destroy(lat);
    bson_destroy(haversine);
}

/*
 * journey_nearby's aggregation on markers, run after one find() that reads
 * the journey's own marker positions (`points`). A single $lookup from the
 * journey's markers cannot do it: $geoWithin needs constant coordinates, and
 * the let variables of a $lookup are only usable inside $expr, which accepts
 * no geo operator. So the positions travel in the pipeline, two round trips
 * in all:
 *  1. $match markers of other journeys inside circles around the positions
 *     ($geoWithin $centerSphere, served by the 2dsphere index);
 *  2. $project the exact haversine distance to the nearest position;
 *  3. $match distance_m <= max_distance_m, $group by journey_id with the
 *     smallest distance, $sort by distance then journey id;
 *  4. $lookup the journey documents (an orphan marker's journey drops out
 *     here, before $limit).
 * Step 2 costs one distance per candidate marker and position, which is what
 * an exact result needs without a server-side nearest-neighbour join.
 */
bson_t *mongo_nearby_pipeline(const bson_oid_t *journey_id, const struct mongo_point *points, size_t n,
                              double max_distance_m, size_t limit)
{
    if (n == 0)
        return NULL;
    size_t unique;
    struct mongo_point *sources = mongo_points_unique(points, n, &unique);
    if (sources == NULL)
        return NULL;

    bson_t *pipeline = bson_new();
    bson_t stages;
    BSON_APPEND_ARRAY_BEGIN(pipeline, "pipeline", &stages);
    if (!mongo_append_nearby_match(&stages, journey_id, sources, unique, max_distance_m)) {
        bson_append_array_end(pipeline, &stages);
        bson_destroy(pipeline);
        free(sources);
        return NULL;
    }
    mongo_append_distance_stage(&stages, "1", sources, unique);
    free(sources);

    bson_t *rest =
        BCON_NEW("2", "{", "$match", "{", "distance_m", "{", "$lte", BCON_DOUBLE(max_distance_m), "}", "}", "}", "3",
                 "{", "$group", "{", "_id", BCON_UTF8("$journey_id"), "distance_m", "{", "$min",
                 BCON_UTF8("$distance_m"), "}", "}", "}", "4", "{", "$sort", "{", "distance_m", BCON_INT32(1), "_id",
                 BCON_INT32(1), "}", "}", "5", "{", "$lookup", "{", "from", BCON_UTF8("journeys"), "localField",
                 BCON_UTF8("_id"), "foreignField", BCON_UTF8("_id"), "as", BCON_UTF8("journey"), "}", "}", "6", "{",
                 "$unwind", BCON_UTF8("$journey"), "}", "7", "{", "$limit", BCON_INT64((int64_t)limit), "}");
    bson_concat(&stages, rest);
    bson_destroy(rest);
    bson_append_array_end(pipeline, &stages);
    return pipeline;
}

void mongo_rotate_filter(const bson_oid_t *family_id, const char *presented_jti, int64_t now, bson_t *filter)
{
    BCON_APPEND(filter, "_id", BCON_OID(family_id), "revoked", BCON_BOOL(false), "current_jti",
                BCON_UTF8(presented_jti), "expires_at", "{", "$gt", BCON_DATE_TIME(now), "}");
}

void mongo_replay_filter(const bson_oid_t *family_id, const char *presented_jti, int64_t now, bson_t *filter)
{
    BCON_APPEND(filter, "_id", BCON_OID(family_id), "revoked", BCON_BOOL(false), "current_jti", "{", "$ne",
                BCON_UTF8(presented_jti), "}", "expires_at", "{", "$gt", BCON_DATE_TIME(now), "}");
}

void mongo_claim_filter(int64_t now, bson_t *filter)
{
    BCON_APPEND(filter, "$or", "[", "{", "status", BCON_UTF8("pending"), "next_attempt_at", "{", "$lte",
                BCON_DATE_TIME(now), "}", "}", "{", "status", BCON_UTF8("sending"), "lease_until", "{", "$lte",
                BCON_DATE_TIME(now), "}", "}", "]");
}

void mongo_other_active_filter(const bson_oid_t *user_id, const bson_oid_t *journey_id, bson_t *filter)
{
    BCON_APPEND(filter, "user_id", BCON_OID(user_id), "active", BCON_BOOL(true), "_id", "{", "$ne",
                BCON_OID(journey_id), "}");
}

/* Escapes every ASCII character but letters and digits; in PCRE a backslash before those makes them literal. */
static char *mongo_regex_escape(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(2 * len + 1);
    if (out == NULL)
        return NULL;
    char *p = out;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        bool literal = *c >= 0x80 || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
        if (!literal)
            *p++ = '\\';
        *p++ = (char)*c;
    }
    *p = '\0';
    return out;
}

bool mongo_legacy_email_filter(const char *normalized, bson_t *filter)
{
    char *escaped = mongo_regex_escape(normalized);
    if (escaped == NULL)
        return false;
    char *pattern = bson_strdup_printf("^\\s*%s\\s*$", escaped);
    free(escaped);
    BCON_APPEND(filter, "email_normalized", "{", "$exists", BCON_BOOL(false), "}");
    BSON_APPEND_REGEX(filter, "email", pattern, "i");
    bson_free(pattern);
    return true;
}
