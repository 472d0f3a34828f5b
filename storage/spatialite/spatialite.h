/*
 * Private interface of the SpatiaLite backend: the connection, a cache of
 * prepared statements, transactions, error mapping and row reading shared by
 * the files of storage/spatialite/. Nothing outside this directory includes it.
 */
#ifndef KAIROS_SPATIALITE_H
#define KAIROS_SPATIALITE_H

#include <sqlite3.h>

#include "storage/storage.h"

struct spatialite_statement {
    const char *sql; /* a string literal: the cache matches by address */
    sqlite3_stmt *stmt;
};

struct spatialite_storage {
    struct storage base;
    sqlite3 *db;
    struct spatialite_statement *statements;
    size_t statement_count, statement_capacity;
};

static inline struct spatialite_storage *spatialite_from(struct storage *s)
{
    return (struct spatialite_storage *)s;
}

/*
 * Returns the cached statement for sql, reset and with no bindings, preparing
 * it on first use. Returns NULL (logged) when SQLite cannot prepare it. The
 * caller calls sqlite3_reset() when done so no read stays open.
 */
sqlite3_stmt *spatialite_prepare(struct spatialite_storage *sl, const char *sql);

/*
 * Maps an SQLite result code to the Kairos error: SQLITE_BUSY and
 * SQLITE_LOCKED (the busy timeout ran out) give UNAVAILABLE, anything else
 * INTERNAL. Both are logged with `operation` ("insert marker") and SQLite's message.
 */
enum kairos_error spatialite_fail(struct spatialite_storage *sl, int rc, const char *operation);

/* BEGIN IMMEDIATE: takes the write lock now, so the reads that follow see what the writes will change. */
enum kairos_error spatialite_begin_write(struct spatialite_storage *sl);
/* BEGIN: a read snapshot for operations made of several queries. */
enum kairos_error spatialite_begin_read(struct spatialite_storage *sl);
enum kairos_error spatialite_commit(struct spatialite_storage *sl);
/* Rolls back the open transaction, if any, and passes err through. */
enum kairos_error spatialite_rollback(struct spatialite_storage *sl, enum kairos_error err);

/*
 * Steps a statement that returns no rows to completion and resets it.
 * Returns KAIROS_OK, DUPLICATE on a UNIQUE or PRIMARY KEY violation,
 * NOT_FOUND on a FOREIGN KEY violation (the referenced row does not exist),
 * or the mapped error of spatialite_fail.
 */
enum kairos_error spatialite_run(struct spatialite_storage *sl, sqlite3_stmt *stmt, const char *operation);

/* Binds a string, or NULL as SQL NULL. The string must outlive the statement's use. */
int spatialite_bind_text(sqlite3_stmt *stmt, int index, const char *value);

/* Column as a pool string, NULL for SQL NULL. */
char *spatialite_column_text(struct pool *pool, sqlite3_stmt *stmt, int column);
/* Copies a 24-character id column into out (empty when NULL or malformed). */
void spatialite_column_id(sqlite3_stmt *stmt, int column, char out[ID_HEX_LEN + 1]);

/* Grows a pool array of element_size items to hold at least count + 1 items. */
void *spatialite_array_reserve(struct pool *pool, void *items, size_t element_size, size_t count, size_t *capacity);

/* Operations, one file per concept. */
enum kairos_error spatialite_user_create(struct storage *s, struct user *user);
enum kairos_error spatialite_user_get(struct storage *s, struct pool *pool, const char *id, struct user *out);
enum kairos_error spatialite_user_get_by_email(struct storage *s, struct pool *pool, const char *email,
                                               struct user *out);
enum kairos_error spatialite_user_update(struct storage *s, const char *id, const struct user_update *update);
enum kairos_error spatialite_user_set_password(struct storage *s, const char *id, const char *password_hash);
enum kairos_error spatialite_user_set_verified(struct storage *s, const char *id);
enum kairos_error spatialite_user_delete(struct storage *s, const char *id);

enum kairos_error spatialite_journey_create(struct storage *s, struct journey *journey);
enum kairos_error spatialite_journey_get(struct storage *s, struct pool *pool, const char *id, struct journey *out);
enum kairos_error spatialite_journey_list_by_user(struct storage *s, struct pool *pool, const char *user_id,
                                                  struct journey **out, size_t *count);
enum kairos_error spatialite_journey_get_active(struct storage *s, struct pool *pool, const char *user_id,
                                                struct journey *out);
enum kairos_error spatialite_journey_toggle_active(struct storage *s, const char *id, bool *now_active);
enum kairos_error spatialite_journey_update(struct storage *s, const char *id, const struct journey_update *update);
enum kairos_error spatialite_journey_delete(struct storage *s, const char *id);
enum kairos_error spatialite_journey_nearby(struct storage *s, struct pool *pool, const char *journey_id,
                                            double max_distance_m, size_t limit, struct nearby_journey **out,
                                            size_t *count);

enum kairos_error spatialite_marker_create(struct storage *s, struct marker *marker);
enum kairos_error spatialite_marker_list_by_journey(struct storage *s, struct pool *pool, const char *journey_id,
                                                    struct marker **out, size_t *count);
enum kairos_error spatialite_marker_update(struct storage *s, struct marker *marker);
enum kairos_error spatialite_marker_delete(struct storage *s, const char *journey_id, const char *marker_id);

enum kairos_error spatialite_refresh_family_create(struct storage *s, const struct refresh_family *family);
enum kairos_error spatialite_refresh_family_rotate(struct storage *s, const char *family_id, const char *presented_jti,
                                                   const char *new_jti, int64_t now, char *user_id_out);
enum kairos_error spatialite_refresh_family_revoke_user(struct storage *s, const char *user_id);

enum kairos_error spatialite_mail_enqueue(struct storage *s, struct mail_entry *entry);
enum kairos_error spatialite_mail_claim(struct storage *s, struct pool *pool, int64_t now, int64_t lease_ms, size_t max,
                                        struct mail_entry **out, size_t *count);
enum kairos_error spatialite_mail_mark_sent(struct storage *s, const char *id);
enum kairos_error spatialite_mail_mark_retry(struct storage *s, const char *id, int64_t next_attempt_at,
                                             const char *error);
enum kairos_error spatialite_mail_mark_failed(struct storage *s, const char *id, const char *error);
enum kairos_error spatialite_mail_get(struct storage *s, struct pool *pool, const char *id, struct mail_entry *out);

/* Schema: applies the pending migrations; on failure writes a sentence to err. */
enum kairos_error spatialite_migrate(struct spatialite_storage *sl, char *err, size_t err_len);
/* The schema version a fresh database reaches (PRAGMA user_version). */
int spatialite_schema_version(void);

#endif
