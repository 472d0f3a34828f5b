/*
 * Tests of the MongoDB backend against a real server: the shared storage
 * suite on a fresh database named kairos_test_<pid>_<time>, dropped at the
 * end. Runs only when KAIROS_TEST_MONGO_URI names a server, for example
 * mongodb://127.0.0.1:27017/kairos_test; skipped otherwise.
 */
#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "storage/backends.h"
#include "t/unit/storage_suite.h"

/* Returns the URI with its database replaced by a name unique to this run, or NULL. */
static char *test_uri_with_fresh_database(const char *uri_string, char *database, size_t database_len)
{
    mongoc_uri_t *uri = mongoc_uri_new(uri_string);
    if (uri == NULL)
        return NULL;
    snprintf(database, database_len, "kairos_test_%ld_%ld", (long)getpid(), (long)time(NULL));
    char *fresh = NULL;
    if (mongoc_uri_set_database(uri, database))
        fresh = strdup(mongoc_uri_get_string(uri));
    mongoc_uri_destroy(uri);
    return fresh;
}

static void test_drop_database(const char *uri_string, const char *database)
{
    mongoc_client_t *client = mongoc_client_new(uri_string);
    if (client == NULL)
        return;
    mongoc_database_t *db = mongoc_client_get_database(client, database);
    bson_error_t error;
    ok(mongoc_database_drop(db, &error), "the test database is dropped");
    mongoc_database_destroy(db);
    mongoc_client_destroy(client);
}

/* Inserts two active journeys of one user behind the backend's back: the partial unique index must reject the second.
 */
static void test_active_index(const char *uri_string, const char *database)
{
    mongoc_client_t *client = mongoc_client_new(uri_string);
    if (client == NULL)
        return;
    mongoc_collection_t *journeys = mongoc_client_get_collection(client, database, "journeys");
    bson_oid_t user;
    bson_oid_init(&user, NULL);
    bson_t *doc1 = BCON_NEW("user_id", BCON_OID(&user), "name", BCON_UTF8("a"), "active", BCON_BOOL(true));
    bson_t *doc2 = BCON_NEW("user_id", BCON_OID(&user), "name", BCON_UTF8("b"), "active", BCON_BOOL(true));
    bson_t *inactive = BCON_NEW("user_id", BCON_OID(&user), "name", BCON_UTF8("c"), "active", BCON_BOOL(false));
    bson_error_t error;
    ok(mongoc_collection_insert_one(journeys, doc1, NULL, NULL, &error), "one active journey is accepted");
    ok(!mongoc_collection_insert_one(journeys, doc2, NULL, NULL, &error), "a second active journey is rejected");
    is_int(error.code, 11000, "the rejection is a duplicate key error");
    ok(mongoc_collection_insert_one(journeys, inactive, NULL, NULL, &error), "inactive journeys are not limited");
    bson_t *filter = BCON_NEW("user_id", BCON_OID(&user));
    mongoc_collection_delete_many(journeys, filter, NULL, NULL, &error);
    bson_destroy(filter);
    bson_destroy(doc1);
    bson_destroy(doc2);
    bson_destroy(inactive);
    mongoc_collection_destroy(journeys);
    mongoc_client_destroy(client);
}

static void test_backend_specifics(struct storage *s)
{
    is_str(s->ops->name, "mongodb", "the backend is named mongodb");

    char user_id[ID_HEX_LEN + 1];
    id_generate(user_id);
    struct journey first = {.name = "first", .description = "", .active = true};
    struct journey second = {.name = "second", .description = "", .active = true};
    memcpy(first.user_id, user_id, sizeof(user_id));
    memcpy(second.user_id, user_id, sizeof(user_id));
    is_int(s->ops->journey_create(s, &first), KAIROS_OK, "an active journey is created");
    is_int(s->ops->journey_create(s, &second), KAIROS_OK, "a second active journey is created");
    struct pool *pool = pool_create();
    struct journey got;
    is_int(s->ops->journey_get(s, pool, first.id, &got), KAIROS_OK, "the first journey is still there");
    ok(!got.active, "the second activation deactivated the first");
    s->ops->journey_delete(s, first.id);
    s->ops->journey_delete(s, second.id);
    pool_destroy(pool);
}

int main(void)
{
    const char *base = getenv("KAIROS_TEST_MONGO_URI");
    if (base == NULL || base[0] == '\0') {
        printf("1..0 # SKIP MongoDB backend suite: KAIROS_TEST_MONGO_URI is not set\n");
        return 0;
    }

    char database[96];
    char *uri = test_uri_with_fresh_database(base, database, sizeof(database));
    ok(uri != NULL, "KAIROS_TEST_MONGO_URI is a valid MongoDB URI");
    if (uri == NULL)
        return tap_done();

    struct storage *s = NULL;
    char err[512] = "";
    is_int(mongo_storage_open(uri, &s, err, sizeof(err)), KAIROS_OK, "mongo_storage_open succeeds");
    if (s == NULL) {
        printf("# open failed: %s\n", err);
        free(uri);
        return tap_done();
    }

    storage_suite_run(s);
    test_backend_specifics(s);
    test_active_index(uri, database);
    storage_close(s);
    test_drop_database(uri, database);
    free(uri);
    return tap_done();
}
