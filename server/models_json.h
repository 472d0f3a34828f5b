/*
 * Model structs to JSON, in the shapes the web client reads. Field names are
 * "_id", "user_id" and so on, absent optional fields are null (but an absent
 * description or notes is ""), and times are RFC 3339 UTC with milliseconds
 * and "Z". A password hash is never written.
 */
#ifndef KAIROS_MODELS_JSON_H
#define KAIROS_MODELS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/storage.h"

/* Length of "2026-06-12T08:00:00.000Z" without the NUL. */
#define MODELS_TIME_LEN 24

/* Formats ms since the Unix epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ"; false when the year is outside 0..9999. */
bool models_time_format(int64_t ms, char out[MODELS_TIME_LEN + 1]);

/*
 * Each builder returns a new reference, or NULL when an allocation failed or
 * a time cannot be formatted. with_email selects the full user (for the user
 * itself) over the public profile.
 */
json_t *models_user_json(const struct user *user, bool with_email);
json_t *models_journey_json(const struct journey *journey);
json_t *models_journeys_json(const struct journey *journeys, size_t count);
json_t *models_marker_json(const struct marker *marker);
json_t *models_markers_json(const struct marker *markers, size_t count);

#endif
