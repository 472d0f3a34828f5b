/*
 * Refresh-token families and the mail outbox in the MongoDB backend. Both
 * change state with findOneAndUpdate on a filter that only matches the
 * expected state, so concurrent workers never both win: one rotation per
 * presented token, one sender per outbox entry.
 */
#include "storage/mongo/mongo.h"

#include <string.h>

enum kairos_error mongo_refresh_family_create(struct storage *s, const struct refresh_family *family)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t check;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(family->id, &check) || !mongo_oid_from_hex(family->user_id, &check))
        return KAIROS_ERR_INVALID;

    bson_t doc = BSON_INITIALIZER;
    mongo_refresh_family_to_bson(family, storage_now_ms(), &doc);
    bson_error_t error;
    if (!mongoc_collection_insert_one(m->refresh_families, &doc, NULL, NULL, &error))
        rc = mongo_error(m, "insert refresh family", &error);
    bson_destroy(&doc);
    return rc;
}

enum kairos_error mongo_refresh_family_rotate(struct storage *s, const char *family_id, const char *presented_jti,
                                              const char *new_jti, int64_t now, char *user_id_out)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t id;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(family_id, &id))
        return KAIROS_ERR_NOT_FOUND;

    bson_t filter = BSON_INITIALIZER, stored;
    mongo_rotate_filter(&id, presented_jti, now, &filter);
    bson_t *update = BCON_NEW("$set", "{", "current_jti", BCON_UTF8(new_jti), "}");
    rc = mongo_find_and_modify(m, m->refresh_families, &filter, NULL, update, &stored, "rotate refresh family");
    bson_destroy(&filter);
    bson_destroy(update);

    if (rc == KAIROS_OK) {
        struct refresh_family family;
        char reason[160];
        if (mongo_refresh_family_from_bson(&stored, &family, reason, sizeof(reason))) {
            memcpy(user_id_out, family.user_id, ID_HEX_LEN + 1);
        } else {
            mongo_log_bad_document("refresh_families", reason);
            rc = KAIROS_ERR_INTERNAL;
        }
        bson_destroy(&stored);
        return rc;
    }
    if (rc != KAIROS_ERR_NOT_FOUND)
        return rc;

    /* The family is live but expects another token: the presented one was rotated already and is replayed. */
    bson_init(&filter);
    mongo_replay_filter(&id, presented_jti, now, &filter);
    update = BCON_NEW("$set", "{", "revoked", BCON_BOOL(true), "}");
    rc = mongo_find_and_modify(m, m->refresh_families, &filter, NULL, update, NULL, "revoke refresh family");
    bson_destroy(&filter);
    bson_destroy(update);
    return rc == KAIROS_OK ? KAIROS_ERR_CONFLICT : rc;
}

enum kairos_error mongo_refresh_family_revoke_user(struct storage *s, const char *user_id)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t user;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(user_id, &user))
        return KAIROS_OK;

    bson_t *filter = BCON_NEW("user_id", BCON_OID(&user), "revoked", BCON_BOOL(false));
    bson_t *update = BCON_NEW("$set", "{", "revoked", BCON_BOOL(true), "}");
    bson_error_t error;
    if (!mongoc_collection_update_many(m->refresh_families, filter, update, NULL, NULL, &error))
        rc = mongo_error(m, "revoke refresh families of user", &error);
    bson_destroy(filter);
    bson_destroy(update);
    return rc;
}

enum kairos_error mongo_mail_enqueue(struct storage *s, struct mail_entry *entry)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    bson_oid_t user;
    if (rc != KAIROS_OK)
        return rc;
    if (!mongo_oid_from_hex(entry->user_id, &user) || entry->to_email == NULL || entry->to_email[0] == '\0')
        return KAIROS_ERR_INVALID;

    /* A new entry is pending with no attempts; a due time of 0 (unset) means now. */
    id_generate(entry->id);
    entry->created_at = storage_now_ms();
    if (entry->next_attempt_at <= 0)
        entry->next_attempt_at = entry->created_at;
    entry->status = MAIL_PENDING;
    entry->attempts = 0;
    entry->lease_until = 0;
    entry->last_error = NULL;
    bson_t doc = BSON_INITIALIZER;
    mongo_mail_entry_to_bson(entry, &doc);
    bson_error_t error;
    if (!mongoc_collection_insert_one(m->mail_outbox, &doc, NULL, NULL, &error))
        rc = mongo_error(m, "insert mail entry", &error);
    bson_destroy(&doc);
    return rc;
}

static enum kairos_error mongo_mail_read(const bson_t *doc, struct pool *pool, struct mail_entry *out)
{
    char reason[160];
    if (!mongo_mail_entry_from_bson(doc, pool, out, reason, sizeof(reason))) {
        mongo_log_bad_document("mail_outbox", reason);
        return KAIROS_ERR_INTERNAL;
    }
    return KAIROS_OK;
}

/* Claims the oldest claimable entry; NOT_FOUND when none is left. */
static enum kairos_error mongo_mail_claim_one(struct mongo_storage *m, struct pool *pool, int64_t now, int64_t lease_ms,
                                              struct mail_entry *out)
{
    bson_t filter = BSON_INITIALIZER, stored;
    mongo_claim_filter(now, &filter);
    bson_t *sort = BCON_NEW("created_at", BCON_INT32(1), "_id", BCON_INT32(1));
    bson_t *update =
        BCON_NEW("$set", "{", "status", BCON_UTF8("sending"), "lease_until", BCON_DATE_TIME(now + lease_ms), "}");
    enum kairos_error rc = mongo_find_and_modify(m, m->mail_outbox, &filter, sort, update, &stored, "claim mail");
    bson_destroy(&filter);
    bson_destroy(sort);
    bson_destroy(update);
    if (rc != KAIROS_OK)
        return rc;
    rc = mongo_mail_read(&stored, pool, out);
    bson_destroy(&stored);
    return rc;
}

enum kairos_error mongo_mail_claim(struct storage *s, struct pool *pool, int64_t now, int64_t lease_ms, size_t max,
                                   struct mail_entry **out, size_t *count)
{
    struct mongo_storage *m;
    enum kairos_error rc = mongo_begin(s, &m);
    *out = NULL;
    *count = 0;
    if (rc != KAIROS_OK || max == 0)
        return rc;

    struct mail_entry *items = pool_alloc(pool, max * sizeof(*items));
    size_t n = 0;
    while (n < max) {
        rc = mongo_mail_claim_one(m, pool, now, lease_ms, &items[n]);
        if (rc != KAIROS_OK)
            break;
        n++;
    }
    *out = items;
    *count = n;
    /* Entries claimed before a failure stay claimed and are returned; their lease frees them otherwise. */
    if (rc == KAIROS_ERR_NOT_FOUND || (rc != KAIROS_OK && n > 0))
        rc = KAIROS_OK;
    return rc;
}

static enum kairos_error mongo_mail_change(struct storage *s, const char *id, const bson_t *update, const char *what)
{
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = mongo_update_one(m, m->mail_outbox, filter, update, what);
    bson_destroy(filter);
    return rc;
}

enum kairos_error mongo_mail_mark_sent(struct storage *s, const char *id)
{
    bson_t *update =
        BCON_NEW("$set", "{", "status", BCON_UTF8("sent"), "lease_until", BCON_NULL, "last_error", BCON_NULL, "}");
    enum kairos_error rc = mongo_mail_change(s, id, update, "mark mail sent");
    bson_destroy(update);
    return rc;
}

enum kairos_error mongo_mail_mark_retry(struct storage *s, const char *id, int64_t next_attempt_at, const char *error)
{
    bson_t *update = BCON_NEW("$set", "{", "status", BCON_UTF8("pending"), "next_attempt_at",
                              BCON_DATE_TIME(next_attempt_at), "lease_until", BCON_NULL, "last_error",
                              BCON_UTF8(error != NULL ? error : ""), "}", "$inc", "{", "attempts", BCON_INT32(1), "}");
    enum kairos_error rc = mongo_mail_change(s, id, update, "mark mail for retry");
    bson_destroy(update);
    return rc;
}

enum kairos_error mongo_mail_mark_failed(struct storage *s, const char *id, const char *error)
{
    bson_t *update = BCON_NEW("$set", "{", "status", BCON_UTF8("failed"), "lease_until", BCON_NULL, "last_error",
                              BCON_UTF8(error != NULL ? error : ""), "}", "$inc", "{", "attempts", BCON_INT32(1), "}");
    enum kairos_error rc = mongo_mail_change(s, id, update, "mark mail failed");
    bson_destroy(update);
    return rc;
}

enum kairos_error mongo_mail_get(struct storage *s, struct pool *pool, const char *id, struct mail_entry *out)
{
    memset(out, 0, sizeof(*out));
    struct mongo_storage *m;
    bson_oid_t oid;
    enum kairos_error rc = mongo_begin_id(s, id, &m, &oid);
    if (rc != KAIROS_OK)
        return rc;

    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t doc;
    rc = mongo_find_one(m, m->mail_outbox, filter, NULL, &doc, "find mail entry");
    bson_destroy(filter);
    if (rc != KAIROS_OK)
        return rc;
    rc = mongo_mail_read(&doc, pool, out);
    bson_destroy(&doc);
    return rc;
}
