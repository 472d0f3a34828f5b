/*
 * Tests of the SpatiaLite backend: the shared storage suite on a fresh file,
 * then what only this backend has: schema versions, the partial unique index,
 * concurrent writers in two processes, the marker limit and the spatial index.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/backends.h"
#include "storage/geo.h"
#include "t/unit/storage_suite.h"

static char test_dir[] = "/tmp/kairos-spatialite-XXXXXX";
static char test_path[256];

static int query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int value = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

/* Runs one statement on a plain connection (no SpatiaLite) and returns SQLite's result code. */
static int exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        rc = sqlite3_extended_errcode(db);
    sqlite3_close(db);
    return rc;
}

static struct storage *open_storage(const char *path)
{
    struct storage *s = NULL;
    char err[512] = "";
    if (spatialite_storage_open(path, &s, err, sizeof(err)) != KAIROS_OK)
        printf("# open %s failed: %s\n", path, err);
    return s;
}

static void test_open_errors(void)
{
    struct storage *s = NULL;
    char err[512] = "";
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no-such-dir/kairos.sqlite", test_dir);
    is_int(spatialite_storage_open(missing, &s, err, sizeof(err)), KAIROS_ERR_INVALID,
           "open in a missing directory fails");
    ok(strstr(err, "does not exist") != NULL, "the error names the missing directory");
    ok(s == NULL, "no storage is returned on failure");
    is_int(spatialite_storage_open("", &s, err, sizeof(err)), KAIROS_ERR_INVALID, "open with an empty path fails");
}

static void test_schema(struct suite *t)
{
    struct storage *s = t->s;
    is_str(s->ops->name, "spatialite", "the backend is named spatialite");
    is_int(query_int(test_path, "PRAGMA user_version"), 2, "user_version is the latest schema version");
    is_int(query_int(test_path, "SELECT count(*) FROM sqlite_master WHERE name = 'idx_markers_geom'"), 1,
           "the spatial index exists");
    is_int(query_int(test_path, "SELECT count(*) FROM sqlite_master WHERE name = 'journeys_one_active'"), 1,
           "the one-active-journey index exists");
    char mode[16] = "";
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_open(test_path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    is_str(mode, "wal", "the database is in WAL mode");
}

static void test_reopen(void)
{
    int users = query_int(test_path, "SELECT count(*) FROM users");
    struct storage *again = open_storage(test_path);
    ok(again != NULL, "reopening an existing database succeeds");
    if (again == NULL)
        return;
    is_int(query_int(test_path, "PRAGMA user_version"), 2, "reopening keeps the schema version");
    is_int(query_int(test_path, "SELECT count(*) FROM users"), users, "reopening keeps the data");
    storage_close(again);

    char newer[300];
    snprintf(newer, sizeof(newer), "%s/newer.sqlite", test_dir);
    struct storage *s = open_storage(newer);
    storage_close(s);
    exec_sql(newer, "PRAGMA user_version = 99");
    char err[512] = "";
    s = NULL;
    ok(spatialite_storage_open(newer, &s, err, sizeof(err)) != KAIROS_OK, "a newer schema version is rejected");
    ok(strstr(err, "99") != NULL, "the error names the version");
}

/* Turns a fresh database back into schema version 1, then lets open() upgrade it. */
static void test_upgrade_from_version_1(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/upgrade.sqlite", test_dir);
    struct storage *s = open_storage(path);
    if (s == NULL) {
        ok(0, "open a database to downgrade");
        return;
    }
    struct suite t = {.s = s};
    id_generate(t.tag);
    char user_id[ID_HEX_LEN + 1], journey_id[ID_HEX_LEN + 1];
    suite_user(&t, "upgrade", user_id);
    suite_journey(&t, user_id, "old", false, journey_id);
    for (int i = 0; i < 3; i++)
        suite_marker(&t, journey_id, user_id, i, i, NULL);
    storage_close(s);

    is_int(exec_sql(path, "DROP TRIGGER markers_count_insert; DROP TRIGGER markers_count_delete;"
                          " DROP TRIGGER markers_count_move; ALTER TABLE journeys DROP COLUMN marker_count;"
                          " PRAGMA user_version = 1;"),
           SQLITE_OK, "downgrade a database to schema version 1");
    s = open_storage(path);
    t.s = s;
    ok(s != NULL, "open upgrades a version 1 database");
    is_int(query_int(path, "PRAGMA user_version"), 2, "the upgraded database is at the latest version");
    is_int(query_int(path, "SELECT marker_count FROM journeys"), 3, "the upgrade counted the existing markers");
    if (s != NULL) {
        is_int(suite_marker(&t, journey_id, user_id, 5, 5, NULL), KAIROS_OK, "the upgraded database takes markers");
        is_int(query_int(path, "SELECT marker_count FROM journeys"), 4, "the count triggers work after the upgrade");
    }
    storage_close(s);
}

static void test_partial_index(struct suite *t)
{
    char user_id[ID_HEX_LEN + 1], first[ID_HEX_LEN + 1], second[ID_HEX_LEN + 1];
    suite_user(t, "index", user_id);
    suite_journey(t, user_id, "one", true, first);
    suite_journey(t, user_id, "two", false, second);

    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE journeys SET active = 1 WHERE id = '%s'", second);
    is_int(exec_sql(test_path, sql), SQLITE_CONSTRAINT_UNIQUE, "raw SQL cannot make a second journey active");
    snprintf(sql, sizeof(sql),
             "INSERT INTO journeys (id, user_id, name, description, created_at, active, completed)"
             " VALUES ('%024d', '%s', 'raw', '', 0, 1, 0)",
             7, user_id);
    is_int(exec_sql(test_path, sql), SQLITE_CONSTRAINT_UNIQUE, "raw SQL cannot insert a second active journey");
}

/* Each of two processes toggles journeys of one user; afterwards at most one is active. */
static void test_concurrent_toggles(struct suite *t)
{
    char user_id[ID_HEX_LEN + 1], journeys[4][ID_HEX_LEN + 1];
    suite_user(t, "racer", user_id);
    for (int i = 0; i < 4; i++)
        suite_journey(t, user_id, "race", false, journeys[i]);

    pid_t children[2];
    for (int c = 0; c < 2; c++) {
        children[c] = fork();
        if (children[c] == 0) {
            struct storage *s = open_storage(test_path);
            int failures = s == NULL;
            for (int i = 0; s != NULL && i < 200; i++) {
                bool now_active;
                if (s->ops->journey_toggle_active(s, journeys[(i + c) % 4], &now_active) != KAIROS_OK)
                    failures++;
            }
            storage_close(s);
            _exit(failures == 0 ? 0 : 1);
        }
    }
    int clean = 1;
    for (int c = 0; c < 2; c++) {
        int status = 0;
        if (children[c] < 0 || waitpid(children[c], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            clean = 0;
    }
    ok(clean, "400 concurrent toggles in two processes all succeed");
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM journeys WHERE user_id = '%s' AND active = 1", user_id);
    ok(query_int(test_path, sql) <= 1, "at most one journey is active after concurrent toggles");
}

/*
 * Inserts count markers into journey_id with raw SQL in one transaction:
 * 10000 separate commits through the vtable would spend seconds in WAL
 * checkpoints. mod_spatialite is loaded because the geometry triggers call it.
 */
static bool insert_markers_raw(const char *journey_id, const char *owner_id, int count)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    bool done = false;
    if (sqlite3_open_v2(test_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
    if (sqlite3_load_extension(db, "mod_spatialite", NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO markers (id, journey_id, owner_id, name, marker_type, lng, lat, notes,"
                           " created_at, geom) VALUES (?, ?, ?, 'bulk', 'past', ?, 45, '', 0, MakePoint(?, 45, 4326))",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto out;
    for (int i = 0; i < count; i++) {
        char id[ID_HEX_LEN + 1];
        id_generate(id);
        sqlite3_reset(stmt);
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 2, journey_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, owner_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 4, -120 + i * 0.001);
        sqlite3_bind_double(stmt, 5, -120 + i * 0.001);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            goto out;
    }
    done = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
out:
    if (!done)
        printf("# raw marker insert failed: %s\n", db ? sqlite3_errmsg(db) : "no connection");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return done;
}

/* 9000 markers in bulk, the last 1000 through the vtable, then one too many. */
static void test_marker_limit(struct suite *t)
{
    char user_id[ID_HEX_LEN + 1], journey_id[ID_HEX_LEN + 1];
    suite_user(t, "limit", user_id);
    suite_journey(t, user_id, "long", false, journey_id);

    ok(insert_markers_raw(journey_id, user_id, STORAGE_MAX_MARKERS_PER_JOURNEY - 1000), "insert 9000 markers in bulk");
    int failures = 0;
    for (int i = 0; i < 1000; i++)
        if (suite_marker(t, journey_id, user_id, 60 + i * 0.001, 45, NULL) != KAIROS_OK)
            failures++;
    is_int(failures, 0, "markers up to the 10000th are accepted");
    is_int(suite_marker(t, journey_id, user_id, 0, 0, NULL), KAIROS_ERR_LIMIT, "the 10001st marker is over the limit");

    struct pool *pool = pool_create();
    struct marker *list = NULL;
    size_t count = 0;
    t->s->ops->marker_list_by_journey(t->s, pool, journey_id, &list, &count);
    is_int(count, STORAGE_MAX_MARKERS_PER_JOURNEY, "the journey holds exactly 10000 markers");

    if (count > 0)
        t->s->ops->marker_delete(t->s, journey_id, list[0].id);
    is_int(suite_marker(t, journey_id, user_id, 0, 0, NULL), KAIROS_OK, "deleting a marker makes room for one more");
    pool_destroy(pool);
}

/* Backend checks beyond the shared suite: input validation, foreign keys and the spatial index. */
static void test_backend_checks(struct suite *t)
{
    struct storage *s = t->s;
    char user_id[ID_HEX_LEN + 1], journey_id[ID_HEX_LEN + 1], unknown[ID_HEX_LEN + 1];
    suite_user(t, "checks", user_id);
    suite_journey(t, user_id, "checks", false, journey_id);
    id_generate(unknown);

    is_int(suite_marker(t, journey_id, user_id, 0, 91, NULL), KAIROS_ERR_INVALID, "latitude 91 is invalid");
    is_int(suite_marker(t, journey_id, user_id, -180.5, 0, NULL), KAIROS_ERR_INVALID, "longitude -180.5 is invalid");
    is_int(suite_marker(t, journey_id, user_id, NAN, 0, NULL), KAIROS_ERR_INVALID, "a NaN longitude is invalid");
    is_int(suite_marker(t, unknown, user_id, 0, 0, NULL), KAIROS_ERR_NOT_FOUND,
           "a marker in an unknown journey is not found");

    char marker_id[ID_HEX_LEN + 1];
    suite_marker(t, journey_id, user_id, 33, 44, marker_id);
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM idx_markers_geom AS r JOIN markers AS m ON m.seq = r.pkid WHERE m.id = '%s'",
             marker_id);
    is_int(query_int(test_path, sql), 1, "a new marker is in the spatial index");
    s->ops->journey_delete(s, journey_id);
    is_int(query_int(test_path, "SELECT count(*) FROM idx_markers_geom WHERE pkid NOT IN (SELECT seq FROM markers)"), 0,
           "deleting a journey removes its markers from the spatial index");

    struct journey journey = {.name = "orphan", .description = ""};
    memcpy(journey.user_id, unknown, ID_HEX_LEN + 1);
    is_int(s->ops->journey_create(s, &journey), KAIROS_ERR_NOT_FOUND, "a journey of an unknown user is not found");
}

struct expected_nearby {
    const char *journey_id;
    double distance_m;
};

static int compare_expected(const void *a, const void *b)
{
    const struct expected_nearby *x = a, *y = b;
    if (x->distance_m != y->distance_m)
        return x->distance_m < y->distance_m ? -1 : 1;
    return strcmp(x->journey_id, y->journey_id);
}

#define RANDOM_JOURNEYS 60

/* Places a marker near a centre, wrapping longitudes past the antimeridian and clamping at the poles. */
static void random_position(int centre, double *lng, double *lat)
{
    static const double centres[][2] = {{179.95, 0}, {-179.95, 0.2}, {0, 89.95}, {100, -89.9}, {10, 45}, {-60, -30}};
    double spread = 0.6;
    *lng = centres[centre][0] + (rand() / (double)RAND_MAX - 0.5) * spread * 4;
    *lat = centres[centre][1] + (rand() / (double)RAND_MAX - 0.5) * spread;
    if (*lng > 180)
        *lng -= 360;
    if (*lng < -180)
        *lng += 360;
    *lat = fmax(-90, fmin(90, *lat));
}

/* Compares journey_nearby with a brute-force search over every pair of markers, on a database of its own. */
static void test_nearby_matches_brute_force(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/random.sqlite", test_dir);
    struct storage *s = open_storage(path);
    if (s == NULL) {
        ok(0, "open the brute-force database");
        return;
    }
    struct suite t = {.s = s};
    id_generate(t.tag);
    char user_id[ID_HEX_LEN + 1], journeys[RANDOM_JOURNEYS][ID_HEX_LEN + 1];
    suite_user(&t, "random", user_id);
    srand(17);
    for (int j = 0; j < RANDOM_JOURNEYS; j++) {
        suite_journey(&t, user_id, "random", false, journeys[j]);
        int centre = rand() % 6, markers = rand() % 12;
        for (int m = 0; m < markers; m++) {
            double lng, lat;
            random_position(centre, &lng, &lat);
            suite_marker(&t, journeys[j], user_id, lng, lat, NULL);
        }
    }

    struct pool *pool = pool_create();
    struct marker *markers[RANDOM_JOURNEYS];
    size_t counts[RANDOM_JOURNEYS];
    for (int j = 0; j < RANDOM_JOURNEYS; j++)
        s->ops->marker_list_by_journey(s, pool, journeys[j], &markers[j], &counts[j]);

    static const double radii[] = {1000, 20000, 60000, 300000, 2000000, 25000000};
    int mismatches = 0, queries = 0, found = 0;
    for (int from = 0; from < RANDOM_JOURNEYS; from += 3) {
        for (size_t r = 0; r < sizeof(radii) / sizeof(radii[0]); r++) {
            struct expected_nearby expected[RANDOM_JOURNEYS];
            size_t expected_count = 0;
            for (int to = 0; to < RANDOM_JOURNEYS; to++) {
                double best = INFINITY;
                for (size_t a = 0; to != from && a < counts[from]; a++)
                    for (size_t b = 0; b < counts[to]; b++)
                        best = fmin(best, geo_distance_m(markers[from][a].lng, markers[from][a].lat, markers[to][b].lng,
                                                         markers[to][b].lat));
                if (best <= radii[r])
                    expected[expected_count++] = (struct expected_nearby){journeys[to], best};
            }
            qsort(expected, expected_count, sizeof(*expected), compare_expected);
            size_t limit = r % 2 ? 5 : 50;
            if (expected_count > limit)
                expected_count = limit;

            struct nearby_journey *got = NULL;
            size_t got_count = 0;
            queries++;
            found += (int)expected_count;
            if (s->ops->journey_nearby(s, pool, journeys[from], radii[r], limit, &got, &got_count) != KAIROS_OK ||
                got_count != expected_count) {
                printf("# journey %d radius %.0f: %zu journeys, expected %zu\n", from, radii[r], got_count,
                       expected_count);
                mismatches++;
                continue;
            }
            for (size_t i = 0; i < got_count; i++)
                if (strcmp(got[i].journey.id, expected[i].journey_id) != 0 ||
                    fabs(got[i].distance_m - expected[i].distance_m) > 1e-6) {
                    printf("# journey %d radius %.0f: entry %zu differs\n", from, radii[r], i);
                    mismatches++;
                    break;
                }
        }
    }
    is_int(mismatches, 0, "nearby matches brute force near the antimeridian and poles");
    ok(found > queries, "the brute-force comparison found neighbours to compare");
    pool_destroy(pool);
    storage_close(s);
}

int main(void)
{
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(test_path, sizeof(test_path), "%s/kairos.sqlite", test_dir);

    test_open_errors();
    struct storage *s = open_storage(test_path);
    ok(s != NULL, "open a fresh database");
    if (s == NULL)
        return tap_done();

    storage_suite_run(s);
    is_int(query_int(test_path, "SELECT count(*) FROM journeys AS j"
                                " WHERE marker_count <> (SELECT count(*) FROM markers AS m WHERE m.journey_id = j.id)"),
           0, "every journey's marker_count matches its markers after the suite");

    struct suite t = {.s = s};
    id_generate(t.tag);
    test_schema(&t);
    test_reopen();
    test_upgrade_from_version_1();
    test_partial_index(&t);
    test_concurrent_toggles(&t);
    test_backend_checks(&t);
    test_nearby_matches_brute_force();
    test_marker_limit(&t);
    storage_close(s);

    char command[400];
    snprintf(command, sizeof(command), "rm -rf '%s'", test_dir);
    if (system(command) != 0)
        printf("# could not remove %s\n", test_dir);
    return tap_done();
}
