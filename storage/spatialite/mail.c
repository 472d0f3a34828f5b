/*
 * The mail outbox in the SpatiaLite backend. mail_claim moves due entries to
 * "sending" with one UPDATE ... RETURNING inside a write transaction, so two
 * senders never claim the same entry. An entry whose lease runs out is due
 * again.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/spatialite/spatialite.h"

#define MAIL_COLUMNS                                                                                                   \
    "id, user_id, kind, to_email, status, attempts, next_attempt_at, lease_until, last_error, created_at, rowid"

static const char *mail_kind_text(enum mail_kind kind)
{
    return kind == MAIL_RESET_PASSWORD ? "reset_password" : "verify_email";
}

static enum mail_status mail_status_parse(const unsigned char *text)
{
    if (text == NULL)
        return MAIL_PENDING;
    if (strcmp((const char *)text, "sending") == 0)
        return MAIL_SENDING;
    if (strcmp((const char *)text, "sent") == 0)
        return MAIL_SENT;
    if (strcmp((const char *)text, "failed") == 0)
        return MAIL_FAILED;
    return MAIL_PENDING;
}

/* Reads the MAIL_COLUMNS of the current row and returns its rowid, the insertion order. */
static sqlite3_int64 mail_read_row(struct pool *pool, sqlite3_stmt *stmt, struct mail_entry *out)
{
    memset(out, 0, sizeof(*out));
    spatialite_column_id(stmt, 0, out->id);
    spatialite_column_id(stmt, 1, out->user_id);
    const unsigned char *kind = sqlite3_column_text(stmt, 2);
    out->kind =
        kind != NULL && strcmp((const char *)kind, "reset_password") == 0 ? MAIL_RESET_PASSWORD : MAIL_VERIFY_EMAIL;
    out->to_email = spatialite_column_text(pool, stmt, 3);
    out->status = mail_status_parse(sqlite3_column_text(stmt, 4));
    out->attempts = sqlite3_column_int(stmt, 5);
    out->next_attempt_at = sqlite3_column_int64(stmt, 6);
    out->lease_until = sqlite3_column_int64(stmt, 7);
    out->last_error = spatialite_column_text(pool, stmt, 8);
    out->created_at = sqlite3_column_int64(stmt, 9);
    return sqlite3_column_int64(stmt, 10);
}

/* A due time of 0 (unset) means now: the entry is sent at the next claim. */
enum kairos_error spatialite_mail_enqueue(struct storage *s, struct mail_entry *entry)
{
    struct spatialite_storage *sl = spatialite_from(s);
    if (entry->to_email == NULL || entry->to_email[0] == '\0')
        return KAIROS_ERR_INVALID;
    sqlite3_stmt *stmt = spatialite_prepare(sl, "INSERT INTO mail_outbox (id, user_id, kind, to_email, status,"
                                                " attempts, next_attempt_at, lease_until, last_error, created_at)"
                                                " VALUES (?, ?, ?, ?, 'pending', 0, ?, 0, NULL, ?)");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;

    char id[ID_HEX_LEN + 1];
    int64_t now = storage_now_ms();
    int64_t due = entry->next_attempt_at > 0 ? entry->next_attempt_at : now;
    id_generate(id);
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, entry->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, mail_kind_text(entry->kind), -1, SQLITE_STATIC);
    spatialite_bind_text(stmt, 4, entry->to_email);
    sqlite3_bind_int64(stmt, 5, due);
    sqlite3_bind_int64(stmt, 6, now);
    /* NOT_FOUND from a FOREIGN KEY violation: the user does not exist. */
    enum kairos_error err = spatialite_run(sl, stmt, "insert mail");
    if (err != KAIROS_OK)
        return err;

    memcpy(entry->id, id, sizeof(id));
    entry->status = MAIL_PENDING;
    entry->attempts = 0;
    entry->next_attempt_at = due;
    entry->lease_until = 0;
    entry->last_error = NULL;
    entry->created_at = now;
    return KAIROS_OK;
}

struct mail_claimed {
    struct mail_entry entry;
    sqlite3_int64 rowid;
};

static int mail_claimed_compare(const void *a, const void *b)
{
    const struct mail_claimed *x = a, *y = b;
    if (x->entry.created_at != y->entry.created_at)
        return x->entry.created_at < y->entry.created_at ? -1 : 1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* The UPDATE of mail_claim, inside the caller's write transaction. RETURNING gives the rows in no set order. */
static enum kairos_error mail_claim_locked(struct spatialite_storage *sl, struct pool *pool, int64_t now,
                                           int64_t lease_ms, size_t max, struct mail_claimed **out, size_t *count)
{
    sqlite3_stmt *stmt = spatialite_prepare(
        sl, "UPDATE mail_outbox SET status = 'sending', lease_until = ?1 + ?2"
            " WHERE id IN (SELECT id FROM mail_outbox"
            "  WHERE (status = 'pending' AND next_attempt_at <= ?1) OR (status = 'sending' AND lease_until <= ?1)"
            "  ORDER BY created_at, rowid LIMIT ?3)"
            " RETURNING " MAIL_COLUMNS);
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, lease_ms);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)max);

    struct mail_claimed *items = NULL;
    size_t n = 0, capacity = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = spatialite_array_reserve(pool, items, sizeof(*items), n, &capacity);
        items[n].rowid = mail_read_row(pool, stmt, &items[n].entry);
        n++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return spatialite_fail(sl, rc, "claim mail");
    *out = items;
    *count = n;
    return KAIROS_OK;
}

enum kairos_error spatialite_mail_claim(struct storage *s, struct pool *pool, int64_t now, int64_t lease_ms, size_t max,
                                        struct mail_entry **out, size_t *count)
{
    struct spatialite_storage *sl = spatialite_from(s);
    *out = NULL;
    *count = 0;
    if (max == 0)
        return KAIROS_OK;

    struct mail_claimed *claimed = NULL;
    size_t n = 0;
    enum kairos_error err = spatialite_begin_write(sl);
    if (err != KAIROS_OK)
        return err;
    err = mail_claim_locked(sl, pool, now, lease_ms, max, &claimed, &n);
    err = err == KAIROS_OK ? spatialite_commit(sl) : spatialite_rollback(sl, err);
    if (err != KAIROS_OK)
        return err;

    if (n > 1)
        qsort(claimed, n, sizeof(*claimed), mail_claimed_compare);
    struct mail_entry *entries = pool_alloc(pool, (n ? n : 1) * sizeof(*entries));
    for (size_t i = 0; i < n; i++)
        entries[i] = claimed[i].entry;
    *out = entries;
    *count = n;
    return KAIROS_OK;
}

static enum kairos_error mail_run_keyed(struct spatialite_storage *sl, sqlite3_stmt *stmt, const char *operation)
{
    enum kairos_error err = spatialite_run(sl, stmt, operation);
    if (err == KAIROS_OK && sqlite3_changes(sl->db) == 0)
        return KAIROS_ERR_NOT_FOUND;
    return err;
}

enum kairos_error spatialite_mail_mark_sent(struct storage *s, const char *id)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt =
        spatialite_prepare(sl, "UPDATE mail_outbox SET status = 'sent', lease_until = 0, last_error = NULL"
                               " WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    return mail_run_keyed(sl, stmt, "mark mail sent");
}

enum kairos_error spatialite_mail_mark_retry(struct storage *s, const char *id, int64_t next_attempt_at,
                                             const char *error)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE mail_outbox SET status = 'pending', attempts = attempts + 1,"
                                                " next_attempt_at = ?, lease_until = 0, last_error = ? WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    sqlite3_bind_int64(stmt, 1, next_attempt_at);
    spatialite_bind_text(stmt, 2, error);
    spatialite_bind_text(stmt, 3, id);
    return mail_run_keyed(sl, stmt, "mark mail for retry");
}

/* The failed attempt counts in attempts, as with a retry. */
enum kairos_error spatialite_mail_mark_failed(struct storage *s, const char *id, const char *error)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "UPDATE mail_outbox SET status = 'failed', attempts = attempts + 1,"
                                                " lease_until = 0, last_error = ? WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, error);
    spatialite_bind_text(stmt, 2, id);
    return mail_run_keyed(sl, stmt, "mark mail failed");
}

enum kairos_error spatialite_mail_get(struct storage *s, struct pool *pool, const char *id, struct mail_entry *out)
{
    struct spatialite_storage *sl = spatialite_from(s);
    sqlite3_stmt *stmt = spatialite_prepare(sl, "SELECT " MAIL_COLUMNS " FROM mail_outbox WHERE id = ?");
    if (stmt == NULL)
        return KAIROS_ERR_INTERNAL;
    spatialite_bind_text(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    enum kairos_error err = KAIROS_OK;
    if (rc == SQLITE_ROW)
        mail_read_row(pool, stmt, out);
    else if (rc == SQLITE_DONE)
        err = KAIROS_ERR_NOT_FOUND;
    else
        err = spatialite_fail(sl, rc, "read mail");
    sqlite3_reset(stmt);
    return err;
}
