/*
 * Input validation: request bodies (JSON objects) into model structs, and the
 * single values the routes read (email, calendar date, max_distance). A
 * rejected input fills a struct validation_error that the handler sends as
 * a 422 in FastAPI's shape. Strings copied into models live in the pool.
 */
#ifndef KAIROS_VALIDATE_H
#define KAIROS_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "storage/pool.h"
#include "storage/storage.h"

#define VALIDATE_MAX_JSON_DEPTH     32
#define VALIDATE_MAX_NAME_BYTES     200
#define VALIDATE_MAX_NOTES_BYTES    10000
#define VALIDATE_MAX_STRING_BYTES   10000
#define VALIDATE_MAX_EMAIL_BYTES    254
#define VALIDATE_DEFAULT_DISTANCE_M 500000.0
#define VALIDATE_MAX_DISTANCE_M     2000000.0

/* A rejected value: its location, e.g. {"body", "coordinates", "coordinates", NULL}, and the reason. */
struct validation_error {
    const char *loc[5];
    const char *msg;
};

/*
 * Parses body as a JSON object at most VALIDATE_MAX_JSON_DEPTH deep. On
 * success *out is a new reference. Invalid JSON, another top-level type or a
 * deeper nesting is an error at loc ["body"].
 */
bool validate_json_object(struct pool *pool, const char *body, size_t len, json_t **out, struct validation_error *err);

/* True when text[0..len) is valid UTF-8. */
bool validate_utf8(const char *text, size_t len);

/* NULL when email (already trimmed) is acceptable, else the reason. */
const char *validate_email(const char *email);

/* True when date is "YYYY-MM-DD" naming a real day of the Gregorian calendar (years 0001 to 9999). */
bool validate_date(const char *date);

/*
 * Parses the max_distance query value in metres: NULL gives the default;
 * otherwise a finite number > 0 and <= VALIDATE_MAX_DISTANCE_M.
 */
bool validate_max_distance(const char *text, double *out, struct validation_error *err);

/*
 * POST /users/register. Fills email (trimmed), name and the optional profile
 * fields of *user, and points *password at the password (policy checked).
 */
bool validate_user_register(struct pool *pool, json_t *body, struct user *user, const char **password,
                            size_t *password_len, struct validation_error *err);

/*
 * PUT /users/{user_id}. Fills *update from name, phonenumber, instagram and
 * country (JSON null clears an optional field). An email that differs from
 * current_email after normalization is rejected; password, is_verified and
 * _id are ignored.
 */
bool validate_user_update(struct pool *pool, json_t *body, const char *current_email, struct user_update *update,
                          struct validation_error *err);

/* POST /journeys/. Fills name, description ("" by default), active and completed (false by default). */
bool validate_journey_create(struct pool *pool, json_t *body, struct journey *journey, struct validation_error *err);

/* PATCH /journeys/{journey_id} with a body: any of name, description, completed. */
bool validate_journey_update(struct pool *pool, json_t *body, struct journey_update *update,
                             struct validation_error *err);

/*
 * A marker body (POST and PUT). Fills every field of *marker but id,
 * journey_id, owner_id and created_at, which the body cannot set.
 */
bool validate_marker(struct pool *pool, json_t *body, struct marker *marker, struct validation_error *err);

#endif
