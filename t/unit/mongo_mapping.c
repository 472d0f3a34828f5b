/*
 * Tests of the MongoDB backend that need no server: models written as BSON
 * equal the documents of the old backend (fixtures in canonical extended
 * JSON under t/fixtures/mongo), old documents read into the right models,
 * the filters and the nearby pipeline are the expected documents, URIs are
 * prepared and described without credentials, and an unreachable server
 * gives KAIROS_ERR_UNAVAILABLE quickly. Run from the repository root.
 */
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <time.h>

#include "storage/backends.h"
#include "storage/geo.h"
#include "storage/mongo/mongo.h"
#include "t/unit/tap.h"

#define FIXTURES "t/fixtures/mongo/"

/* Reads FIXTURES/name into a new bson_t, or NULL with a diagnostic. */
static bson_t *fixture_load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("# cannot open %s (run from the repository root)\n", path);
        return NULL;
    }
    char text[65536];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    bson_error_t error;
    bson_t *doc = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
    if (doc == NULL)
        printf("# %s is not valid extended JSON: %s\n", path, error.message);
    return doc;
}

/* Checks that doc equals the fixture byte for byte (same fields, order and BSON types). */
static void is_fixture(const bson_t *doc, const char *name, const char *test_name)
{
    bson_t *want = fixture_load(name);
    bool same = want != NULL && bson_equal(doc, want);
    ok(same, test_name);
    if (!same) {
        char *got_json = bson_as_canonical_extended_json(doc, NULL);
        char *want_json = want != NULL ? bson_as_canonical_extended_json(want, NULL) : NULL;
        printf("#   got      %s\n#   expected %s\n", got_json, want_json ? want_json : "(no fixture)");
        bson_free(got_json);
        bson_free(want_json);
    }
    if (want != NULL)
        bson_destroy(want);
}

/* Checks a filter built in C against the same document written as canonical extended JSON. */
static void is_json_doc(const bson_t *doc, const char *json, const char *test_name)
{
    bson_error_t error;
    bson_t *want = bson_new_from_json((const uint8_t *)json, -1, &error);
    bool same = want != NULL && bson_equal(doc, want);
    ok(same, test_name);
    if (!same) {
        char *got_json = bson_as_canonical_extended_json(doc, NULL);
        printf("#   got      %s\n#   expected %s%s\n", got_json, json, want ? "" : " (invalid JSON)");
        bson_free(got_json);
    }
    if (want != NULL)
        bson_destroy(want);
}

static void test_write_user(void)
{
    struct user user = {.id = "65f1c0de1234567890abcdef",
                        .email = "  Ann.Rider@Example.com ",
                        .name = "Ann",
                        .password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                        .phonenumber = "+41 79 000 00 00",
                        .country = "CH",
                        .created_at = 1718215200000};
    bson_t doc = BSON_INITIALIZER;
    ok(mongo_user_to_bson(&user, &doc), "user to BSON succeeds");
    is_fixture(&doc, "user.json", "user document matches the fixture (trimmed email, email_normalized)");
    bson_destroy(&doc);

    struct user blank = {.id = "65f1c0de1234567890abcdef", .email = "   ", .name = "x"};
    bson_init(&doc);
    ok(!mongo_user_to_bson(&blank, &doc), "user with a blank email is rejected");
    bson_destroy(&doc);
}

static void test_read_users(struct pool *pool)
{
    char err[160];
    struct user user;
    bson_t *doc = fixture_load("user.json");
    ok(doc != NULL && mongo_user_from_bson(doc, pool, &user, err, sizeof(err)), "new user document reads");
    if (doc != NULL) {
        is_str(user.id, "65f1c0de1234567890abcdef", "user id");
        is_str(user.email, "Ann.Rider@Example.com", "user email as registered");
        is_str(user.phonenumber, "+41 79 000 00 00", "user phone number");
        ok(user.instagram == NULL, "null instagram reads as NULL");
        is_str(user.country, "CH", "user country");
        is_int(user.created_at, 1718215200000, "user created_at");
        bson_destroy(doc);
    }

    doc = fixture_load("user_old.json");
    ok(doc != NULL && mongo_user_from_bson(doc, pool, &user, err, sizeof(err)), "old user document reads");
    if (doc != NULL) {
        is_str(user.email, "Old.Rider@Example.com", "old user email");
        is_str(user.name, "Old Rider", "old user name");
        is_str(user.password_hash, "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
               "old user keeps the bcrypt hash");
        ok(user.phonenumber == NULL && user.instagram == NULL && user.country == NULL,
           "missing optional fields read as NULL");
        ok(user.is_verified, "old user is_verified");
        is_int(user.created_at, 1710342366000LL, "missing created_at is the ObjectId time");
        bson_destroy(doc);
    }

    bson_t *no_id = BCON_NEW("email", BCON_UTF8("a@b.c"));
    ok(!mongo_user_from_bson(no_id, pool, &user, err, sizeof(err)), "a user without ObjectId _id is rejected");
    ok(strstr(err, "_id") != NULL, "the reason names _id");
    bson_destroy(no_id);
}

static void test_journeys(struct pool *pool)
{
    struct journey journey = {.id = "65f1c0de1234567890abcd01",
                              .user_id = "65f1c0de1234567890abcdef",
                              .name = "Tour Divide",
                              .description = "Banff to Antelope Wells",
                              .created_at = 1718215200000,
                              .active = true};
    bson_t doc = BSON_INITIALIZER;
    mongo_journey_to_bson(&journey, &doc);
    is_fixture(&doc, "journey.json", "journey document matches the fixture");
    bson_destroy(&doc);

    char err[160];
    struct journey got;
    bson_t *old = fixture_load("journey_old.json");
    ok(old != NULL && mongo_journey_from_bson(old, pool, &got, err, sizeof(err)), "old journey document reads");
    if (old != NULL) {
        is_str(got.name, "Old tour", "old journey name");
        is_str(got.description, "", "missing description reads as empty");
        is_str(got.user_id, "65f1c0de1234567890abcde0", "old journey user_id");
        ok(!got.active && !got.completed, "missing active and completed read as false");
        is_int(got.created_at, 1710342366000LL, "missing journey created_at is the ObjectId time");
        bson_destroy(old);
    }
}

static void test_markers(struct pool *pool)
{
    struct marker marker = {.id = "65f1c0de1234567890abcc01",
                            .journey_id = "65f1c0de1234567890abcd01",
                            .owner_id = "65f1c0de1234567890abcdef",
                            .name = "Banff",
                            .marker_type = MARKER_PAST,
                            .lng = -115.57,
                            .lat = 51.18,
                            .has_alt = true,
                            .alt = 1383.5,
                            .timestamp = "2026-06-12",
                            .notes = "start",
                            .created_at = 1781287200000};
    bson_t doc = BSON_INITIALIZER;
    ok(mongo_marker_to_bson(&marker, 1781287200000000LL, &doc), "marker to BSON succeeds");
    is_fixture(&doc, "marker.json", "marker document matches the fixture");
    bson_destroy(&doc);

    marker.timestamp = "2026-02-30";
    bson_init(&doc);
    ok(!mongo_marker_to_bson(&marker, 1, &doc), "marker with an impossible date is rejected");
    bson_destroy(&doc);

    char err[160];
    struct marker got;
    bson_t *stored = fixture_load("marker.json");
    ok(stored != NULL && mongo_marker_from_bson(stored, pool, &got, err, sizeof(err)), "new marker reads");
    if (stored != NULL) {
        is_str(got.timestamp, "2026-06-12", "timestamp datetime reads as its day");
        ok(got.estimated_time == NULL, "null estimated_time reads as NULL");
        ok(got.has_alt, "altitude is present");
        is_near(got.alt, 1383.5, 0, "altitude value");
        is_near(got.lng, -115.57, 0, "longitude value");
        bson_destroy(stored);
    }

    bson_t *old = fixture_load("marker_old.json");
    ok(old != NULL && mongo_marker_from_bson(old, pool, &got, err, sizeof(err)), "old marker reads");
    if (old != NULL) {
        is_int(got.marker_type, MARKER_PLAN, "old marker type plan");
        is_near(got.lng, -115.0, 0, "integer longitude reads as a number");
        is_near(got.lat, 49.5, 0, "old latitude");
        ok(!got.has_alt, "two coordinates mean no altitude");
        ok(got.timestamp == NULL, "null timestamp reads as NULL");
        is_str(got.estimated_time, "2026-06-15", "estimated_time datetime reads as its day");
        is_str(got.notes, "", "missing notes read as empty");
        is_int(got.created_at, 1710342366000LL, "missing marker created_at is the ObjectId time");
        bson_destroy(old);
    }

    bson_oid_t marker_id;
    bson_oid_init_from_string(&marker_id, "65f1c0de1234567890abcc09");
    bson_t *no_point = BCON_NEW("_id", BCON_OID(&marker_id), "journey_id", BCON_UTF8("65f1c0de1234567890abcd01"),
                                "coordinates", "{", "type", BCON_UTF8("Point"), "}");
    ok(!mongo_marker_from_bson(no_point, pool, &got, err, sizeof(err)), "a marker without coordinates is rejected");
    bson_destroy(no_point);
}

static void test_tokens_and_mail(struct pool *pool)
{
    struct refresh_family family = {.id = "65f1c0de1234567890abcb01",
                                    .user_id = "65f1c0de1234567890abcdef",
                                    .current_jti = "65f1c0de1234567890abcb99",
                                    .expires_at = 1719424800000};
    bson_t doc = BSON_INITIALIZER;
    mongo_refresh_family_to_bson(&family, 1718215200000, &doc);
    is_fixture(&doc, "refresh_family.json", "refresh family document matches the fixture");
    char err[160];
    struct refresh_family family_got;
    ok(mongo_refresh_family_from_bson(&doc, &family_got, err, sizeof(err)), "refresh family reads back");
    is_str(family_got.current_jti, family.current_jti, "refresh family jti reads back");
    is_int(family_got.expires_at, family.expires_at, "refresh family expiry reads back");
    bson_destroy(&doc);

    struct mail_entry entry = {.id = "65f1c0de1234567890abca01",
                               .user_id = "65f1c0de1234567890abcdef",
                               .kind = MAIL_RESET_PASSWORD,
                               .to_email = "ann.rider@example.com",
                               .next_attempt_at = 1718215200000,
                               .created_at = 1718215200000};
    bson_init(&doc);
    mongo_mail_entry_to_bson(&entry, &doc);
    is_fixture(&doc, "mail_entry.json", "mail entry document matches the fixture");
    struct mail_entry mail_got;
    ok(mongo_mail_entry_from_bson(&doc, pool, &mail_got, err, sizeof(err)), "mail entry reads back");
    is_int(mail_got.kind, MAIL_RESET_PASSWORD, "mail kind reads back");
    is_int(mail_got.status, MAIL_PENDING, "mail status reads back");
    ok(mail_got.last_error == NULL, "null last_error reads as NULL");
    bson_destroy(&doc);
}

static void test_days(struct pool *pool)
{
    int64_t ms = 0;
    ok(mongo_day_to_ms("2024-02-29", &ms), "a leap day is valid");
    is_int(ms, 1709164800000LL, "2024-02-29 is midnight UTC");
    ok(!mongo_day_to_ms("2023-02-29", &ms), "29 February of a common year is invalid");
    ok(!mongo_day_to_ms("2026-13-01", &ms), "month 13 is invalid");
    ok(!mongo_day_to_ms("2026-06-1x", &ms), "a letter in the day is invalid");
    ok(!mongo_day_to_ms("2026-6-12", &ms), "a short month is invalid");
    is_str(mongo_day_from_ms(pool, 1781287200000LL), "2026-06-12", "a time of day maps to its UTC day");
    is_str(mongo_day_from_ms(pool, -1), "1969-12-31", "a time before the epoch maps to the day before");
}

static void test_filters(void)
{
    bson_oid_t family, user, journey;
    bson_oid_init_from_string(&family, "65f1c0de1234567890abcb01");
    bson_oid_init_from_string(&user, "65f1c0de1234567890abcdef");
    bson_oid_init_from_string(&journey, "65f1c0de1234567890abcd01");

    bson_t filter = BSON_INITIALIZER;
    mongo_rotate_filter(&family, "65f1c0de1234567890abcb99", 1718215200000, &filter);
    is_json_doc(&filter,
                "{\"_id\": {\"$oid\": \"65f1c0de1234567890abcb01\"}, \"revoked\": false,"
                " \"current_jti\": \"65f1c0de1234567890abcb99\","
                " \"expires_at\": {\"$gt\": {\"$date\": {\"$numberLong\": \"1718215200000\"}}}}",
                "rotate filter matches only the live family with the presented jti");
    bson_reinit(&filter);
    mongo_replay_filter(&family, "65f1c0de1234567890abcb99", 1718215200000, &filter);
    is_json_doc(&filter,
                "{\"_id\": {\"$oid\": \"65f1c0de1234567890abcb01\"}, \"revoked\": false,"
                " \"current_jti\": {\"$ne\": \"65f1c0de1234567890abcb99\"},"
                " \"expires_at\": {\"$gt\": {\"$date\": {\"$numberLong\": \"1718215200000\"}}}}",
                "replay filter matches the live family with another jti");
    bson_reinit(&filter);
    mongo_claim_filter(1718215200000, &filter);
    is_json_doc(&filter,
                "{\"$or\": [{\"status\": \"pending\","
                " \"next_attempt_at\": {\"$lte\": {\"$date\": {\"$numberLong\": \"1718215200000\"}}}},"
                " {\"status\": \"sending\","
                " \"lease_until\": {\"$lte\": {\"$date\": {\"$numberLong\": \"1718215200000\"}}}}]}",
                "claim filter takes due pending entries and expired leases");
    bson_reinit(&filter);
    mongo_other_active_filter(&user, &journey, &filter);
    is_json_doc(&filter,
                "{\"user_id\": {\"$oid\": \"65f1c0de1234567890abcdef\"}, \"active\": true,"
                " \"_id\": {\"$ne\": {\"$oid\": \"65f1c0de1234567890abcd01\"}}}",
                "other-active filter spares the journey being activated");
    bson_reinit(&filter);
    ok(mongo_legacy_email_filter("a.b+c@x.com", &filter), "legacy email filter builds");
    is_json_doc(&filter,
                "{\"email_normalized\": {\"$exists\": false},"
                " \"email\": {\"$regularExpression\": {\"pattern\": \"^\\\\s*a\\\\.b\\\\+c\\\\@x\\\\.com\\\\s*$\","
                " \"options\": \"i\"}}}",
                "legacy email filter escapes the address and ignores case");
    bson_destroy(&filter);
}

/* The circles of the first $match, read back from a pipeline. */
static size_t pipeline_circles(const bson_t *pipeline, struct mongo_point *centers, double *radii, size_t max)
{
    bson_iter_t iter, or ;
    size_t n = 0;
    if (!bson_iter_init(&iter, pipeline) || !bson_iter_find_descendant(&iter, "pipeline.0.$match.$or", & or) ||
        !bson_iter_recurse(& or, &iter))
        return 0;
    while (n < max && bson_iter_next(&iter)) {
        bson_iter_t lng, lat, radius;
        if (!bson_iter_recurse(&iter, &lng))
            break;
        lat = lng;
        radius = lng;
        if (!bson_iter_find_descendant(&lng, "coordinates.$geoWithin.$centerSphere.0.0", &lng) ||
            !bson_iter_find_descendant(&lat, "coordinates.$geoWithin.$centerSphere.0.1", &lat) ||
            !bson_iter_find_descendant(&radius, "coordinates.$geoWithin.$centerSphere.1", &radius))
            break;
        centers[n].lng = bson_iter_double(&lng);
        centers[n].lat = bson_iter_double(&lat);
        radii[n] = bson_iter_double(&radius) * GEO_EARTH_RADIUS_M;
        n++;
    }
    return n;
}

static void test_nearby_pipeline(void)
{
    bson_oid_t journey;
    bson_oid_init_from_string(&journey, "65f1c0de1234567890abcd01");
    struct mongo_point points[] = {{10, 10}, {179.9, 0}, {10, 10}};
    bson_t *pipeline = mongo_nearby_pipeline(&journey, points, 3, 30000, 50);
    ok(pipeline != NULL, "nearby pipeline builds");
    if (pipeline != NULL) {
        is_fixture(pipeline, "nearby_pipeline.json", "nearby pipeline matches the fixture");
        bson_destroy(pipeline);
    }
    ok(mongo_nearby_pipeline(&journey, points, 0, 30000, 50) == NULL, "no markers, no pipeline");

    /* 10,000 markers along the equator and up a meridian: the circles must stay few and cover every point. */
    enum { MANY = 10000 };
    struct mongo_point *many = malloc(MANY * sizeof(*many));
    for (size_t i = 0; i < MANY; i++) {
        many[i].lng = i < MANY / 2 ? -170.0 + (double)i * 0.07 : 20.0;
        many[i].lat = i < MANY / 2 ? 0.0 : -80.0 + (double)(i - MANY / 2) * 0.032;
    }
    double max_distance = 50000;
    pipeline = mongo_nearby_pipeline(&journey, many, MANY, max_distance, 50);
    struct mongo_point centers[128];
    double radii[128];
    size_t circles = pipeline != NULL ? pipeline_circles(pipeline, centers, radii, 128) : 0;
    ok(circles >= 1 && circles <= 64, "10,000 markers fit in at most 64 circles");
    size_t uncovered = 0;
    for (size_t i = 0; i < MANY; i++) {
        bool inside = false;
        for (size_t c = 0; c < circles && !inside; c++)
            inside =
                geo_distance_m(centers[c].lng, centers[c].lat, many[i].lng, many[i].lat) + max_distance <= radii[c];
        uncovered += !inside;
    }
    is_int(uncovered, 0, "every marker's search circle lies inside a prefilter circle");
    if (pipeline != NULL)
        bson_destroy(pipeline);

    /* A 2,000 km search around points all over the globe needs no prefilter at all. */
    struct mongo_point spread[] = {{0, 0}, {180, 0}, {90, 45}, {-90, -45}};
    pipeline = mongo_nearby_pipeline(&journey, spread, 4, 2000000, 50);
    bson_iter_t iter;
    ok(pipeline != NULL && bson_iter_init(&iter, pipeline) &&
           bson_iter_find_descendant(&iter, "pipeline.0.$match.journey_id.$ne", &iter),
       "wide search still excludes the journey itself");
    if (pipeline != NULL)
        bson_destroy(pipeline);
    free(many);
}

static void test_uris(void)
{
    char err[256] = "", described[512];
    mongoc_uri_t *uri = mongo_uri_prepare(
        "mongodb://rider:s3cr%40t@127.0.0.1:27017,127.0.0.2:27018/kairos?authSource=admin", err, sizeof(err));
    ok(uri != NULL, "a URI with credentials is prepared");
    if (uri != NULL) {
        is_int(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0), 5000,
               "serverSelectionTimeoutMS defaults to 5000");
        is_int(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 0), 5000,
               "connectTimeoutMS defaults to 5000");
        is_int(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 0), 30000,
               "socketTimeoutMS defaults to 30000");
        is_str(mongoc_uri_get_appname(uri), "kairos", "appname is kairos");
        mongo_uri_describe(uri, described, sizeof(described));
        is_str(described, "mongodb://127.0.0.1:27017,127.0.0.2:27018/kairos", "the description holds hosts only");
        ok(strstr(described, "s3cr") == NULL && strstr(described, "rider") == NULL,
           "the description holds no credentials");
        mongoc_uri_destroy(uri);
    }

    uri = mongo_uri_prepare("mongodb://127.0.0.1/kairos?serverSelectionTimeoutMS=300&appname=other", err, sizeof(err));
    ok(uri != NULL, "a URI with options is prepared");
    if (uri != NULL) {
        is_int(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0), 300,
               "a given timeout is kept");
        is_str(mongoc_uri_get_appname(uri), "other", "a given appname is kept");
        mongoc_uri_destroy(uri);
    }

    uri = mongo_uri_prepare("mongodb+srv://rider:s3cret@cluster0.example.net/kairos", err, sizeof(err));
    ok(uri != NULL, "an SRV URI is prepared");
    if (uri != NULL) {
        mongo_uri_describe(uri, described, sizeof(described));
        is_str(described, "mongodb+srv://cluster0.example.net/kairos", "an SRV description holds the host only");
        mongoc_uri_destroy(uri);
    }

    uri = mongo_uri_prepare("mongodb://127.0.0.1:27017", err, sizeof(err));
    ok(uri == NULL, "a URI without database is rejected");
    ok(strstr(err, "KAIROS_STORAGE") != NULL && strstr(err, "no database") != NULL,
       "the error names KAIROS_STORAGE and the missing database");

    uri = mongo_uri_prepare("mongodb://rider:s3cret@127.0.0.1:27017/kairos?noSuchOption=1&w=bogus", err, sizeof(err));
    if (uri == NULL) {
        ok(strstr(err, "s3cret") == NULL, "the error about a bad URI holds no password");
    } else {
        ok(true, "the driver accepts unknown options with a warning");
        mongoc_uri_destroy(uri);
    }
    uri = mongo_uri_prepare("mongodb://rider:s3cret@/kairos", err, sizeof(err));
    ok(uri == NULL, "a URI without host is rejected");
    ok(strstr(err, "s3cret") == NULL, "the rejection holds no password");
}

static int64_t elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void test_unreachable(void)
{
    struct storage *s = NULL;
    char err[256] = "";
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    is_int(mongo_storage_open("mongodb://127.0.0.1:1/kairos_test?serverSelectionTimeoutMS=300", &s, err, sizeof(err)),
           KAIROS_OK, "open succeeds while the server is down");
    if (s == NULL)
        return;
    is_int(s->ops->ping(s), KAIROS_ERR_UNAVAILABLE, "ping of an unreachable server is unavailable");
    struct pool *pool = pool_create();
    struct user user;
    is_int(s->ops->user_get(s, pool, "65f1c0de1234567890abcdef", &user), KAIROS_ERR_UNAVAILABLE,
           "an operation on an unreachable server is unavailable");
    pool_destroy(pool);
    ok(elapsed_ms(&start) < 5000, "unavailability is reported within seconds");
    is_str(s->ops->name, "mongodb", "the backend is named mongodb");
    storage_close(s);

    s = NULL;
    is_int(mongo_storage_open("mongodb://127.0.0.1:1", &s, err, sizeof(err)), KAIROS_ERR_INVALID,
           "open without database fails");
    ok(s == NULL, "no storage is returned on failure");
}

int main(void)
{
    struct pool *pool = pool_create();
    test_write_user();
    test_read_users(pool);
    test_journeys(pool);
    test_markers(pool);
    test_tokens_and_mail(pool);
    test_days(pool);
    test_filters();
    test_nearby_pipeline();
    test_uris();
    test_unreachable();
    pool_destroy(pool);
    return tap_done();
}
