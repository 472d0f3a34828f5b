/*
 * Internals of the MongoDB backend, shared by its source files and its unit
 * tests. The backend keeps the documents of the old Python backend: the
 * collections users, journeys and markers with ObjectId ids, BSON datetimes
 * and GeoJSON points, plus refresh_families and mail_outbox of its own.
 *
 * mongo.c opens the client and prepares the database, mongo_mapping.c
 * converts models to and from BSON, mongo_queries.c builds the filters and
 * pipelines, and mongo_users.c, mongo_journeys.c, mongo_markers.c and
 * mongo_tokens.c implement the operations of struct storage_ops.
 */
#ifndef KAIROS_MONGO_H
#define KAIROS_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/pool.h"
#include "storage/storage.h"

#define MONGO_DEFAULT_SERVER_SELECTION_TIMEOUT_MS 5000
#define MONGO_DEFAULT_CONNECT_TIMEOUT_MS          5000
#define MONGO_DEFAULT_SOCKET_TIMEOUT_MS           30000
/* MongoDB's server error code for a unique index violation. */
#define MONGO_DUPLICATE_KEY        11000
#define MONGO_ACTIVE_JOURNEY_INDEX "one_active_journey_per_user"

struct mongo_storage {
    struct storage base;
    mongoc_client_t *client;
    mongoc_collection_t *users, *journeys, *markers, *refresh_families, *mail_outbox;
    char *db_name;
    char hosts[512];   /* host list for logs; never the credentials */
    bool prepared;     /* indexes and the email backfill are done */
    bool transactions; /* the deployment is a replica set or sharded cluster */
    int64_t last_seq;  /* the last marker seq this process handed out */
};

/* --- mongo.c: connection, preparation and error mapping --- */

/*
 * Parses uri_string and adds what Kairos needs when the URI does not set it:
 * the three timeouts above and appname "kairos". Returns NULL and writes a
 * sentence to err when the URI is malformed or names no database.
 */
mongoc_uri_t *mongo_uri_prepare(const char *uri_string, char *err, size_t err_len);
/* Writes "mongodb://host:port,.../db" (or mongodb+srv://host/db): no user, no password, no options. */
void mongo_uri_describe(const mongoc_uri_t *uri, char *out, size_t out_len);

/* Creates indexes and backfills email_normalized once per handle; UNAVAILABLE while the server is down. */
enum kairos_error mongo_prepare(struct mongo_storage *m);
/*
 * Maps a driver error to a kairos_error: UNAVAILABLE for server selection
 * and network errors, DUPLICATE for a unique index violation, INTERNAL for
 * the rest. Logs every error but DUPLICATE, naming `what` and the hosts.
 */
enum kairos_error mongo_error(struct mongo_storage *m, const char *what, const bson_error_t *error);
bool mongo_error_is_duplicate(const bson_error_t *error);

/* Prepares the database when it is not yet and returns the backend handle of s in *out. */
enum kairos_error mongo_begin(struct storage *s, struct mongo_storage **out);
/* mongo_begin, then parses id into *oid; NOT_FOUND when id is not an ObjectId, since no document can have it. */
enum kairos_error mongo_begin_id(struct storage *s, const char *id, struct mongo_storage **out, bson_oid_t *oid);
/* Copies the first document matching filter into out (initialized only on KAIROS_OK); NOT_FOUND when none. */
enum kairos_error mongo_find_one(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                 const bson_t *opts, bson_t *out, const char *what);
/* Runs updateOne; NOT_FOUND when nothing matched. */
enum kairos_error mongo_update_one(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                   const bson_t *update, const char *what);
/* Runs deleteMany, or deleteOne (NOT_FOUND when nothing was deleted). opts may hold a session. */
enum kairos_error mongo_delete(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                               const bson_t *opts, bool many, const char *what);
/*
 * Runs findOneAndUpdate returning the new document, copied into out (when not
 * NULL, initialized only on KAIROS_OK); NOT_FOUND when nothing matched.
 */
enum kairos_error mongo_find_and_modify(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                        const bson_t *sort, const bson_t *update, bson_t *out, const char *what);
int64_t mongo_reply_count(const bson_t *reply, const char *field);
void mongo_log_bad_document(const char *collection, const char *reason);

/*
 * Steps of a multi-document change. opts contains the session when the change
 * runs in a transaction and is empty otherwise; every command of fn must
 * pass it. fn must be safe to repeat, because a failed transaction is
 * retried here, and a change made without a transaction is completed when the
 * client repeats the request.
 */
typedef enum kairos_error (*mongo_transaction_fn)(struct mongo_storage *m, const bson_t *opts, void *ctx);
/* Runs fn in a transaction when the deployment supports them, else directly. */
enum kairos_error mongo_with_transaction(struct mongo_storage *m, const char *what, mongo_transaction_fn fn, void *ctx);

/* --- mongo_mapping.c: models to and from BSON --- */

/* False for anything but 24 hex digits, so a malformed id finds nothing. */
bool mongo_oid_from_hex(const char *hex, bson_oid_t *oid);
/* Milliseconds since the epoch of 00:00 UTC on "YYYY-MM-DD"; false when day is not a valid date. */
bool mongo_day_to_ms(const char *day, int64_t *ms);
/* "YYYY-MM-DD" of the UTC day containing ms. */
char *mongo_day_from_ms(struct pool *pool, int64_t ms);

/* The documents as the old backend wrote them; ids and created_at must be filled. */
bool mongo_user_to_bson(const struct user *user, bson_t *doc);
void mongo_journey_to_bson(const struct journey *journey, bson_t *doc);
bool mongo_marker_to_bson(const struct marker *marker, int64_t seq, bson_t *doc);
void mongo_refresh_family_to_bson(const struct refresh_family *family, int64_t created_at, bson_t *doc);
void mongo_mail_entry_to_bson(const struct mail_entry *entry, bson_t *doc);

/*
 * Fill a model from a stored document, old or new. Missing optional fields
 * take their defaults and a missing created_at is the ObjectId's time.
 * Return false, with the reason in err, when the document has no ObjectId
 * _id or a required reference is unreadable.
 */
bool mongo_user_from_bson(const bson_t *doc, struct pool *pool, struct user *out, char *err, size_t err_len);
bool mongo_journey_from_bson(const bson_t *doc, struct pool *pool, struct journey *out, char *err, size_t err_len);
bool mongo_marker_from_bson(const bson_t *doc, struct pool *pool, struct marker *out, char *err, size_t err_len);
bool mongo_refresh_family_from_bson(const bson_t *doc, struct refresh_family *out, char *err, size_t err_len);
bool mongo_mail_entry_from_bson(const bson_t *doc, struct pool *pool, struct mail_entry *out, char *err,
                                size_t err_len);

const char *mongo_mail_kind_name(enum mail_kind kind);
const char *mongo_mail_status_name(enum mail_status status);

/* --- mongo_queries.c: filters and pipelines --- */

/* A marker position of the journey whose neighbours are searched. */
struct mongo_point {
    double lng, lat;
};

/*
 * Builds the aggregation on markers for journey_nearby (see the comment on
 * its definition). Returns NULL when n is 0. The caller destroys the result.
 */
bson_t *mongo_nearby_pipeline(const bson_oid_t *journey_id, const struct mongo_point *points, size_t n,
                              double max_distance_m, size_t limit);
/* Filter of refresh_family_rotate's first step: the family exactly as the presented token expects it. */
void mongo_rotate_filter(const bson_oid_t *family_id, const char *presented_jti, int64_t now, bson_t *filter);
/* Filter of refresh_family_rotate's second step: a live, unexpired family whose jti differs (a replayed token). */
void mongo_replay_filter(const bson_oid_t *family_id, const char *presented_jti, int64_t now, bson_t *filter);
/* Filter of mail_claim: pending and due, or sending with a lease that ran out. */
void mongo_claim_filter(int64_t now, bson_t *filter);
/* Filter of the other active journeys of a user, all deactivated before one is activated. */
void mongo_other_active_filter(const bson_oid_t *user_id, const bson_oid_t *journey_id, bson_t *filter);
/*
 * Filter of users whose email matches `normalized` case-insensitively and
 * that lack email_normalized (written by the old backend). False when out of memory.
 */
bool mongo_legacy_email_filter(const char *normalized, bson_t *filter);

/* --- the operations --- */

enum kairos_error mongo_user_create(struct storage *s, struct user *user);
enum kairos_error mongo_user_get(struct storage *s, struct pool *pool, const char *id, struct user *out);
enum kairos_error mongo_user_get_by_email(struct storage *s, struct pool *pool, const char *email, struct user *out);
enum kairos_error mongo_user_update(struct storage *s, const char *id, const struct user_update *update);
enum kairos_error mongo_user_set_password(struct storage *s, const char *id, const char *password_hash);
enum kairos_error mongo_user_set_verified(struct storage *s, const char *id);
enum kairos_error mongo_user_delete(struct storage *s, const char *id);

enum kairos_error mongo_journey_create(struct storage *s, struct journey *journey);
enum kairos_error mongo_journey_get(struct storage *s, struct pool *pool, const char *id, struct journey *out);
enum kairos_error mongo_journey_list_by_user(struct storage *s, struct pool *pool, const char *user_id,
                                             struct journey **out, size_t *count);
enum kairos_error mongo_journey_get_active(struct storage *s, struct pool *pool, const char *user_id,
                                           struct journey *out);
enum kairos_error mongo_journey_toggle_active(struct storage *s, const char *id, bool *now_active);
enum kairos_error mongo_journey_update(struct storage *s, const char *id, const struct journey_update *update);
enum kairos_error mongo_journey_delete(struct storage *s, const char *id);
enum kairos_error mongo_journey_nearby(struct storage *s, struct pool *pool, const char *journey_id,
                                       double max_distance_m, size_t limit, struct nearby_journey **out, size_t *count);

enum kairos_error mongo_marker_create(struct storage *s, struct marker *marker);
enum kairos_error mongo_marker_list_by_journey(struct storage *s, struct pool *pool, const char *journey_id,
                                               struct marker **out, size_t *count);
enum kairos_error mongo_marker_update(struct storage *s, struct marker *marker);
enum kairos_error mongo_marker_delete(struct storage *s, const char *journey_id, const char *marker_id);

enum kairos_error mongo_refresh_family_create(struct storage *s, const struct refresh_family *family);
enum kairos_error mongo_refresh_family_rotate(struct storage *s, const char *family_id, const char *presented_jti,
                                              const char *new_jti, int64_t now, char *user_id_out);
enum kairos_error mongo_refresh_family_revoke_user(struct storage *s, const char *user_id);

enum kairos_error mongo_mail_enqueue(struct storage *s, struct mail_entry *entry);
enum kairos_error mongo_mail_claim(struct storage *s, struct pool *pool, int64_t now, int64_t lease_ms, size_t max,
                                   struct mail_entry **out, size_t *count);
enum kairos_error mongo_mail_mark_sent(struct storage *s, const char *id);
enum kairos_error mongo_mail_mark_retry(struct storage *s, const char *id, int64_t next_attempt_at, const char *error);
enum kairos_error mongo_mail_mark_failed(struct storage *s, const char *id, const char *error);
enum kairos_error mongo_mail_get(struct storage *s, struct pool *pool, const char *id, struct mail_entry *out);

#endif
