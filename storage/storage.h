/*
 * The storage layer: model types and the vtable that both backends implement
 * (storage/spatialite for development and tests, storage/mongo for
 * production). Handlers call s->ops->operation(s, ...); they never handle
 * SQL or BSON, and the storage never handles HTTP.
 *
 * Conventions of every operation:
 * - returns KAIROS_OK or an enum kairos_error; KAIROS_ERR_UNAVAILABLE when the
 *   database does not answer, KAIROS_ERR_INTERNAL for anything else that is
 *   not the caller's fault (the backend logs the cause);
 * - ids are 24 lowercase hex characters, validated by the caller;
 * - results are allocated in the `pool` argument and live as long as it does;
 * - strings in models are NUL-terminated UTF-8; NULL means the optional field
 *   is absent (JSON null);
 * - times are milliseconds since the Unix epoch, UTC;
 * - a calendar date (marker timestamp, estimated_time) is "YYYY-MM-DD" or NULL.
 *
 * A storage handle belongs to one process: open it after fork().
 */
#ifndef KAIROS_STORAGE_H
#define KAIROS_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/error.h"
#include "storage/id.h"
#include "storage/pool.h"

#define STORAGE_MAX_MARKERS_PER_JOURNEY 10000
#define STORAGE_MAX_NEARBY              50

struct user {
    char id[ID_HEX_LEN + 1];
    char *email; /* as registered (trimmed) */
    char *name;
    char *phonenumber; /* optional */
    char *instagram;   /* optional */
    char *country;     /* optional */
    bool is_verified;
    char *password_hash; /* Argon2id ($argon2id$...) or bcrypt ($2b$...) from the old backend */
    int64_t created_at;
};

/* Profile fields a user may change; NULL members are left as they are. */
struct user_update {
    const char *name;
    const char *phonenumber;
    const char *instagram;
    const char *country;
    /* Set the optional fields above to null when the matching flag is true. */
    bool clear_phonenumber, clear_instagram, clear_country;
};

struct journey {
    char id[ID_HEX_LEN + 1];
    char user_id[ID_HEX_LEN + 1];
    char *name;
    char *description; /* "" when none was given */
    int64_t created_at;
    bool active;
    bool completed;
};

/* Changes to a journey; a member applies only when its has_ flag is set. */
struct journey_update {
    bool has_name, has_description, has_completed;
    const char *name;
    const char *description;
    bool completed; /* completed = true also makes the journey inactive */
};

enum marker_type { MARKER_PAST, MARKER_PLAN };

struct marker {
    char id[ID_HEX_LEN + 1];
    char journey_id[ID_HEX_LEN + 1];
    char owner_id[ID_HEX_LEN + 1];
    char *name;
    enum marker_type marker_type;
    double lng, lat; /* degrees; lng in [-180, 180], lat in [-90, 90] */
    bool has_alt;
    double alt;           /* metres, kept as given */
    char *timestamp;      /* "YYYY-MM-DD" or NULL */
    char *estimated_time; /* "YYYY-MM-DD" or NULL */
    char *notes;          /* "" when none was given */
    int64_t created_at;
};

/* One journey near another, with the smallest marker-to-marker distance. */
struct nearby_journey {
    struct journey journey;
    double distance_m;
};

/*
 * A refresh-token family: every refresh token issued from one login shares a
 * family id; only the newest token (current_jti) may be used. Presenting an
 * older one means it was stolen or replayed, and the family is revoked.
 */
struct refresh_family {
    char id[ID_HEX_LEN + 1];
    char user_id[ID_HEX_LEN + 1];
    char current_jti[ID_HEX_LEN + 1];
    bool revoked;
    int64_t expires_at;
};

enum mail_kind { MAIL_VERIFY_EMAIL, MAIL_RESET_PASSWORD };
enum mail_status { MAIL_PENDING, MAIL_SENDING, MAIL_SENT, MAIL_FAILED };

/*
 * A mail outbox entry. Handlers add entries; the mail sender claims due
 * entries, builds the message (and its token) at send time, and marks them.
 */
struct mail_entry {
    char id[ID_HEX_LEN + 1];
    char user_id[ID_HEX_LEN + 1];
    enum mail_kind kind;
    char *to_email;
    enum mail_status status;
    int attempts;
    int64_t next_attempt_at; /* when a pending entry is due */
    int64_t lease_until;     /* a claimed (sending) entry returns to pending after this */
    char *last_error;        /* NULL when none */
    int64_t created_at;
};

struct storage;

struct storage_ops {
    const char *name; /* "spatialite" or "mongodb", as /health reports it */
    void (*close)(struct storage *s);
    enum kairos_error (*ping)(struct storage *s);

    /* users; email uniqueness is case-insensitive on the trimmed address */
    enum kairos_error (*user_create)(struct storage *s, struct user *user); /* fills id and created_at; DUPLICATE */
    enum kairos_error (*user_get)(struct storage *s, struct pool *pool, const char *id, struct user *out);
    enum kairos_error (*user_get_by_email)(struct storage *s, struct pool *pool, const char *email, struct user *out);
    enum kairos_error (*user_update)(struct storage *s, const char *id, const struct user_update *update);
    enum kairos_error (*user_set_password)(struct storage *s, const char *id, const char *password_hash);
    enum kairos_error (*user_set_verified)(struct storage *s, const char *id);
    /* Removes the user, its journeys, their markers, its refresh families and its queued mail. */
    enum kairos_error (*user_delete)(struct storage *s, const char *id);

    /* journeys; creating or activating one deactivates the owner's other active journey atomically */
    enum kairos_error (*journey_create)(struct storage *s, struct journey *journey); /* fills id and created_at */
    enum kairos_error (*journey_get)(struct storage *s, struct pool *pool, const char *id, struct journey *out);
    /* Newest first. */
    enum kairos_error (*journey_list_by_user)(struct storage *s, struct pool *pool, const char *user_id,
                                              struct journey **out, size_t *count);
    enum kairos_error (*journey_get_active)(struct storage *s, struct pool *pool, const char *user_id,
                                            struct journey *out); /* NOT_FOUND when none */
    /* Active becomes inactive; inactive becomes active (CONFLICT when completed). Sets *now_active. */
    enum kairos_error (*journey_toggle_active)(struct storage *s, const char *id, bool *now_active);
    enum kairos_error (*journey_update)(struct storage *s, const char *id, const struct journey_update *update);
    /* Removes the journey and its markers. */
    enum kairos_error (*journey_delete)(struct storage *s, const char *id);
    /*
     * Journeys other than journey_id with at least one marker within max_distance_m
     * of a marker of journey_id, each with the smallest such distance, nearest first,
     * at most `limit`. A journey without markers has no neighbours.
     */
    enum kairos_error (*journey_nearby)(struct storage *s, struct pool *pool, const char *journey_id,
                                        double max_distance_m, size_t limit, struct nearby_journey **out,
                                        size_t *count);

    /* markers; create fills id and created_at; LIMIT past STORAGE_MAX_MARKERS_PER_JOURNEY */
    enum kairos_error (*marker_create)(struct storage *s, struct marker *marker);
    /* In the order they were added. */
    enum kairos_error (*marker_list_by_journey)(struct storage *s, struct pool *pool, const char *journey_id,
                                                struct marker **out, size_t *count);
    /* Replaces every field but id, journey_id, owner_id and created_at; NOT_FOUND unless the marker is in
     * marker->journey_id. On success *marker contains the stored marker (created_at filled). */
    enum kairos_error (*marker_update)(struct storage *s, struct marker *marker);
    enum kairos_error (*marker_delete)(struct storage *s, const char *journey_id, const char *marker_id);

    /* refresh-token families */
    enum kairos_error (*refresh_family_create)(struct storage *s, const struct refresh_family *family);
    /*
     * Atomically replaces current_jti by new_jti when the family exists, is not
     * revoked, has not expired at now, and current_jti equals presented_jti.
     * When the jti does not match (a rotated token is replayed), revokes the
     * family and returns CONFLICT. NOT_FOUND for an unknown or revoked family.
     * On success *user_id_out (25 bytes) receives the family's user.
     */
    enum kairos_error (*refresh_family_rotate)(struct storage *s, const char *family_id, const char *presented_jti,
                                               const char *new_jti, int64_t now, char *user_id_out);
    enum kairos_error (*refresh_family_revoke_user)(struct storage *s, const char *user_id);

    /* mail outbox */
    enum kairos_error (*mail_enqueue)(struct storage *s, struct mail_entry *entry); /* fills id, created_at */
    /*
     * Claims up to `max` pending entries due at `now` (and sending entries whose lease
     * ran out) by setting them to sending with lease_until = now + lease_ms, atomically,
     * so that two senders never claim the same entry. Oldest first.
     */
    enum kairos_error (*mail_claim)(struct storage *s, struct pool *pool, int64_t now, int64_t lease_ms, size_t max,
                                    struct mail_entry **out, size_t *count);
    enum kairos_error (*mail_mark_sent)(struct storage *s, const char *id);
    /* Back to pending, attempts + 1, due at next_attempt_at. */
    enum kairos_error (*mail_mark_retry)(struct storage *s, const char *id, int64_t next_attempt_at, const char *error);
    enum kairos_error (*mail_mark_failed)(struct storage *s, const char *id, const char *error);
    enum kairos_error (*mail_get)(struct storage *s, struct pool *pool, const char *id, struct mail_entry *out);
};

struct storage {
    const struct storage_ops *ops;
};

/*
 * Opens the backend named by uri: "mongodb://..." or "mongodb+srv://..." for
 * MongoDB, anything else is a SpatiaLite file path (created with its schema
 * when missing). On failure writes a sentence to err and returns an error.
 */
enum kairos_error storage_open(const char *uri, struct storage **out, char *err, size_t err_len);
void storage_close(struct storage *s);

/* True when uri names the MongoDB backend. */
bool storage_uri_is_mongodb(const char *uri);

/*
 * Writes the normalized form of an email (trimmed, lowercased ASCII) used for
 * uniqueness and lookups. Returns NULL when the address is empty after trimming.
 */
char *storage_email_normalize(struct pool *pool, const char *email);

/* Current time in milliseconds since the Unix epoch. */
int64_t storage_now_ms(void);

#endif
