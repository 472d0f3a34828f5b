/*
 * Models to and from BSON documents in the shape the old Python backend
 * wrote: ObjectId ids and references, BSON datetimes for times and calendar
 * days (00:00 UTC), GeoJSON points for marker coordinates. Readers accept
 * the old documents, which may lack optional fields, email_normalized, seq
 * and created_at.
 */
#include "storage/mongo/mongo.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MONGO_MS_PER_DAY 86400000LL

bool mongo_oid_from_hex(const char *hex, bson_oid_t *oid)
{
    if (!id_is_valid(hex))
        return false;
    bson_oid_init_from_string(oid, hex);
    return true;
}

static void mongo_oid_to_hex(const bson_oid_t *oid, char out[ID_HEX_LEN + 1])
{
    bson_oid_to_string(oid, out);
}

/* Days from 1970-01-01 to the given proleptic Gregorian date. */
static int64_t mongo_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned year_of_era = (unsigned)(year - era * 400);
    unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + (int64_t)day_of_era - 719468;
}

static bool mongo_is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool mongo_day_to_ms(const char *day, int64_t *ms)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (day == NULL || strlen(day) != 10 || day[4] != '-' || day[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9'))
            return false;

    int year = (day[0] - '0') * 1000 + (day[1] - '0') * 100 + (day[2] - '0') * 10 + (day[3] - '0');
    int month = (day[5] - '0') * 10 + (day[6] - '0');
    int mday = (day[8] - '0') * 10 + (day[9] - '0');
    if (month < 1 || month > 12 || mday < 1)
        return false;
    int max_day = month_days[month - 1] + (month == 2 && mongo_is_leap_year(year));
    if (mday > max_day)
        return false;

    *ms = mongo_days_from_civil(year, (unsigned)month, (unsigned)mday) * MONGO_MS_PER_DAY;
    return true;
}

char *mongo_day_from_ms(struct pool *pool, int64_t ms)
{
    int64_t seconds = ms / 1000;
    if (ms % 1000 < 0)
        seconds--;
    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return NULL;
    return pool_printf(pool, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void mongo_append_oid_hex(bson_t *doc, const char *key, const char *hex)
{
    bson_oid_t oid;
    if (mongo_oid_from_hex(hex, &oid))
        BSON_APPEND_OID(doc, key, &oid);
    else
        BSON_APPEND_NULL(doc, key);
}

static void mongo_append_string_or_null(bson_t *doc, const char *key, const char *value)
{
    if (value != NULL)
        BSON_APPEND_UTF8(doc, key, value);
    else
        BSON_APPEND_NULL(doc, key);
}

static bool mongo_append_day_or_null(bson_t *doc, const char *key, const char *day)
{
    int64_t ms;
    if (day == NULL) {
        BSON_APPEND_NULL(doc, key);
        return true;
    }
    if (!mongo_day_to_ms(day, &ms))
        return false;
    BSON_APPEND_DATE_TIME(doc, key, ms);
    return true;
}

bool mongo_user_to_bson(const struct user *user, bson_t *doc)
{
    struct pool *pool = pool_create();
    char *normalized = storage_email_normalize(pool, user->email);
    if (normalized == NULL) {
        pool_destroy(pool);
        return false;
    }

    /* The address is stored as registered but without surrounding whitespace. */
    const char *start = user->email;
    while (isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;

    mongo_append_oid_hex(doc, "_id", user->id);
    bson_append_utf8(doc, "email", -1, start, (int)len);
    BSON_APPEND_UTF8(doc, "name", user->name != NULL ? user->name : "");
    BSON_APPEND_UTF8(doc, "password", user->password_hash != NULL ? user->password_hash : "");
    mongo_append_string_or_null(doc, "phonenumber", user->phonenumber);
    mongo_append_string_or_null(doc, "instagram", user->instagram);
    mongo_append_string_or_null(doc, "country", user->country);
    BSON_APPEND_BOOL(doc, "is_verified", user->is_verified);
    BSON_APPEND_DATE_TIME(doc, "created_at", user->created_at);
    BSON_APPEND_UTF8(doc, "email_normalized", normalized);
    pool_destroy(pool);
    return true;
}

void mongo_journey_to_bson(const struct journey *journey, bson_t *doc)
{
    mongo_append_oid_hex(doc, "_id", journey->id);
    BSON_APPEND_UTF8(doc, "name", journey->name != NULL ? journey->name : "");
    BSON_APPEND_UTF8(doc, "description", journey->description != NULL ? journey->description : "");
    mongo_append_oid_hex(doc, "user_id", journey->user_id);
    BSON_APPEND_DATE_TIME(doc, "created_at", journey->created_at);
    BSON_APPEND_BOOL(doc, "active", journey->active);
    BSON_APPEND_BOOL(doc, "completed", journey->completed);
}

/* Appends the GeoJSON point {type: "Point", coordinates: [lng, lat(, alt)]}. */
static void mongo_append_point(bson_t *doc, const struct marker *marker)
{
    bson_t point, coordinates;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "coordinates", &point);
    BSON_APPEND_UTF8(&point, "type", "Point");
    BSON_APPEND_ARRAY_BEGIN(&point, "coordinates", &coordinates);
    BSON_APPEND_DOUBLE(&coordinates, "0", marker->lng);
    BSON_APPEND_DOUBLE(&coordinates, "1", marker->lat);
    if (marker->has_alt)
        BSON_APPEND_DOUBLE(&coordinates, "2", marker->alt);
    bson_append_array_end(&point, &coordinates);
    bson_append_document_end(doc, &point);
}

bool mongo_marker_to_bson(const struct marker *marker, int64_t seq, bson_t *doc)
{
    mongo_append_oid_hex(doc, "_id", marker->id);
    BSON_APPEND_UTF8(doc, "name", marker->name != NULL ? marker->name : "");
    mongo_append_oid_hex(doc, "journey_id", marker->journey_id);
    mongo_append_oid_hex(doc, "owner_id", marker->owner_id);
    BSON_APPEND_UTF8(doc, "marker_type", marker->marker_type == MARKER_PLAN ? "plan" : "past");
    mongo_append_point(doc, marker);
    if (!mongo_append_day_or_null(doc, "timestamp", marker->timestamp))
        return false;
    if (!mongo_append_day_or_null(doc, "estimated_time", marker->estimated_time))
        return false;
    BSON_APPEND_UTF8(doc, "notes", marker->notes != NULL ? marker->notes : "");
    BSON_APPEND_DATE_TIME(doc, "created_at", marker->created_at);
    BSON_APPEND_INT64(doc, "seq", seq);
    return true;
}

void mongo_refresh_family_to_bson(const struct refresh_family *family, int64_t created_at, bson_t *doc)
{
    mongo_append_oid_hex(doc, "_id", family->id);
    mongo_append_oid_hex(doc, "user_id", family->user_id);
    BSON_APPEND_UTF8(doc, "current_jti", family->current_jti);
    BSON_APPEND_BOOL(doc, "revoked", family->revoked);
    BSON_APPEND_DATE_TIME(doc, "expires_at", family->expires_at);
    BSON_APPEND_DATE_TIME(doc, "created_at", created_at);
}

const char *mongo_mail_kind_name(enum mail_kind kind)
{
    return kind == MAIL_RESET_PASSWORD ? "reset_password" : "verify_email";
}

const char *mongo_mail_status_name(enum mail_status status)
{
    switch (status) {
    case MAIL_PENDING:
        return "pending";
    case MAIL_SENDING:
        return "sending";
    case MAIL_SENT:
        return "sent";
    case MAIL_FAILED:
        return "failed";
    }
    return "pending";
}

void mongo_mail_entry_to_bson(const struct mail_entry *entry, bson_t *doc)
{
    mongo_append_oid_hex(doc, "_id", entry->id);
    mongo_append_oid_hex(doc, "user_id", entry->user_id);
    BSON_APPEND_UTF8(doc, "kind", mongo_mail_kind_name(entry->kind));
    BSON_APPEND_UTF8(doc, "to_email", entry->to_email != NULL ? entry->to_email : "");
    BSON_APPEND_UTF8(doc, "status", mongo_mail_status_name(entry->status));
    BSON_APPEND_INT32(doc, "attempts", entry->attempts);
    BSON_APPEND_DATE_TIME(doc, "next_attempt_at", entry->next_attempt_at);
    if (entry->status == MAIL_SENDING)
        BSON_APPEND_DATE_TIME(doc, "lease_until", entry->lease_until);
    else
        BSON_APPEND_NULL(doc, "lease_until");
    mongo_append_string_or_null(doc, "last_error", entry->last_error);
    BSON_APPEND_DATE_TIME(doc, "created_at", entry->created_at);
}

/* --- reading --- */

/* A string field, or NULL when it is missing, null or not a string. */
static char *mongo_read_string(const bson_iter_t *iter, struct pool *pool)
{
    if (!BSON_ITER_HOLDS_UTF8(iter))
        return NULL;
    uint32_t len;
    const char *value = bson_iter_utf8(iter, &len);
    return pool_strndup(pool, value, len);
}

/* An id reference stored as an ObjectId (or, leniently, as its hex string). */
static bool mongo_read_ref(const bson_iter_t *iter, char out[ID_HEX_LEN + 1])
{
    if (BSON_ITER_HOLDS_OID(iter)) {
        mongo_oid_to_hex(bson_iter_oid(iter), out);
        return true;
    }
    if (BSON_ITER_HOLDS_UTF8(iter))
        return id_normalize(bson_iter_utf8(iter, NULL), out);
    return false;
}

static bool mongo_read_bool(const bson_iter_t *iter)
{
    return bson_iter_as_bool(iter);
}

static bool mongo_read_number(const bson_iter_t *iter, double *out)
{
    if (BSON_ITER_HOLDS_DOUBLE(iter) || BSON_ITER_HOLDS_INT32(iter) || BSON_ITER_HOLDS_INT64(iter)) {
        *out = bson_iter_as_double(iter);
        return true;
    }
    return false;
}

static bool mongo_read_time(const bson_iter_t *iter, int64_t *ms)
{
    if (BSON_ITER_HOLDS_DATE_TIME(iter)) {
        *ms = bson_iter_date_time(iter);
        return true;
    }
    return false;
}

/* A calendar day stored as a datetime or, leniently, as a "YYYY-MM-DD..." string. */
static char *mongo_read_day(const bson_iter_t *iter, struct pool *pool)
{
    int64_t ms;
    if (mongo_read_time(iter, &ms))
        return mongo_day_from_ms(pool, ms);
    if (BSON_ITER_HOLDS_UTF8(iter)) {
        const char *text = bson_iter_utf8(iter, NULL);
        char day[11];
        snprintf(day, sizeof(day), "%s", text);
        if (mongo_day_to_ms(day, &ms))
            return pool_strdup(pool, day);
    }
    return NULL;
}

/* Reads _id; every stored document has an ObjectId one. */
static bool mongo_read_id(const bson_t *doc, char out[ID_HEX_LEN + 1], int64_t *oid_time_ms, char *err, size_t err_len)
{
    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        snprintf(err, err_len, "document has no ObjectId _id");
        return false;
    }
    const bson_oid_t *oid = bson_iter_oid(&iter);
    mongo_oid_to_hex(oid, out);
    *oid_time_ms = (int64_t)bson_oid_get_time_t(oid) * 1000;
    return true;
}

bool mongo_user_from_bson(const bson_t *doc, struct pool *pool, struct user *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (!mongo_read_id(doc, out->id, &out->created_at, err, err_len))
        return false;

    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        snprintf(err, err_len, "user %s: corrupt BSON", out->id);
        return false;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        if (strcmp(key, "email") == 0)
            out->email = mongo_read_string(&iter, pool);
        else if (strcmp(key, "name") == 0)
            out->name = mongo_read_string(&iter, pool);
        else if (strcmp(key, "password") == 0)
            out->password_hash = mongo_read_string(&iter, pool);
        else if (strcmp(key, "phonenumber") == 0)
            out->phonenumber = mongo_read_string(&iter, pool);
        else if (strcmp(key, "instagram") == 0)
            out->instagram = mongo_read_string(&iter, pool);
        else if (strcmp(key, "country") == 0)
            out->country = mongo_read_string(&iter, pool);
        else if (strcmp(key, "is_verified") == 0)
            out->is_verified = mongo_read_bool(&iter);
        else if (strcmp(key, "created_at") == 0)
            mongo_read_time(&iter, &out->created_at);
    }

    if (out->email == NULL) {
        snprintf(err, err_len, "user %s has no email", out->id);
        return false;
    }
    if (out->name == NULL)
        out->name = pool_strdup(pool, "");
    if (out->password_hash == NULL)
        out->password_hash = pool_strdup(pool, "");
    return true;
}

bool mongo_journey_from_bson(const bson_t *doc, struct pool *pool, struct journey *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (!mongo_read_id(doc, out->id, &out->created_at, err, err_len))
        return false;

    bool has_user = false;
    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        snprintf(err, err_len, "journey %s: corrupt BSON", out->id);
        return false;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        if (strcmp(key, "name") == 0)
            out->name = mongo_read_string(&iter, pool);
        else if (strcmp(key, "description") == 0)
            out->description = mongo_read_string(&iter, pool);
        else if (strcmp(key, "user_id") == 0)
            has_user = mongo_read_ref(&iter, out->user_id);
        else if (strcmp(key, "created_at") == 0)
            mongo_read_time(&iter, &out->created_at);
        else if (strcmp(key, "active") == 0)
            out->active = mongo_read_bool(&iter);
        else if (strcmp(key, "completed") == 0)
            out->completed = mongo_read_bool(&iter);
    }

    if (!has_user) {
        snprintf(err, err_len, "journey %s has no readable user_id", out->id);
        return false;
    }
    if (out->name == NULL)
        out->name = pool_strdup(pool, "");
    if (out->description == NULL)
        out->description = pool_strdup(pool, "");
    return true;
}

/* Reads {type: "Point", coordinates: [lng, lat(, alt)]}. */
static bool mongo_read_point(const bson_iter_t *field, struct marker *out)
{
    bson_iter_t point, coordinates;
    if (!BSON_ITER_HOLDS_DOCUMENT(field) || !bson_iter_recurse(field, &point) ||
        !bson_iter_find(&point, "coordinates") || !BSON_ITER_HOLDS_ARRAY(&point) ||
        !bson_iter_recurse(&point, &coordinates))
        return false;

    double values[3];
    size_t n = 0;
    while (n < 3 && bson_iter_next(&coordinates)) {
        if (!mongo_read_number(&coordinates, &values[n]))
            return false;
        n++;
    }
    if (n < 2)
        return false;
    out->lng = values[0];
    out->lat = values[1];
    out->has_alt = n == 3;
    out->alt = n == 3 ? values[2] : 0.0;
    return true;
}

bool mongo_marker_from_bson(const bson_t *doc, struct pool *pool, struct marker *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (!mongo_read_id(doc, out->id, &out->created_at, err, err_len))
        return false;

    bool has_journey = false, has_owner = false, has_point = false;
    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        snprintf(err, err_len, "marker %s: corrupt BSON", out->id);
        return false;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        if (strcmp(key, "name") == 0)
            out->name = mongo_read_string(&iter, pool);
        else if (strcmp(key, "journey_id") == 0)
            has_journey = mongo_read_ref(&iter, out->journey_id);
        else if (strcmp(key, "owner_id") == 0)
            has_owner = mongo_read_ref(&iter, out->owner_id);
        else if (strcmp(key, "marker_type") == 0)
            out->marker_type = BSON_ITER_HOLDS_UTF8(&iter) && strcmp(bson_iter_utf8(&iter, NULL), "plan") == 0
                                   ? MARKER_PLAN
                                   : MARKER_PAST;
        else if (strcmp(key, "coordinates") == 0)
            has_point = mongo_read_point(&iter, out);
        else if (strcmp(key, "timestamp") == 0)
            out->timestamp = mongo_read_day(&iter, pool);
        else if (strcmp(key, "estimated_time") == 0)
            out->estimated_time = mongo_read_day(&iter, pool);
        else if (strcmp(key, "notes") == 0)
            out->notes = mongo_read_string(&iter, pool);
        else if (strcmp(key, "created_at") == 0)
            mongo_read_time(&iter, &out->created_at);
    }

    if (!has_journey || !has_point) {
        snprintf(err, err_len, "marker %s has no readable %s", out->id, has_journey ? "coordinates" : "journey_id");
        return false;
    }
    /* Every marker of the old backend has an owner. An all-zero owner_id matches no user, so no user may edit it. */
    if (!has_owner)
        memset(out->owner_id, '0', ID_HEX_LEN);
    if (out->name == NULL)
        out->name = pool_strdup(pool, "");
    if (out->notes == NULL)
        out->notes = pool_strdup(pool, "");
    return true;
}

bool mongo_refresh_family_from_bson(const bson_t *doc, struct refresh_family *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    int64_t created_at;
    if (!mongo_read_id(doc, out->id, &created_at, err, err_len))
        return false;

    bool has_user = false;
    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        snprintf(err, err_len, "refresh family %s: corrupt BSON", out->id);
        return false;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        if (strcmp(key, "user_id") == 0)
            has_user = mongo_read_ref(&iter, out->user_id);
        else if (strcmp(key, "current_jti") == 0 && BSON_ITER_HOLDS_UTF8(&iter))
            snprintf(out->current_jti, sizeof(out->current_jti), "%s", bson_iter_utf8(&iter, NULL));
        else if (strcmp(key, "revoked") == 0)
            out->revoked = mongo_read_bool(&iter);
        else if (strcmp(key, "expires_at") == 0)
            mongo_read_time(&iter, &out->expires_at);
    }
    if (!has_user) {
        snprintf(err, err_len, "refresh family %s has no readable user_id", out->id);
        return false;
    }
    return true;
}

static enum mail_status mongo_mail_status_from_name(const char *name)
{
    if (strcmp(name, "sending") == 0)
        return MAIL_SENDING;
    if (strcmp(name, "sent") == 0)
        return MAIL_SENT;
    if (strcmp(name, "failed") == 0)
        return MAIL_FAILED;
    return MAIL_PENDING;
}

bool mongo_mail_entry_from_bson(const bson_t *doc, struct pool *pool, struct mail_entry *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (!mongo_read_id(doc, out->id, &out->created_at, err, err_len))
        return false;

    bool has_user = false;
    bson_iter_t iter;
    if (!bson_iter_init(&iter, doc)) {
        snprintf(err, err_len, "mail entry %s: corrupt BSON", out->id);
        return false;
    }
    while (bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        if (strcmp(key, "user_id") == 0)
            has_user = mongo_read_ref(&iter, out->user_id);
        else if (strcmp(key, "kind") == 0 && BSON_ITER_HOLDS_UTF8(&iter))
            out->kind =
                strcmp(bson_iter_utf8(&iter, NULL), "reset_password") == 0 ? MAIL_RESET_PASSWORD : MAIL_VERIFY_EMAIL;
        else if (strcmp(key, "to_email") == 0)
            out->to_email = mongo_read_string(&iter, pool);
        else if (strcmp(key, "status") == 0 && BSON_ITER_HOLDS_UTF8(&iter))
            out->status = mongo_mail_status_from_name(bson_iter_utf8(&iter, NULL));
        else if (strcmp(key, "attempts") == 0)
            out->attempts = (int)bson_iter_as_int64(&iter);
        else if (strcmp(key, "next_attempt_at") == 0)
            mongo_read_time(&iter, &out->next_attempt_at);
        else if (strcmp(key, "lease_until") == 0)
            mongo_read_time(&iter, &out->lease_until);
        else if (strcmp(key, "last_error") == 0)
            out->last_error = mongo_read_string(&iter, pool);
        else if (strcmp(key, "created_at") == 0)
            mongo_read_time(&iter, &out->created_at);
    }
    if (!has_user || out->to_email == NULL) {
        snprintf(err, err_len, "mail entry %s has no readable %s", out->id, has_user ? "to_email" : "user_id");
        return false;
    }
    return true;
}
