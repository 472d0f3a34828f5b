/*
 * Journey operations of the MongoDB backend. The partial unique index
 * one_active_journey_per_user guarantees at most one active journey per
 * user: activating one first deactivates the others, and a concurrent
 * activation that slips in between makes the write fail with a duplicate
 * key, after which the two steps are tried again.
 */
#include "storage/mongo/mongo.h"

#include <string.h>

#include "storage/log.h"

/* Attempts to activate a journey while concurrent requests activate others of the same user. */
#define MONGO_ACTIVATE_ATTEMPTS 5

static enum kairos_error mongo_journey_read(struct mongo_storage *m, const bson_t *doc, struct pool *pool,
                                            struct journey *out)
{
    (void)m;
    char reason[160];
    if (!mongo_journey_from_bson(doc, pool, out, reason, sizeof(reason))) {
        mongo_log_bad_document("journeys", reason);
        return KAIROS_ERR_INTERNAL;
    }
    return KAIROS_OK;
}

static enum kairos_error mongo_journey_find(struct mongo_storage *m, const bson_t *filter, struct pool *pool,
                                            struct journey *out, const char *what)
{
    bson_t doc;
    enum kairos_error rc = mongo_find_one(m, m->journeys, filter, NULL, &doc, what);
    if (rc != KAIROS_OK)
        return rc;
    rc = mongo_journey_read(m, &doc, pool, out);
    bson_destroy(&doc);
    return rc;
}

static enum kairos_error mongo_deactivate_others(struct mongo_storage *m, const bson_oid_t *user,
                                                 const bson_oid_t *journey)
{
    bson_t filter = BSON_INITIALIZER;
    mongo_other_active_filter(user, journey, &filter);
    bson_t *update = BCON_NEW("$set", "{", "active", BCON_BOOL(false), "}");
    bson_error_t error;
    enum kairos_error rc = KAIROS_OK;
    if (!mongoc_collection_update_many(m->journeys, &filter, update, NULL, NULL, &error))
        rc = mongo_error(m, "deactivate other journeys", &error);
    bson_destroy(update);
    bson_destroy(&filter);
    return rc;
}

/* Inserts the journey document; DUPLICATE when it is active and another active one exists. */
static enum kairos_error mongo_journey_insert(struct mongo_storage *m, const struct journey *journey)
{
    bson_t doc = BSON_INITIALIZER;
    mongo_journey_to_bson(journey, &doc);
    bson_error_t error;
    enum kairos_error rc = KAIROS_OK;
    if (!mongoc_collection_insert_one(m->journeys, &doc, NULL, NULL, &error))
        rc = mongo_error(m, "insert journey", &error);
    bson_destroy(&doc);
    return rc;
}

/* Sets active: true on the journey unless it is completed; NOT_FOUND when no such journey is left to activate. */
static enum kairos_error mongo_journey_set_active(struct mongo_storage *m, const bson_oid_t *journey)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(journey), "completed", "{", "$ne", BCON_BOOL(true), "}");
    bson_t *update = BCON_NEW("$set", "{", "active", BCON_BOOL(true), "}");
    enum kairos_error rc = mongo_update_one(m, m->journeys, filter, update, "activate journey");
    bson_destroy(filter);
    bson_destroy(update);
    return rc;
}

/*
 * Runs `activate` after deactivating the user's other journeys, again when a
 * concurrent activation wins the unique index in between.
 */
static enum kairos_error mongo_activate_with_retry(struct mongo_storage *m, const bson_oid_t *user,
                                                   const bson_oid_t *journey, const struct journey *insert)
{
    enum kairos_error rc = KAIROS_ERR_DUPLICATE;
    for (int attempt = 0; attempt < MONGO_ACTIVATE_ATTEMPTS && rc == KAIROS_ERR_DUPLICATE; attempt++) {
        rc = mongo_deactivate_others(m, user, journey);
        if (rc == KAIROS_OK)
            rc = insert != NULL ? mongo_journey_insert(m, insert) : mongo_journey_set_active(m, journey);
    }
    if (rc == KAIROS_ERR_DUPLICATE) {
        char hex[ID_HEX_LEN + 1];
        bson_oid_to_string(journey, hex);
        log_warn("storage", "activating journey %s lost %d times to concurrent activations; gave up", hex,
                 MONGO_ACTIVATE_ATTEMPTS);
        rc = KAIROS_ERR_UNAVAILABLE;
    }
    return rc;
}

enum kairos_error mongo_journey_create(struct storage *s, struct journey *journey)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t user, id;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(journey->user_id, &user))
        return KAIROS_ERR_INVALID;

    id_generate(journey->id);
    journey->created_at = storage_now_ms();
    if (journey->completed)
        journey->active = false;
    if (!journey->active)
        return mongo_journey_insert(m, journey);
    mongo_oid_from_hex(journey->id, &id);
    return mongo_activate_with_retry(m, &user, &id, journey);
}

enum kairos_error mongo_journey_get(struct storage *s, struct pool *pool, const char *id, struct journey *out)
{
    memset(out, 0, sizeof(*out));
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;

    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = mongo_journey_find(m, filter, pool, out, "find journey");
    bson_destroy(filter);
    return rc;
}

/* Reads every journey of the cursor into a pool array. */
static enum kairos_error mongo_journey_collect(struct mongo_storage *m, mongoc_cursor_t *cursor, struct pool *pool,
                                               struct journey **out, size_t *count)
{
    size_t capacity = 16, n = 0;
    struct journey *items = pool_alloc(pool, capacity * sizeof(*items));
    const bson_t *doc;
    enum kairos_error rc = KAIROS_OK;
    while (rc == KAIROS_OK && mongoc_cursor_next(cursor, &doc)) {
        if (n == capacity) {
            struct journey *grown = pool_alloc(pool, 2 * capacity * sizeof(*items));
            memcpy(grown, items, n * sizeof(*items));
            items = grown;
            capacity *= 2;
        }
        rc = mongo_journey_read(m, doc, pool, &items[n]);
        n++;
    }
    bson_error_t error;
    if (rc == KAIROS_OK && mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "list journeys", &error);
    *out = items;
    *count = rc == KAIROS_OK ? n : 0;
    return rc;
}

enum kairos_error mongo_journey_list_by_user(struct storage *s, struct pool *pool, const char *user_id,
                                             struct journey **out, size_t *count)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t user;
    *out = NULL;
    *count = 0;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(user_id, &user))
        return KAIROS_OK;

    bson_t *filter = BCON_NEW("user_id", BCON_OID(&user));
    /* Old journeys without created_at sort as null, after the others, then by _id (creation time). */
    bson_t *opts = BCON_NEW("sort", "{", "created_at", BCON_INT32(-1), "_id", BCON_INT32(-1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(m->journeys, filter, opts, NULL);
    rc = mongo_journey_collect(m, cursor, pool, out, count);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

enum kairos_error mongo_journey_get_active(struct storage *s, struct pool *pool, const char *user_id,
                                           struct journey *out)
{
    memset(out, 0, sizeof(*out));
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t user;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(user_id, &user))
        return KAIROS_ERR_NOT_FOUND;

    bson_t *filter = BCON_NEW("user_id", BCON_OID(&user), "active", BCON_BOOL(true));
    rc = mongo_journey_find(m, filter, pool, out, "find active journey");
    bson_destroy(filter);
    return rc;
}

enum kairos_error mongo_journey_toggle_active(struct storage *s, const char *id, bool *now_active)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t oid, user;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(id, &oid))
        return KAIROS_ERR_NOT_FOUND;

    struct pool *pool = pool_create();
    struct journey journey;
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = mongo_journey_find(m, filter, pool, &journey, "find journey");
    bson_destroy(filter);

    if (rc == KAIROS_OK && journey.active) {
        filter = BCON_NEW("_id", BCON_OID(&oid));
        bson_t *update = BCON_NEW("$set", "{", "active", BCON_BOOL(false), "}");
        rc = mongo_update_one(m, m->journeys, filter, update, "deactivate journey");
        bson_destroy(filter);
        bson_destroy(update);
        *now_active = false;
    } else if (rc == KAIROS_OK && journey.completed) {
        rc = KAIROS_ERR_CONFLICT;
    } else if (rc == KAIROS_OK) {
        mongo_oid_from_hex(journey.user_id, &user);
        rc = mongo_activate_with_retry(m, &user, &oid, NULL);
        /* NOT_FOUND here means the journey was completed or deleted since it was read. */
        *now_active = rc == KAIROS_OK;
    }
    pool_destroy(pool);
    return rc;
}

enum kairos_error mongo_journey_update(struct storage *s, const char *id, const struct journey_update *update)
{
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;

    bson_t set = BSON_INITIALIZER;
    if (update->has_name)
        BSON_APPEND_UTF8(&set, "name", update->name != NULL ? update->name : "");
    if (update->has_description)
        BSON_APPEND_UTF8(&set, "description", update->description != NULL ? update->description : "");
    if (update->has_completed) {
        BSON_APPEND_BOOL(&set, "completed", update->completed);
        if (update->completed)
            BSON_APPEND_BOOL(&set, "active", false);
    }

    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    if (bson_empty(&set)) {
        bson_t doc;
        rc = mongo_find_one(m, m->journeys, filter, NULL, &doc, "find journey");
        if (rc == KAIROS_OK)
            bson_destroy(&doc);
    } else {
        bson_t change = BSON_INITIALIZER;
        BSON_APPEND_DOCUMENT(&change, "$set", &set);
        rc = mongo_update_one(m, m->journeys, filter, &change, "update journey");
        bson_destroy(&change);
    }
    bson_destroy(filter);
    bson_destroy(&set);
    return rc;
}

/* Deletes the markers first, so that a failure half-way leaves the journey in place for a retry. */
static enum kairos_error mongo_journey_delete_steps(struct mongo_storage *m, const bson_t *opts, void *ctx)
{
    const bson_oid_t *journey = ctx;
    bson_t *markers = BCON_NEW("journey_id", BCON_OID(journey));
    bson_t *by_id = BCON_NEW("_id", BCON_OID(journey));
    enum kairos_error rc = mongo_delete(m, m->markers, markers, opts, true, "delete markers of journey");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->journeys, by_id, opts, false, "delete journey");
    bson_destroy(markers);
    bson_destroy(by_id);
    return rc;
}

enum kairos_error mongo_journey_delete(struct storage *s, const char *id)
{
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;
    return mongo_with_transaction(m, "delete journey", mongo_journey_delete_steps, &oid);
}
