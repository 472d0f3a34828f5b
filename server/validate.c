/*
 * Input validation for the HTTP API. Every check names the field it rejects
 * (loc) and states what a valid value looks like (msg), as FastAPI's 422 does.
 * Unknown fields are ignored. Strings are copied into the request pool, so
 * the parsed JSON can be released as soon as validation is done.
 */
#include "server/validate.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"

/* State of a body field after its type has been checked. */
enum field_state { FIELD_ABSENT, FIELD_NULL, FIELD_SET, FIELD_ERROR };

static bool fail(struct validation_error *err, const char *msg, const char *loc1, const char *loc2, const char *loc3)
{
    memset(err, 0, sizeof(*err));
    err->loc[0] = "body";
    err->loc[1] = loc1;
    err->loc[2] = loc1 != NULL ? loc2 : NULL;
    err->loc[3] = loc1 != NULL && loc2 != NULL ? loc3 : NULL;
    err->msg = msg;
    return false;
}

/* True when value and its children nest at most `levels` objects or arrays deep. */
static bool json_depth_within(json_t *value, int levels)
{
    if (!json_is_object(value) && !json_is_array(value))
        return true;
    if (levels == 0)
        return false;

    if (json_is_array(value)) {
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            if (!json_depth_within(item, levels - 1))
                return false;
        }
        return true;
    }

    const char *key;
    json_t *item;
    json_object_foreach(value, key, item)
    {
        if (!json_depth_within(item, levels - 1))
            return false;
    }
    return true;
}

/* jansson's message, except where it names a decoder flag or reads as an internal fault. */
static const char *json_error_reason(const json_error_t *error)
{
    switch (json_error_code(error)) {
    case json_error_null_character:
        return "strings must not contain \\u0000";
    case json_error_numeric_overflow:
        return "a number is too large";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    default:
        return error->text;
    }
}

bool validate_json_object(struct pool *pool, const char *body, size_t len, json_t **out, struct validation_error *err)
{
    *out = NULL;
    if (body == NULL || len == 0)
        return fail(err, "body is missing: send a JSON object", NULL, NULL, NULL);

    json_error_t error;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &error);
    if (root == NULL)
        return fail(err,
                    pool_printf(pool, "body is not valid JSON: %s (line %d, column %d)", json_error_reason(&error),
                                error.line, error.column),
                    NULL, NULL, NULL);

    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, "body must be a JSON object", NULL, NULL, NULL);
    }
    if (!json_depth_within(root, VALIDATE_MAX_JSON_DEPTH)) {
        json_decref(root);
        return fail(err, pool_printf(pool, "body nests deeper than %d levels", VALIDATE_MAX_JSON_DEPTH), NULL, NULL,
                    NULL);
    }

    *out = root;
    return true;
}

/* Reads an optional string field no longer than max_bytes into *out (pool copy). */
static enum field_state read_string(struct pool *pool, json_t *body, const char *field, size_t max_bytes,
                                    const char **out, struct validation_error *err)
{
    *out = NULL;
    json_t *value = json_object_get(body, field);
    if (value == NULL)
        return FIELD_ABSENT;
    if (json_is_null(value))
        return FIELD_NULL;

    if (!json_is_string(value)) {
        fail(err, pool_printf(pool, "%s must be a string", field), field, NULL, NULL);
        return FIELD_ERROR;
    }
    size_t len = json_string_length(value);
    if (len > max_bytes) {
        fail(err, pool_printf(pool, "%s must be at most %zu bytes long", field, max_bytes), field, NULL, NULL);
        return FIELD_ERROR;
    }

    *out = pool_strndup(pool, json_string_value(value), len);
    return FIELD_SET;
}

/* A name: a non-empty string of at most VALIDATE_MAX_NAME_BYTES. `required` rejects an absent field. */
static enum field_state read_name(struct pool *pool, json_t *body, bool required, const char **out,
                                  struct validation_error *err)
{
    enum field_state state = read_string(pool, body, "name", VALIDATE_MAX_NAME_BYTES, out, err);
    if (state == FIELD_ABSENT && required) {
        fail(err, "name is required", "name", NULL, NULL);
        return FIELD_ERROR;
    }
    if (state == FIELD_NULL) {
        fail(err, "name must be a string", "name", NULL, NULL);
        return FIELD_ERROR;
    }
    if (state == FIELD_SET && (*out)[0] == '\0') {
        fail(err, "name must not be empty", "name", NULL, NULL);
        return FIELD_ERROR;
    }
    return state;
}

/* An optional boolean; *out is left alone when the field is absent or null. */
static enum field_state read_bool(struct pool *pool, json_t *body, const char *field, bool *out,
                                  struct validation_error *err)
{
    json_t *value = json_object_get(body, field);
    if (value == NULL)
        return FIELD_ABSENT;
    if (json_is_null(value))
        return FIELD_NULL;
    if (!json_is_boolean(value)) {
        fail(err, pool_printf(pool, "%s must be true or false", field), field, NULL, NULL);
        return FIELD_ERROR;
    }
    *out = json_is_true(value);
    return FIELD_SET;
}

static char *trim_copy(struct pool *pool, const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return pool_strndup(pool, s, len);
}

bool validate_utf8(const char *text, size_t len)
{
    /* jansson refuses to build a string from bytes that are not UTF-8. */
    json_t *string = json_stringn(text, len);
    json_decref(string);
    return string != NULL;
}

const char *validate_email(const char *email)
{
    size_t len = strlen(email);
    if (len == 0)
        return "email must not be empty";
    if (len > VALIDATE_MAX_EMAIL_BYTES)
        return "email must be at most 254 bytes long";
    if (!validate_utf8(email, len))
        return "email must be valid UTF-8";

    for (const char *p = email; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f)
            return "email must not contain spaces or control characters";
    }

    const char *at = strchr(email, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return "email must contain exactly one @";
    if (at == email)
        return "email must have a local part before the @";

    const char *domain = at + 1;
    size_t domain_len = strlen(domain);
    if (domain_len == 0)
        return "email must have a domain after the @";
    if (strchr(domain, '.') == NULL)
        return "email domain must contain a dot";
    if (domain[0] == '.' || domain[domain_len - 1] == '.' || strstr(domain, "..") != NULL)
        return "email domain must not start or end with a dot or contain two dots in a row";
    return NULL;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool validate_date(const char *date)
{
    if (strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return false;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit((unsigned char)date[i]))
            return false;
    }

    int year = atoi(date);
    int month = atoi(date + 5);
    int day = atoi(date + 8);
    static const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1)
        return false;

    int month_days = days_in_month[month - 1] + (month == 2 && is_leap_year(year) ? 1 : 0);
    return day <= month_days;
}

static bool fail_query(struct validation_error *err, const char *field, const char *msg)
{
    memset(err, 0, sizeof(*err));
    err->loc[0] = "query";
    err->loc[1] = field;
    err->msg = msg;
    return false;
}

bool validate_max_distance(const char *text, double *out, struct validation_error *err)
{
    if (text == NULL) {
        *out = VALIDATE_DEFAULT_DISTANCE_M;
        return true;
    }

    /* Decimal notation only: strtod alone would also take "inf", "nan" and hex. */
    bool well_formed = text[0] != '\0';
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p) && strchr("+-.eE", *p) == NULL)
            well_formed = false;
    }
    char *end = NULL;
    double value = well_formed ? strtod(text, &end) : 0;
    if (!well_formed || end == text || *end != '\0' || !isfinite(value))
        return fail_query(err, "max_distance", "max_distance must be a number of metres");

    if (value <= 0)
        return fail_query(err, "max_distance", "max_distance must be greater than 0");
    if (value > VALIDATE_MAX_DISTANCE_M)
        return fail_query(err, "max_distance", "max_distance must be at most 2000000 metres");

    *out = value;
    return true;
}

/* phonenumber, instagram, country: a string, null or absent. */
static const char *const USER_OPTIONAL_FIELDS[] = {"phonenumber", "instagram", "country"};

bool validate_user_register(struct pool *pool, json_t *body, struct user *user, const char **password,
                            size_t *password_len, struct validation_error *err)
{
    const char *email;
    enum field_state state = read_string(pool, body, "email", VALIDATE_MAX_STRING_BYTES, &email, err);
    if (state == FIELD_ERROR)
        return false;
    if (state != FIELD_SET)
        return fail(err, "email is required", "email", NULL, NULL);
    user->email = trim_copy(pool, email);
    const char *reason = validate_email(user->email);
    if (reason != NULL)
        return fail(err, reason, "email", NULL, NULL);

    const char *name;
    if (read_name(pool, body, true, &name, err) == FIELD_ERROR)
        return false;
    user->name = (char *)name;

    state = read_string(pool, body, "password", PASSWORD_MAX_BYTES, password, err);
    if (state == FIELD_ERROR)
        return false;
    if (state != FIELD_SET)
        return fail(err, "password is required", "password", NULL, NULL);
    *password_len = strlen(*password);
    reason = password_check_policy(*password, *password_len);
    if (reason != NULL)
        return fail(err, reason, "password", NULL, NULL);

    char **targets[] = {&user->phonenumber, &user->instagram, &user->country};
    for (size_t i = 0; i < 3; i++) {
        const char *value;
        if (read_string(pool, body, USER_OPTIONAL_FIELDS[i], VALIDATE_MAX_STRING_BYTES, &value, err) == FIELD_ERROR)
            return false;
        *targets[i] = (char *)value;
    }
    return true;
}

static bool check_email_unchanged(struct pool *pool, json_t *body, const char *current_email,
                                  struct validation_error *err)
{
    const char *email;
    enum field_state state = read_string(pool, body, "email", VALIDATE_MAX_STRING_BYTES, &email, err);
    if (state == FIELD_ERROR)
        return false;
    if (state != FIELD_SET)
        return true;

    const char *given = storage_email_normalize(pool, email);
    const char *current = storage_email_normalize(pool, current_email != NULL ? current_email : "");
    if (given == NULL || current == NULL || strcmp(given, current) != 0)
        return fail(err, "changing the email is not supported", "email", NULL, NULL);
    return true;
}

bool validate_user_update(struct pool *pool, json_t *body, const char *current_email, struct user_update *update,
                          struct validation_error *err)
{
    memset(update, 0, sizeof(*update));
    if (!check_email_unchanged(pool, body, current_email, err))
        return false;
    if (read_name(pool, body, false, &update->name, err) == FIELD_ERROR)
        return false;

    const char **values[] = {&update->phonenumber, &update->instagram, &update->country};
    bool *clears[] = {&update->clear_phonenumber, &update->clear_instagram, &update->clear_country};
    for (size_t i = 0; i < 3; i++) {
        enum field_state state =
            read_string(pool, body, USER_OPTIONAL_FIELDS[i], VALIDATE_MAX_STRING_BYTES, values[i], err);
        if (state == FIELD_ERROR)
            return false;
        *clears[i] = state == FIELD_NULL;
    }
    return true;
}

/* description: a string of at most VALIDATE_MAX_STRING_BYTES; null stands for "". */
static enum field_state read_description(struct pool *pool, json_t *body, const char **out,
                                         struct validation_error *err)
{
    enum field_state state = read_string(pool, body, "description", VALIDATE_MAX_STRING_BYTES, out, err);
    if (state == FIELD_NULL)
        *out = "";
    return state;
}

bool validate_journey_create(struct pool *pool, json_t *body, struct journey *journey, struct validation_error *err)
{
    const char *name;
    if (read_name(pool, body, true, &name, err) == FIELD_ERROR)
        return false;
    journey->name = (char *)name;

    const char *description;
    if (read_description(pool, body, &description, err) == FIELD_ERROR)
        return false;
    journey->description = (char *)(description != NULL ? description : "");

    journey->active = false;
    journey->completed = false;
    if (read_bool(pool, body, "active", &journey->active, err) == FIELD_ERROR)
        return false;
    if (read_bool(pool, body, "completed", &journey->completed, err) == FIELD_ERROR)
        return false;
    if (journey->active && journey->completed)
        return fail(err, "a completed journey cannot be active", "active", NULL, NULL);
    return true;
}

bool validate_journey_update(struct pool *pool, json_t *body, struct journey_update *update,
                             struct validation_error *err)
{
    memset(update, 0, sizeof(*update));

    enum field_state state = read_name(pool, body, false, &update->name, err);
    if (state == FIELD_ERROR)
        return false;
    update->has_name = state == FIELD_SET;

    state = read_description(pool, body, &update->description, err);
    if (state == FIELD_ERROR)
        return false;
    update->has_description = state == FIELD_SET || state == FIELD_NULL;

    state = read_bool(pool, body, "completed", &update->completed, err);
    if (state == FIELD_ERROR)
        return false;
    if (state == FIELD_NULL)
        return fail(err, "completed must be true or false", "completed", NULL, NULL);
    update->has_completed = state == FIELD_SET;
    return true;
}

static bool read_marker_type(struct pool *pool, json_t *body, struct marker *marker, struct validation_error *err)
{
    const char *type;
    enum field_state state = read_string(pool, body, "marker_type", VALIDATE_MAX_STRING_BYTES, &type, err);
    if (state == FIELD_ERROR)
        return false;
    if (state != FIELD_SET)
        return fail(err, "marker_type is required", "marker_type", NULL, NULL);

    if (strcmp(type, "past") == 0)
        marker->marker_type = MARKER_PAST;
    else if (strcmp(type, "plan") == 0)
        marker->marker_type = MARKER_PLAN;
    else
        return fail(err, "marker_type must be \"past\" or \"plan\"", "marker_type", NULL, NULL);
    return true;
}

/* The GeoJSON point {"type": "Point", "coordinates": [lng, lat(, alt)]}. */
static bool read_point(json_t *body, struct marker *marker, struct validation_error *err)
{
    json_t *point = json_object_get(body, "coordinates");
    if (point == NULL || json_is_null(point))
        return fail(err, "coordinates is required", "coordinates", NULL, NULL);
    if (!json_is_object(point))
        return fail(err, "coordinates must be a GeoJSON Point object", "coordinates", NULL, NULL);

    json_t *type = json_object_get(point, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "Point") != 0)
        return fail(err, "coordinates type must be \"Point\"", "coordinates", "type", NULL);

    json_t *numbers = json_object_get(point, "coordinates");
    size_t count = json_array_size(numbers);
    if (!json_is_array(numbers) || count < 2 || count > 3)
        return fail(err, "coordinates must be an array of 2 or 3 numbers: longitude, latitude, optional altitude",
                    "coordinates", "coordinates", NULL);

    double values[3] = {0, 0, 0};
    for (size_t i = 0; i < count; i++) {
        json_t *number = json_array_get(numbers, i);
        if (!json_is_number(number) || !isfinite(json_number_value(number)))
            return fail(err, "coordinates must be finite numbers", "coordinates", "coordinates", NULL);
        values[i] = json_number_value(number);
    }
    if (values[0] < -180 || values[0] > 180)
        return fail(err, "longitude must be between -180 and 180", "coordinates", "coordinates", NULL);
    if (values[1] < -90 || values[1] > 90)
        return fail(err, "latitude must be between -90 and 90", "coordinates", "coordinates", NULL);

    marker->lng = values[0];
    marker->lat = values[1];
    marker->has_alt = count == 3;
    marker->alt = values[2];
    return true;
}

/* timestamp and estimated_time: "YYYY-MM-DD", null or absent (NULL). */
static bool read_date(struct pool *pool, json_t *body, const char *field, char **out, struct validation_error *err)
{
    const char *value;
    enum field_state state = read_string(pool, body, field, VALIDATE_MAX_STRING_BYTES, &value, err);
    if (state == FIELD_ERROR)
        return false;
    if (state == FIELD_SET && !validate_date(value))
        return fail(err, pool_printf(pool, "%s must be a calendar date in the form YYYY-MM-DD", field), field, NULL,
                    NULL);
    *out = (char *)value;
    return true;
}

bool validate_marker(struct pool *pool, json_t *body, struct marker *marker, struct validation_error *err)
{
    const char *name;
    if (read_name(pool, body, true, &name, err) == FIELD_ERROR)
        return false;
    marker->name = (char *)name;

    if (!read_marker_type(pool, body, marker, err))
        return false;
    if (!read_point(body, marker, err))
        return false;

    const char *notes;
    if (read_string(pool, body, "notes", VALIDATE_MAX_NOTES_BYTES, &notes, err) == FIELD_ERROR)
        return false;
    marker->notes = (char *)(notes != NULL ? notes : "");

    if (!read_date(pool, body, "timestamp", &marker->timestamp, err))
        return false;
    return read_date(pool, body, "estimated_time", &marker->estimated_time, err);
}
