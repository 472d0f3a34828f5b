/*
 * User operations of the MongoDB backend. Email uniqueness rests on the
 * unique index on email_normalized. Users written by the old backend may
 * lack that field, so a lookup that misses the index also searches them by
 * a case-insensitive match on email.
 */
#include "storage/mongo/mongo.h"

#include <string.h>

static enum kairos_error mongo_user_read(struct mongo_storage *m, const bson_t *filter, struct pool *pool,
                                         struct user *out, const char *what)
{
    bson_t doc;
    enum kairos_error rc = mongo_find_one(m, m->users, filter, NULL, &doc, what);
    if (rc != KAIROS_OK)
        return rc;
    char reason[160];
    if (!mongo_user_from_bson(&doc, pool, out, reason, sizeof(reason))) {
        mongo_log_bad_document("users", reason);
        rc = KAIROS_ERR_INTERNAL;
    }
    bson_destroy(&doc);
    return rc;
}

/* Finds a user by normalized email: the indexed field first, then old documents lacking it. */
static enum kairos_error mongo_user_find_by_email(struct mongo_storage *m, struct pool *pool, const char *normalized,
                                                  struct user *out)
{
    bson_t *filter = BCON_NEW("email_normalized", BCON_UTF8(normalized));
    enum kairos_error rc = mongo_user_read(m, filter, pool, out, "find user by email");
    bson_destroy(filter);
    if (rc != KAIROS_ERR_NOT_FOUND)
        return rc;

    bson_t legacy = BSON_INITIALIZER;
    if (!mongo_legacy_email_filter(normalized, &legacy)) {
        bson_destroy(&legacy);
        return KAIROS_ERR_INTERNAL;
    }
    rc = mongo_user_read(m, &legacy, pool, out, "find old user by email");
    bson_destroy(&legacy);
    return rc;
}

enum kairos_error mongo_user_create(struct storage *s, struct user *user)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    if (rc != KAIROS_OK)
        return rc;

    struct pool *pool = pool_create();
    char *normalized = storage_email_normalize(pool, user->email);
    struct user existing;
    if (normalized == NULL)
        rc = KAIROS_ERR_INVALID;
    else
        rc = mongo_user_find_by_email(m, pool, normalized, &existing);
    pool_destroy(pool);
    if (rc == KAIROS_OK)
        return KAIROS_ERR_DUPLICATE;
    if (rc != KAIROS_ERR_NOT_FOUND)
        return rc;

    id_generate(user->id);
    user->created_at = storage_now_ms();
    bson_t doc = BSON_INITIALIZER;
    bson_error_t error;
    if (!mongo_user_to_bson(user, &doc))
        rc = KAIROS_ERR_INVALID;
    else if (!mongoc_collection_insert_one(m->users, &doc, NULL, NULL, &error))
        rc = mongo_error(m, "insert user", &error);
    else
        rc = KAIROS_OK;
    bson_destroy(&doc);
    return rc;
}

enum kairos_error mongo_user_get(struct storage *s, struct pool *pool, const char *id, struct user *out)
{
    memset(out, 0, sizeof(*out));
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;

    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = mongo_user_read(m, filter, pool, out, "find user");
    bson_destroy(filter);
    return rc;
}

enum kairos_error mongo_user_get_by_email(struct storage *s, struct pool *pool, const char *email, struct user *out)
{
    memset(out, 0, sizeof(*out));
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    if (rc != KAIROS_OK)
        return rc;
    char *normalized = storage_email_normalize(pool, email);
    /* The server fails a query whose regex is not UTF-8, and no stored email is anything else. */
    if (normalized == NULL || !bson_utf8_validate(normalized, strlen(normalized), false))
        return KAIROS_ERR_NOT_FOUND;
    return mongo_user_find_by_email(m, pool, normalized, out);
}

/* Appends `key: value`, or `key: null` when clear is set; nothing when neither applies. */
static void mongo_append_profile_field(bson_t *set, const char *key, const char *value, bool clear)
{
    if (clear)
        BSON_APPEND_NULL(set, key);
    else if (value != NULL)
        BSON_APPEND_UTF8(set, key, value);
}

/* Runs {$set: set} on the user; a user whose fields already hold the values still counts as found. */
static enum kairos_error mongo_user_set(struct storage *s, const char *id, const bson_t *set, const char *what)
{
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;

    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    if (bson_empty(set)) {
        bson_t doc;
        rc = mongo_find_one(m, m->users, filter, NULL, &doc, what);
        if (rc == KAIROS_OK)
            bson_destroy(&doc);
    } else {
        bson_t update = BSON_INITIALIZER;
        BSON_APPEND_DOCUMENT(&update, "$set", set);
        rc = mongo_update_one(m, m->users, filter, &update, what);
        bson_destroy(&update);
    }
    bson_destroy(filter);
    return rc;
}

enum kairos_error mongo_user_update(struct storage *s, const char *id, const struct user_update *update)
{
    bson_t set = BSON_INITIALIZER;
    if (update->name != NULL)
        BSON_APPEND_UTF8(&set, "name", update->name);
    mongo_append_profile_field(&set, "phonenumber", update->phonenumber, update->clear_phonenumber);
    mongo_append_profile_field(&set, "instagram", update->instagram, update->clear_instagram);
    mongo_append_profile_field(&set, "country", update->country, update->clear_country);
    enum kairos_error rc = mongo_user_set(s, id, &set, "update user");
    bson_destroy(&set);
    return rc;
}

enum kairos_error mongo_user_set_password(struct storage *s, const char *id, const char *password_hash)
{
    bson_t set = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&set, "password", password_hash);
    enum kairos_error rc = mongo_user_set(s, id, &set, "set user password");
    bson_destroy(&set);
    return rc;
}

enum kairos_error mongo_user_set_verified(struct storage *s, const char *id)
{
    bson_t set = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&set, "is_verified", true);
    enum kairos_error rc = mongo_user_set(s, id, &set, "verify user");
    bson_destroy(&set);
    return rc;
}

/* Collects the ids of the user's journeys into an array under "$in". */
static enum kairos_error mongo_user_journey_ids(struct mongo_storage *m, const bson_oid_t *user, const bson_t *opts,
                                                bson_t *in)
{
    bson_t *filter = BCON_NEW("user_id", BCON_OID(user));
    bson_t find_opts = BSON_INITIALIZER;
    bson_concat(&find_opts, opts);
    BCON_APPEND(&find_opts, "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(m->journeys, filter, &find_opts, NULL);
    bson_destroy(&find_opts);
    bson_destroy(filter);

    bson_t ids;
    BSON_APPEND_ARRAY_BEGIN(in, "$in", &ids);
    const bson_t *doc;
    uint32_t i = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t iter;
        if (!bson_iter_init_find(&iter, doc, "_id"))
            continue;
        char key[16];
        const char *key_ptr;
        bson_uint32_to_string(i++, &key_ptr, key, sizeof(key));
        bson_append_iter(&ids, key_ptr, -1, &iter);
    }
    bson_append_array_end(in, &ids);

    bson_error_t error;
    enum kairos_error rc = KAIROS_OK;
    if (mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "list journeys of deleted user", &error);
    mongoc_cursor_destroy(cursor);
    return rc;
}

/* Deletes children first, so that a failure half-way leaves the user in place and a retry finishes the job. */
static enum kairos_error mongo_user_delete_steps(struct mongo_storage *m, const bson_t *opts, void *ctx)
{
    const bson_oid_t *user = ctx;
    bson_t journey_ids = BSON_INITIALIZER;
    enum kairos_error rc = mongo_user_journey_ids(m, user, opts, &journey_ids);

    bson_t markers_of_journeys = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&markers_of_journeys, "journey_id", &journey_ids);
    bson_t *by_owner = BCON_NEW("owner_id", BCON_OID(user));
    bson_t *by_user = BCON_NEW("user_id", BCON_OID(user));
    bson_t *by_id = BCON_NEW("_id", BCON_OID(user));
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->markers, &markers_of_journeys, opts, true, "delete markers of user's journeys");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->markers, by_owner, opts, true, "delete markers of user");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->journeys, by_user, opts, true, "delete journeys of user");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->refresh_families, by_user, opts, true, "delete refresh families of user");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->mail_outbox, by_user, opts, true, "delete mail of user");
    if (rc == KAIROS_OK)
        rc = mongo_delete(m, m->users, by_id, opts, false, "delete user");

    bson_destroy(&journey_ids);
    bson_destroy(&markers_of_journeys);
    bson_destroy(by_owner);
    bson_destroy(by_user);
    bson_destroy(by_id);
    return rc;
}

enum kairos_error mongo_user_delete(struct storage *s, const char *id)
{
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;
    return mongo_with_transaction(m, "delete user", mongo_user_delete_steps, &oid);
}
