/*
 * Model structs to jansson values in the exact shapes of the HTTP API.
 * Builders use json_pack, which returns NULL when any allocation fails, so a
 * caller checks one pointer.
 */
#include "server/models_json.h"

#include <stdio.h>
#include <time.h>

bool models_time_format(int64_t ms, char out[MODELS_TIME_LEN + 1])
{
    /* Floor division, so that times before 1970 keep a millisecond part in 0..999. */
    int64_t seconds = ms / 1000;
    int64_t millis = ms % 1000;
    if (millis < 0) {
        millis += 1000;
        seconds -= 1;
    }

    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return false;

    long year = (long)tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        return false;

    int n = snprintf(out, MODELS_TIME_LEN + 1, "%04ld-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
    return n == MODELS_TIME_LEN;
}

json_t *models_user_json(const struct user *user, bool with_email)
{
    if (with_email)
        return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:b}", "_id", user->id, "email", user->email, "name",
                         user->name, "phonenumber", user->phonenumber, "instagram", user->instagram, "country",
                         user->country, "is_verified", user->is_verified);
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:b}", "_id", user->id, "name", user->name, "phonenumber",
                     user->phonenumber, "instagram", user->instagram, "country", user->country, "is_verified",
                     user->is_verified);
}

json_t *models_journey_json(const struct journey *journey)
{
    char created_at[MODELS_TIME_LEN + 1];
    if (!models_time_format(journey->created_at, created_at))
        return NULL;

    return json_pack("{s:s, s:s?, s:s, s:s, s:s, s:b, s:b}", "_id", journey->id, "name", journey->name, "description",
                     journey->description != NULL ? journey->description : "", "user_id", journey->user_id,
                     "created_at", created_at, "active", journey->active, "completed", journey->completed);
}

json_t *models_journeys_json(const struct journey *journeys, size_t count)
{
    json_t *array = json_array();
    if (array == NULL)
        return NULL;

    for (size_t i = 0; i < count; i++) {
        if (json_array_append_new(array, models_journey_json(&journeys[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static json_t *marker_point_json(const struct marker *marker)
{
    if (marker->has_alt)
        return json_pack("{s:s, s:[f, f, f]}", "type", "Point", "coordinates", marker->lng, marker->lat, marker->alt);
    return json_pack("{s:s, s:[f, f]}", "type", "Point", "coordinates", marker->lng, marker->lat);
}

json_t *models_marker_json(const struct marker *marker)
{
    char created_at[MODELS_TIME_LEN + 1];
    if (!models_time_format(marker->created_at, created_at))
        return NULL;

    return json_pack("{s:s, s:s?, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s, s:s}", "_id", marker->id, "name", marker->name,
                     "journey_id", marker->journey_id, "owner_id", marker->owner_id, "marker_type",
                     marker->marker_type == MARKER_PLAN ? "plan" : "past", "coordinates", marker_point_json(marker),
                     "timestamp", marker->timestamp, "estimated_time", marker->estimated_time, "notes",
                     marker->notes != NULL ? marker->notes : "", "created_at", created_at);
}

json_t *models_markers_json(const struct marker *markers, size_t count)
{
    json_t *array = json_array();
    if (array == NULL)
        return NULL;

    for (size_t i = 0; i < count; i++) {
        if (json_array_append_new(array, models_marker_json(&markers[i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}
