/*
 * The MongoDB storage backend: opening a client from a mongodb:// or
 * mongodb+srv:// URI, preparing the database (indexes, the email_normalized
 * backfill, repairing old data that breaks an index), the vtable, and the
 * mapping of driver errors to kairos_error.
 *
 * One mongoc_client_t per process, created by the process that uses it
 * (workers open their storage after fork). The client is single-threaded,
 * like the worker. Opening does not need the server: when it is down, open
 * succeeds, every operation returns KAIROS_ERR_UNAVAILABLE within the server
 * selection timeout, and the preparation runs at the first operation that
 * reaches the server.
 */
#include "storage/mongo/mongo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/backends.h"
#include "storage/log.h"

/* Interval in which at most one "unavailable" line is logged. The lines skipped are counted in the next one. */
#define MONGO_UNAVAILABLE_LOG_INTERVAL_MS 10000

static pthread_once_t mongo_init_once = PTHREAD_ONCE_INIT;

/* Sends the driver's own warnings and errors through the Kairos log. */
static void mongo_log_handler(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)data;
    if (level <= MONGOC_LOG_LEVEL_WARNING)
        log_msg(level <= MONGOC_LOG_LEVEL_CRITICAL ? LOG_ERROR : LOG_WARN, "storage", NULL, "mongoc %s: %s", domain,
                message);
}

static void mongo_init_driver(void)
{
    mongoc_init();
    mongoc_log_set_handler(mongo_log_handler, NULL);
}

/* --- URI --- */

static void mongo_uri_default_int32(mongoc_uri_t *uri, const char *option, int32_t value)
{
    if (!mongoc_uri_has_option(uri, option))
        mongoc_uri_set_option_as_int32(uri, option, value);
}

mongoc_uri_t *mongo_uri_prepare(const char *uri_string, char *err, size_t err_len)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, &error);
    if (uri == NULL) {
        /* The driver's message may quote the URI, credentials included, so it is not repeated. */
        snprintf(err, err_len,
                 "the MongoDB URI (KAIROS_STORAGE, or built from the MONGO_* variables) is invalid: check the "
                 "scheme, the hosts, the percent-encoding of the user name and password, and the option names");
        return NULL;
    }

    const char *database = mongoc_uri_get_database(uri);
    if (database == NULL || database[0] == '\0') {
        snprintf(err, err_len,
                 "the MongoDB URI in KAIROS_STORAGE names no database: add it after the hosts, as in "
                 "mongodb://host:27017/kairos");
        mongoc_uri_destroy(uri);
        return NULL;
    }

    mongo_uri_default_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGO_DEFAULT_SERVER_SELECTION_TIMEOUT_MS);
    mongo_uri_default_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, MONGO_DEFAULT_CONNECT_TIMEOUT_MS);
    mongo_uri_default_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, MONGO_DEFAULT_SOCKET_TIMEOUT_MS);
    if (mongoc_uri_get_appname(uri) == NULL && !mongoc_uri_set_appname(uri, "kairos")) {
        snprintf(err, err_len, "could not set the MongoDB appname");
        mongoc_uri_destroy(uri);
        return NULL;
    }
    return uri;
}

void mongo_uri_describe(const mongoc_uri_t *uri, char *out, size_t out_len)
{
    const char *database = mongoc_uri_get_database(uri);
    const char *srv = mongoc_uri_get_srv_hostname(uri);
    size_t used;
    if (srv != NULL) {
        snprintf(out, out_len, "mongodb+srv://%s/%s", srv, database != NULL ? database : "");
        return;
    }

    snprintf(out, out_len, "mongodb://");
    used = strlen(out);
    for (const mongoc_host_list_t *host = mongoc_uri_get_hosts(uri); host != NULL; host = host->next) {
        int n = snprintf(out + used, out_len - used, "%s%s", host == mongoc_uri_get_hosts(uri) ? "" : ",",
                         host->host_and_port);
        if (n < 0 || (size_t)n >= out_len - used)
            return;
        used += (size_t)n;
    }
    snprintf(out + used, out_len - used, "/%s", database != NULL ? database : "");
}

/* --- errors --- */

/* The server's code 11000 comes in the SERVER domain with error API 2, COLLECTION or QUERY with API 1. */
bool mongo_error_is_duplicate(const bson_error_t *error)
{
    return error->code == MONGO_DUPLICATE_KEY && error->domain != MONGOC_ERROR_SERVER_SELECTION &&
           error->domain != MONGOC_ERROR_STREAM && error->domain != MONGOC_ERROR_CLIENT;
}

static bool mongo_error_is_unavailable(const bson_error_t *error)
{
    return error->domain == MONGOC_ERROR_SERVER_SELECTION || error->domain == MONGOC_ERROR_STREAM;
}

static void mongo_log_unavailable(struct mongo_storage *m, const char *what, const bson_error_t *error)
{
    static int64_t last_logged;
    static unsigned suppressed;
    int64_t now = storage_now_ms();
    if (now - last_logged < MONGO_UNAVAILABLE_LOG_INTERVAL_MS) {
        suppressed++;
        return;
    }
    log_error("storage", "%s failed: MongoDB at %s is unavailable: %s (%u similar errors not logged)", what, m->hosts,
              error->message, suppressed);
    last_logged = now;
    suppressed = 0;
}

enum kairos_error mongo_error(struct mongo_storage *m, const char *what, const bson_error_t *error)
{
    if (mongo_error_is_duplicate(error))
        return KAIROS_ERR_DUPLICATE;
    if (mongo_error_is_unavailable(error)) {
        mongo_log_unavailable(m, what, error);
        return KAIROS_ERR_UNAVAILABLE;
    }
    log_error("storage", "%s failed on MongoDB at %s: %s (domain %u, code %u)", what, m->hosts, error->message,
              error->domain, error->code);
    return KAIROS_ERR_INTERNAL;
}

/* --- preparation --- */

static enum kairos_error mongo_run_command(struct mongo_storage *m, const char *what, const bson_t *command,
                                           bson_t *reply, bson_error_t *error)
{
    bson_t local;
    bool done = mongoc_client_command_simple(m->client, m->db_name, command, NULL, reply ? reply : &local, error);
    if (reply == NULL)
        bson_destroy(&local);
    if (done)
        return KAIROS_OK;
    return mongo_error_is_duplicate(error) ? KAIROS_ERR_DUPLICATE : mongo_error(m, what, error);
}

/* Transactions need a replica set member or a mongos; a standalone server has neither. */
static enum kairos_error mongo_detect_transactions(struct mongo_storage *m)
{
    bson_t *command = BCON_NEW("hello", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    enum kairos_error rc = mongo_run_command(m, "hello", command, &reply, &error);
    bson_destroy(command);
    if (rc != KAIROS_OK) {
        bson_destroy(&reply);
        return rc;
    }

    bson_iter_t iter;
    bool replica_set = bson_iter_init_find(&iter, &reply, "setName");
    bool mongos = bson_iter_init_find(&iter, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&iter) &&
                  strcmp(bson_iter_utf8(&iter, NULL), "isdbgrid") == 0;
    m->transactions = replica_set || mongos;
    bson_destroy(&reply);
    return KAIROS_OK;
}

static void mongo_log_repaired_user(const bson_oid_t *user)
{
    char hex[ID_HEX_LEN + 1];
    bson_oid_to_string(user, hex);
    log_warn("storage", "user %s had several active journeys; only the newest stays active", hex);
}

/*
 * The old backend did not enforce one active journey per user, so old data
 * may have several. All but the newest are deactivated before the unique
 * index is built.
 */
static enum kairos_error mongo_repair_active_journeys(struct mongo_storage *m)
{
    bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$match", "{", "active", BCON_BOOL(true), "}", "}", "{", "$sort",
                                "{", "created_at", BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "}", "{", "$group", "{",
                                "_id", BCON_UTF8("$user_id"), "keep", "{", "$first", BCON_UTF8("$_id"), "}", "count",
                                "{", "$sum", BCON_INT32(1), "}", "}", "}", "{", "$match", "{", "count", "{", "$gt",
                                BCON_INT32(1), "}", "}", "}", "]");
    mongoc_cursor_t *cursor = mongoc_collection_aggregate(m->journeys, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
    bson_destroy(pipeline);

    enum kairos_error rc = KAIROS_OK;
    const bson_t *group;
    bson_error_t error;
    while (rc == KAIROS_OK && mongoc_cursor_next(cursor, &group)) {
        bson_iter_t user, keep;
        if (!bson_iter_init_find(&user, group, "_id") || !BSON_ITER_HOLDS_OID(&user) ||
            !bson_iter_init_find(&keep, group, "keep") || !BSON_ITER_HOLDS_OID(&keep))
            continue;
        bson_t filter;
        bson_init(&filter);
        mongo_other_active_filter(bson_iter_oid(&user), bson_iter_oid(&keep), &filter);
        bson_t *update = BCON_NEW("$set", "{", "active", BCON_BOOL(false), "}");
        if (!mongoc_collection_update_many(m->journeys, &filter, update, NULL, NULL, &error))
            rc = mongo_error(m, "deactivate extra active journeys", &error);
        else
            mongo_log_repaired_user(bson_iter_oid(&user));
        bson_destroy(update);
        bson_destroy(&filter);
    }
    if (rc == KAIROS_OK && mongoc_cursor_error(cursor, &error))
        rc = mongo_error(m, "find users with several active journeys", &error);
    mongoc_cursor_destroy(cursor);
    return rc;
}

/*
 * Fills email_normalized on users written by the old backend, with the same
 * rule as storage_email_normalize (ASCII whitespace trimmed, ASCII
 * lowercased). Idempotent. A user added later by the old backend lacks the
 * field again until the next start, so lookups by email also search for it.
 */
static enum kairos_error mongo_backfill_email_normalized(struct mongo_storage *m)
{
    bson_t *filter = BCON_NEW("email_normalized", "{", "$exists", BCON_BOOL(false), "}", "email", "{", "$type",
                              BCON_UTF8("string"), "}");
    bson_t *update = BCON_NEW("0", "{", "$set", "{", "email_normalized", "{", "$toLower", "{", "$trim", "{", "input",
                              BCON_UTF8("$email"), "chars", BCON_UTF8(" \t\n\v\f\r"), "}", "}", "}", "}", "}");
    bson_t reply;
    bson_error_t error;
    bool done = mongoc_collection_update_many(m->users, filter, update, NULL, &reply, &error);
    enum kairos_error rc = KAIROS_OK;
    if (!done && mongo_error_is_duplicate(&error))
        log_error("storage",
                  "backfilling users.email_normalized stopped: two users have addresses that differ only in case or "
                  "spaces; merge or rename one of them");
    else if (!done)
        rc = mongo_error(m, "backfill users.email_normalized", &error);
    else {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, &reply, "modifiedCount") && bson_iter_as_int64(&iter) > 0)
            log_info("storage", "backfilled email_normalized on %lld users", (long long)bson_iter_as_int64(&iter));
    }
    bson_destroy(&reply);
    bson_destroy(filter);
    bson_destroy(update);
    return rc;
}

/* Runs createIndexes for one index; an index that exists already with the same options is no error. */
static enum kairos_error mongo_create_index(struct mongo_storage *m, const char *collection, bson_t *index)
{
    bson_t command, indexes;
    bson_init(&command);
    BSON_APPEND_UTF8(&command, "createIndexes", collection);
    BSON_APPEND_ARRAY_BEGIN(&command, "indexes", &indexes);
    BSON_APPEND_DOCUMENT(&indexes, "0", index);
    bson_append_array_end(&command, &indexes);

    bson_error_t error;
    char what[128];
    bson_iter_t name;
    snprintf(what, sizeof(what), "create index %s.%s", collection,
             bson_iter_init_find(&name, index, "name") ? bson_iter_utf8(&name, NULL) : "?");
    enum kairos_error rc = mongo_run_command(m, what, &command, NULL, &error);
    if (rc == KAIROS_ERR_DUPLICATE) {
        /*
         * Old data breaks the unique constraint; Kairos still works but the index does not guard it. The
         * server's message quotes the duplicate key (an email address), so only its code is logged.
         */
        log_error("storage", "%s failed: existing documents violate its uniqueness (code %u)", what, error.code);
        rc = KAIROS_OK;
    }
    bson_destroy(&command);
    bson_destroy(index);
    return rc;
}

static enum kairos_error mongo_create_indexes(struct mongo_storage *m)
{
    struct {
        const char *collection;
        bson_t *index;
    } indexes[] = {
        {"markers",
         BCON_NEW("key", "{", "coordinates", BCON_UTF8("2dsphere"), "}", "name", BCON_UTF8("coordinates_2dsphere"))},
        {"markers", BCON_NEW("key", "{", "journey_id", BCON_INT32(1), "}", "name", BCON_UTF8("journey_id_1"))},
        {"markers", BCON_NEW("key", "{", "owner_id", BCON_INT32(1), "}", "name", BCON_UTF8("owner_id_1"))},
        {"journeys", BCON_NEW("key", "{", "user_id", BCON_INT32(1), "}", "name", BCON_UTF8("user_id_1"))},
        /* The key has a second field so that it differs from user_id_1, whose options are different. */
        {"journeys", BCON_NEW("key", "{", "user_id", BCON_INT32(1), "active", BCON_INT32(1), "}", "name",
                              BCON_UTF8(MONGO_ACTIVE_JOURNEY_INDEX), "unique", BCON_BOOL(true),
                              "partialFilterExpression", "{", "active", BCON_BOOL(true), "}")},
        {"users", BCON_NEW("key", "{", "email_normalized", BCON_INT32(1), "}", "name", BCON_UTF8("email_normalized_1"),
                           "unique", BCON_BOOL(true), "partialFilterExpression", "{", "email_normalized", "{",
                           "$exists", BCON_BOOL(true), "}", "}")},
        {"mail_outbox", BCON_NEW("key", "{", "status", BCON_INT32(1), "next_attempt_at", BCON_INT32(1), "}", "name",
                                 BCON_UTF8("status_1_next_attempt_at_1"))},
        {"refresh_families", BCON_NEW("key", "{", "user_id", BCON_INT32(1), "}", "name", BCON_UTF8("user_id_1"))},
    };
    size_t count = sizeof(indexes) / sizeof(indexes[0]);
    enum kairos_error rc = KAIROS_OK;
    size_t i;
    for (i = 0; i < count && rc == KAIROS_OK; i++)
        rc = mongo_create_index(m, indexes[i].collection, indexes[i].index);
    for (; i < count; i++)
        bson_destroy(indexes[i].index);
    return rc;
}

enum kairos_error mongo_prepare(struct mongo_storage *m)
{
    if (m->prepared)
        return KAIROS_OK;
    enum kairos_error rc = mongo_detect_transactions(m);
    if (rc == KAIROS_OK)
        rc = mongo_repair_active_journeys(m);
    if (rc == KAIROS_OK)
        rc = mongo_backfill_email_normalized(m);
    if (rc == KAIROS_OK)
        rc = mongo_create_indexes(m);
    if (rc == KAIROS_OK) {
        m->prepared = true;
        log_info("storage", "MongoDB at %s is ready (%s)", m->hosts,
                 m->transactions ? "transactions available" : "standalone server, no transactions");
    }
    return rc;
}

/* --- the handle --- */

static void mongo_close(struct storage *s)
{
    struct mongo_storage *m = (struct mongo_storage *)s;
    mongoc_collection_destroy(m->users);
    mongoc_collection_destroy(m->journeys);
    mongoc_collection_destroy(m->markers);
    mongoc_collection_destroy(m->refresh_families);
    mongoc_collection_destroy(m->mail_outbox);
    mongoc_client_destroy(m->client);
    free(m->db_name);
    free(m);
}

static enum kairos_error mongo_ping(struct storage *s)
{
    struct mongo_storage *m = (struct mongo_storage *)s;
    bson_t *command = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t error;
    enum kairos_error rc = mongo_run_command(m, "ping", command, NULL, &error);
    bson_destroy(command);
    if (rc == KAIROS_OK)
        rc = mongo_prepare(m);
    return rc;
}

static const struct storage_ops mongo_ops = {
    .name = "mongodb",
    .close = mongo_close,
    .ping = mongo_ping,
    .user_create = mongo_user_create,
    .user_get = mongo_user_get,
    .user_get_by_email = mongo_user_get_by_email,
    .user_update = mongo_user_update,
    .user_set_password = mongo_user_set_password,
    .user_set_verified = mongo_user_set_verified,
    .user_delete = mongo_user_delete,
    .journey_create = mongo_journey_create,
    .journey_get = mongo_journey_get,
    .journey_list_by_user = mongo_journey_list_by_user,
    .journey_get_active = mongo_journey_get_active,
    .journey_toggle_active = mongo_journey_toggle_active,
    .journey_update = mongo_journey_update,
    .journey_delete = mongo_journey_delete,
    .journey_nearby = mongo_journey_nearby,
    .marker_create = mongo_marker_create,
    .marker_list_by_journey = mongo_marker_list_by_journey,
    .marker_update = mongo_marker_update,
    .marker_delete = mongo_marker_delete,
    .refresh_family_create = mongo_refresh_family_create,
    .refresh_family_rotate = mongo_refresh_family_rotate,
    .refresh_family_revoke_user = mongo_refresh_family_revoke_user,
    .mail_enqueue = mongo_mail_enqueue,
    .mail_claim = mongo_mail_claim,
    .mail_mark_sent = mongo_mail_mark_sent,
    .mail_mark_retry = mongo_mail_mark_retry,
    .mail_mark_failed = mongo_mail_mark_failed,
    .mail_get = mongo_mail_get,
};

static enum kairos_error mongo_open_client(struct mongo_storage *m, const char *uri_string, char *err, size_t err_len)
{
    mongoc_uri_t *uri = mongo_uri_prepare(uri_string, err, err_len);
    if (uri == NULL)
        return KAIROS_ERR_INVALID;
    mongo_uri_describe(uri, m->hosts, sizeof(m->hosts));

    bson_error_t error;
    m->client = mongoc_client_new_from_uri_with_error(uri, &error);
    m->db_name = strdup(mongoc_uri_get_database(uri));
    mongoc_uri_destroy(uri);
    if (m->client == NULL) {
        snprintf(err, err_len, "could not create a MongoDB client for %s: %s", m->hosts, error.message);
        return KAIROS_ERR_INVALID;
    }
    if (m->db_name == NULL) {
        snprintf(err, err_len, "out of memory");
        return KAIROS_ERR_INTERNAL;
    }
    mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);

    m->users = mongoc_client_get_collection(m->client, m->db_name, "users");
    m->journeys = mongoc_client_get_collection(m->client, m->db_name, "journeys");
    m->markers = mongoc_client_get_collection(m->client, m->db_name, "markers");
    m->refresh_families = mongoc_client_get_collection(m->client, m->db_name, "refresh_families");
    m->mail_outbox = mongoc_client_get_collection(m->client, m->db_name, "mail_outbox");
    return KAIROS_OK;
}

enum kairos_error mongo_storage_open(const char *uri, struct storage **out, char *err, size_t err_len)
{
    *out = NULL;
    if (pthread_once(&mongo_init_once, mongo_init_driver) != 0) {
        snprintf(err, err_len, "could not initialize the MongoDB driver");
        return KAIROS_ERR_INTERNAL;
    }

    struct mongo_storage *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, err_len, "out of memory");
        return KAIROS_ERR_INTERNAL;
    }
    m->base.ops = &mongo_ops;
    enum kairos_error rc = mongo_open_client(m, uri, err, err_len);
    if (rc != KAIROS_OK) {
        mongo_close(&m->base);
        return rc;
    }

    rc = mongo_prepare(m);
    if (rc == KAIROS_ERR_UNAVAILABLE) {
        log_warn("storage", "MongoDB at %s is unavailable; the indexes will be created when it responds", m->hosts);
    } else if (rc != KAIROS_OK) {
        snprintf(err, err_len, "could not prepare the MongoDB database at %s (see the log above)", m->hosts);
        mongo_close(&m->base);
        return rc;
    }
    log_info("storage", "using MongoDB at %s", m->hosts);
    *out = &m->base;
    return KAIROS_OK;
}

/* --- helpers of the operations --- */

enum kairos_error mongo_find_one(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                 const bson_t *opts, bson_t *out, const char *what)
{
    bson_t find_opts = BSON_INITIALIZER;
    if (opts != NULL)
        bson_concat(&find_opts, opts);
    BSON_APPEND_INT64(&find_opts, "limit", 1);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, &find_opts, NULL);
    bson_destroy(&find_opts);

    const bson_t *doc;
    bson_error_t error;
    enum kairos_error rc = KAIROS_ERR_NOT_FOUND;
    if (mongoc_cursor_next(cursor, &doc)) {
        bson_copy_to(doc, out);
        rc = KAIROS_OK;
    } else if (mongoc_cursor_error(cursor, &error)) {
        rc = mongo_error(m, what, &error);
    }
    mongoc_cursor_destroy(cursor);
    return rc;
}

/* Reads a count field of a write reply (matchedCount, deletedCount...). */
int64_t mongo_reply_count(const bson_t *reply, const char *field)
{
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, reply, field))
        return bson_iter_as_int64(&iter);
    return 0;
}

enum kairos_error mongo_update_one(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                   const bson_t *update, const char *what)
{
    bson_t reply;
    bson_error_t error;
    enum kairos_error rc = KAIROS_OK;
    if (!mongoc_collection_update_one(collection, filter, update, NULL, &reply, &error))
        rc = mongo_error(m, what, &error);
    else if (mongo_reply_count(&reply, "matchedCount") == 0)
        rc = KAIROS_ERR_NOT_FOUND;
    bson_destroy(&reply);
    return rc;
}

enum kairos_error mongo_delete(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                               const bson_t *opts, bool many, const char *what)
{
    bson_t reply;
    bson_error_t error;
    enum kairos_error rc = KAIROS_OK;
    bool done = many ? mongoc_collection_delete_many(collection, filter, opts, &reply, &error)
                     : mongoc_collection_delete_one(collection, filter, opts, &reply, &error);
    if (!done)
        rc = mongo_error(m, what, &error);
    else if (!many && mongo_reply_count(&reply, "deletedCount") == 0)
        rc = KAIROS_ERR_NOT_FOUND;
    bson_destroy(&reply);
    return rc;
}

/* Attempts of a transaction that fails on the server (a write conflict with a concurrent request). */
#define MONGO_TRANSACTION_ATTEMPTS 3

static enum kairos_error mongo_transaction_attempt(struct mongo_storage *m, const char *what, mongo_transaction_fn fn,
                                                   void *ctx)
{
    bson_error_t error;
    mongoc_client_session_t *session = mongoc_client_start_session(m->client, NULL, &error);
    if (session == NULL)
        return mongo_error(m, what, &error);

    bson_t opts = BSON_INITIALIZER;
    enum kairos_error rc = KAIROS_OK;
    if (!mongoc_client_session_append(session, &opts, &error) ||
        !mongoc_client_session_start_transaction(session, NULL, &error))
        rc = mongo_error(m, what, &error);
    if (rc == KAIROS_OK)
        rc = fn(m, &opts, ctx);

    if (rc == KAIROS_OK) {
        bson_t reply;
        if (!mongoc_client_session_commit_transaction(session, &reply, &error))
            rc = mongo_error(m, what, &error);
        bson_destroy(&reply);
    } else if (mongoc_client_session_in_transaction(session)) {
        bson_error_t abort_error;
        if (!mongoc_client_session_abort_transaction(session, &abort_error))
            log_warn("storage", "%s: aborting the transaction failed: %s", what, abort_error.message);
    }
    bson_destroy(&opts);
    mongoc_client_session_destroy(session);
    return rc;
}

enum kairos_error mongo_with_transaction(struct mongo_storage *m, const char *what, mongo_transaction_fn fn, void *ctx)
{
    if (!m->transactions) {
        bson_t opts = BSON_INITIALIZER;
        enum kairos_error rc = fn(m, &opts, ctx);
        bson_destroy(&opts);
        return rc;
    }
    enum kairos_error rc = KAIROS_ERR_INTERNAL;
    for (int attempt = 0; attempt < MONGO_TRANSACTION_ATTEMPTS; attempt++) {
        rc = mongo_transaction_attempt(m, what, fn, ctx);
        if (rc != KAIROS_ERR_INTERNAL)
            break;
    }
    return rc;
}

enum kairos_error mongo_begin(struct storage *s, struct mongo_storage **out)
{
    struct mongo_storage *m = (struct mongo_storage *)s;
    *out = m;
    return m->prepared ? KAIROS_OK : mongo_prepare(m);
}

enum kairos_error mongo_begin_id(struct storage *s, const char *id, struct mongo_storage **out, bson_oid_t *oid)
{
    enum kairos_error rc = mongo_begin(s, out);
    if (rc != KAIROS_OK)
        return rc;
    return mongo_oid_from_hex(id, oid) ? KAIROS_OK : KAIROS_ERR_NOT_FOUND;
}

void mongo_log_bad_document(const char *collection, const char *reason)
{
    log_error("storage", "unreadable document in %s: %s", collection, reason);
}

enum kairos_error mongo_find_and_modify(struct mongo_storage *m, mongoc_collection_t *collection, const bson_t *filter,
                                        const bson_t *sort, const bson_t *update, bson_t *out, const char *what)
{
    mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(opts, update);
    mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    if (sort != NULL)
        mongoc_find_and_modify_opts_set_sort(opts, sort);

    bson_t reply;
    bson_error_t error;
    enum kairos_error rc = KAIROS_ERR_NOT_FOUND;
    if (!mongoc_collection_find_and_modify_with_opts(collection, filter, opts, &reply, &error)) {
        rc = mongo_error(m, what, &error);
    } else {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&iter, &len, &data);
            bson_t value;
            if (out == NULL) {
                rc = KAIROS_OK;
            } else if (bson_init_static(&value, data, len)) {
                bson_copy_to(&value, out);
                rc = KAIROS_OK;
            } else {
                log_error("storage", "%s: the server returned a corrupt document", what);
                rc = KAIROS_ERR_INTERNAL;
            }
        }
    }
    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(opts);
    return rc;
}
