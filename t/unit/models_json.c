/*
 * Unit tests of server/models_json.c: the exact JSON of users, public
 * profiles, journeys and markers, including nulls, altitude and times with
 * milliseconds.
 */
#include <stdlib.h>

#include "server/models_json.h"
#include "t/unit/tap.h"

static char dumped[4096];

/* Serializes value compactly (keys in insertion order) and releases it; "(null)" for NULL. */
static const char *dump(json_t *value)
{
    if (value == NULL)
        return "(null)";
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(dumped, sizeof(dumped), "%s", text != NULL ? text : "(dump failed)");
    free(text);
    json_decref(value);
    return dumped;
}

static void test_time(void)
{
    char text[MODELS_TIME_LEN + 1];

    ok(models_time_format(1781251200000LL, text), "time whole second formatted");
    is_str(text, "2026-06-12T08:00:00.000Z", "time whole second");
    ok(models_time_format(1781251200123LL, text), "time with milliseconds formatted");
    is_str(text, "2026-06-12T08:00:00.123Z", "time with milliseconds");
    ok(models_time_format(0, text), "time epoch formatted");
    is_str(text, "1970-01-01T00:00:00.000Z", "time epoch");
    ok(models_time_format(-1, text), "time before epoch formatted");
    is_str(text, "1969-12-31T23:59:59.999Z", "time one ms before epoch");
    ok(models_time_format(253402300799999LL, text), "time last ms of 9999 formatted");
    is_str(text, "9999-12-31T23:59:59.999Z", "time last ms of 9999");
    ok(!models_time_format(253402300800000LL, text), "time in year 10000 rejected");
}

static void test_user(void)
{
    struct user user = {
        .id = "65f1c0ffee00000000000001",
        .email = "rider@example.org",
        .name = "Ana",
        .phonenumber = "+41 79 000 00 00",
        .instagram = NULL,
        .country = NULL,
        .is_verified = true,
        .password_hash = "$argon2id$v=19$secret",
        .created_at = 1781251200000LL,
    };

    is_str(dump(models_user_json(&user, true)),
           "{\"_id\":\"65f1c0ffee00000000000001\",\"email\":\"rider@example.org\",\"name\":\"Ana\","
           "\"phonenumber\":\"+41 79 000 00 00\",\"instagram\":null,\"country\":null,\"is_verified\":true}",
           "user full JSON");
    ok(strstr(dumped, "argon2id") == NULL, "user JSON holds no password hash");

    is_str(dump(models_user_json(&user, false)),
           "{\"_id\":\"65f1c0ffee00000000000001\",\"name\":\"Ana\",\"phonenumber\":\"+41 79 000 00 00\","
           "\"instagram\":null,\"country\":null,\"is_verified\":true}",
           "user public profile JSON");

    user.phonenumber = NULL;
    user.instagram = "@ana";
    user.country = "CH";
    user.is_verified = false;
    is_str(dump(models_user_json(&user, false)),
           "{\"_id\":\"65f1c0ffee00000000000001\",\"name\":\"Ana\",\"phonenumber\":null,\"instagram\":\"@ana\","
           "\"country\":\"CH\",\"is_verified\":false}",
           "user public profile other optionals");
}

static struct journey sample_journey(void)
{
    struct journey journey = {
        .id = "65f1c0ffee00000000000002",
        .user_id = "65f1c0ffee00000000000001",
        .name = "Tour Divide 2026",
        .description = "",
        .created_at = 1781251200000LL,
        .active = true,
        .completed = false,
    };
    return journey;
}

static void test_journey(void)
{
    struct journey journey = sample_journey();
    is_str(dump(models_journey_json(&journey)),
           "{\"_id\":\"65f1c0ffee00000000000002\",\"name\":\"Tour Divide 2026\",\"description\":\"\","
           "\"user_id\":\"65f1c0ffee00000000000001\",\"created_at\":\"2026-06-12T08:00:00.000Z\",\"active\":true,"
           "\"completed\":false}",
           "journey JSON");

    journey.description = NULL;
    journey.created_at = 1781251200007LL;
    ok(strstr(dump(models_journey_json(&journey)), "\"description\":\"\"") != NULL,
       "journey missing description is empty string");
    ok(strstr(dumped, "\"created_at\":\"2026-06-12T08:00:00.007Z\"") != NULL, "journey created_at milliseconds");

    journey.created_at = 253402300800000LL;
    ok(models_journey_json(&journey) == NULL, "journey with unformattable time gives NULL");

    struct journey list[2] = {sample_journey(), sample_journey()};
    list[1].id[23] = '3';
    json_t *array = models_journeys_json(list, 2);
    is_int(json_array_size(array), 2, "journey list size");
    is_str(json_string_value(json_object_get(json_array_get(array, 1), "_id")), "65f1c0ffee00000000000003",
           "journey list keeps order");
    json_decref(array);
    is_str(dump(models_journeys_json(NULL, 0)), "[]", "journey list empty");
}

static struct marker sample_marker(void)
{
    struct marker marker = {
        .id = "65f1c0ffee00000000000004",
        .journey_id = "65f1c0ffee00000000000002",
        .owner_id = "65f1c0ffee00000000000001",
        .name = "Camp",
        .marker_type = MARKER_PAST,
        .lng = -114.0,
        .lat = 51.5,
        .timestamp = "2026-06-12",
        .estimated_time = NULL,
        .notes = "",
        .created_at = 1781287200000LL,
    };
    return marker;
}

static void test_marker(void)
{
    struct marker marker = sample_marker();
    is_str(dump(models_marker_json(&marker)),
           "{\"_id\":\"65f1c0ffee00000000000004\",\"name\":\"Camp\",\"journey_id\":\"65f1c0ffee00000000000002\","
           "\"owner_id\":\"65f1c0ffee00000000000001\",\"marker_type\":\"past\","
           "\"coordinates\":{\"type\":\"Point\",\"coordinates\":[-114.0,51.5]},\"timestamp\":\"2026-06-12\","
           "\"estimated_time\":null,\"notes\":\"\",\"created_at\":\"2026-06-12T18:00:00.000Z\"}",
           "marker past JSON");

    marker.marker_type = MARKER_PLAN;
    marker.has_alt = true;
    marker.alt = 1250.5;
    marker.lng = 10;
    marker.timestamp = NULL;
    marker.estimated_time = "2026-07-01";
    marker.notes = "water at the creek";
    is_str(dump(models_marker_json(&marker)),
           "{\"_id\":\"65f1c0ffee00000000000004\",\"name\":\"Camp\",\"journey_id\":\"65f1c0ffee00000000000002\","
           "\"owner_id\":\"65f1c0ffee00000000000001\",\"marker_type\":\"plan\","
           "\"coordinates\":{\"type\":\"Point\",\"coordinates\":[10.0,51.5,1250.5]},\"timestamp\":null,"
           "\"estimated_time\":\"2026-07-01\",\"notes\":\"water at the creek\","
           "\"created_at\":\"2026-06-12T18:00:00.000Z\"}",
           "marker plan JSON with altitude");

    marker = sample_marker();
    marker.lng = 179.9;
    marker.lat = -33.123456789;
    json_t *json = models_marker_json(&marker);
    json_t *numbers = json_object_get(json_object_get(json, "coordinates"), "coordinates");
    ok(json_is_real(json_array_get(numbers, 0)), "marker longitude is a JSON real");
    is_near(json_real_value(json_array_get(numbers, 0)), 179.9, 0, "marker longitude exact");
    is_near(json_real_value(json_array_get(numbers, 1)), -33.123456789, 0, "marker latitude exact");
    json_decref(json);

    struct marker list[3] = {sample_marker(), sample_marker(), sample_marker()};
    json_t *array = models_markers_json(list, 3);
    is_int(json_array_size(array), 3, "marker list size");
    json_decref(array);

    list[2].created_at = 253402300800000LL;
    ok(models_markers_json(list, 3) == NULL, "marker list with unformattable time gives NULL");
}

int main(void)
{
    test_time();
    test_user();
    test_journey();
    test_marker();
    return tap_done();
}
