/*
 * Unit tests of server/validate.c: every rule that turns a request body or
 * query value into a 422, with the exact loc and message, and the model
 * fields that valid input fills.
 */
#include <stdlib.h>

#include "server/validate.h"
#include "t/unit/tap.h"

static struct pool *pool;

/* The loc of err joined with '/', e.g. "body/coordinates/coordinates". */
static const char *loc_of(const struct validation_error *err)
{
    static char text[256];
    text[0] = '\0';
    for (size_t i = 0; i < 5 && err->loc[i] != NULL; i++) {
        if (i > 0)
            strcat(text, "/");
        strncat(text, err->loc[i], sizeof(text) - strlen(text) - 2);
    }
    return text;
}

/* Parses text, which must be a valid JSON object (the test exits with 2 otherwise). */
static json_t *object(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, 0, &error);
    if (value == NULL) {
        printf("# bad test JSON: %s\n", error.text);
        exit(2);
    }
    return value;
}

static void test_json_object(void)
{
    struct validation_error err;
    json_t *value = NULL;

    ok(validate_json_object(pool, "{\"a\": 1}", 8, &value, &err), "json object accepted");
    ok(json_is_object(value), "json object returned");
    json_decref(value);

    ok(!validate_json_object(pool, "{\"a\": ", 6, &value, &err), "json truncated rejected");
    is_str(loc_of(&err), "body", "json truncated loc");
    ok(strncmp(err.msg, "body is not valid JSON: ", 24) == 0, "json truncated message");
    ok(value == NULL, "json truncated returns no value");

    ok(!validate_json_object(pool, "{\"a\": \"x\\u0000y\"}", 16, &value, &err), "json NUL escape rejected");
    ok(strstr(err.msg, "must not contain \\u0000") != NULL, "json NUL message names the escape");
    ok(strstr(err.msg, "JSON_ALLOW_NUL") == NULL, "json NUL message names no decoder flag");

    ok(!validate_json_object(pool, "{\"a\": 1e999}", 12, &value, &err), "json overflowing number rejected");
    ok(strstr(err.msg, "a number is too large") != NULL, "json overflow message");

    ok(!validate_json_object(pool, "[1, 2]", 6, &value, &err), "json array rejected");
    is_str(loc_of(&err), "body", "json array loc");
    is_str(err.msg, "body must be a JSON object", "json array message");

    ok(!validate_json_object(pool, "\"text\"", 6, &value, &err), "json string rejected");
    is_str(err.msg, "body must be a JSON object", "json string message");

    ok(!validate_json_object(pool, "", 0, &value, &err), "empty body rejected");
    is_str(err.msg, "body is missing: send a JSON object", "empty body message");

    ok(!validate_json_object(pool, "{} {}", 5, &value, &err), "json trailing data rejected");

    /* 32 nested levels: the outer object and 31 arrays. */
    char deep[128] = "{\"a\":";
    for (int i = 0; i < 31; i++)
        strcat(deep, "[");
    for (int i = 0; i < 31; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    ok(validate_json_object(pool, deep, strlen(deep), &value, &err), "json depth 32 accepted");
    json_decref(value);

    char deeper[128] = "{\"a\":";
    for (int i = 0; i < 32; i++)
        strcat(deeper, "[");
    for (int i = 0; i < 32; i++)
        strcat(deeper, "]");
    strcat(deeper, "}");
    ok(!validate_json_object(pool, deeper, strlen(deeper), &value, &err), "json depth 33 rejected");
    is_str(loc_of(&err), "body", "json depth 33 loc");
    is_str(err.msg, "body nests deeper than 32 levels", "json depth 33 message");
}

static void test_email(void)
{
    ok(validate_email("rider@example.org") == NULL, "email plain accepted");
    ok(validate_email("a.b+c@mail.example.co") == NULL, "email with plus and dots accepted");
    is_str(validate_email(""), "email must not be empty", "email empty rejected");
    is_str(validate_email("rider.example.org"), "email must contain exactly one @", "email without @ rejected");
    is_str(validate_email("a@b@example.org"), "email must contain exactly one @", "email with two @ rejected");
    is_str(validate_email("@example.org"), "email must have a local part before the @", "email without local part");
    is_str(validate_email("rider@"), "email must have a domain after the @", "email without domain");
    is_str(validate_email("rider@localhost"), "email domain must contain a dot", "email domain without dot");
    ok(validate_email("rider@.example") != NULL, "email domain leading dot rejected");
    ok(validate_email("rider@example.") != NULL, "email domain trailing dot rejected");
    ok(validate_email("rider@example..org") != NULL, "email domain double dot rejected");
    is_str(validate_email("ri der@example.org"), "email must not contain spaces or control characters",
           "email with space rejected");
    ok(validate_email("rider@exa\tmple.org") != NULL, "email with tab rejected");
    is_str(validate_email("\xffrider@example.org"), "email must be valid UTF-8", "email with byte 0xff rejected");
    is_str(validate_email("rid\xc3"
                          "er@example.org"),
           "email must be valid UTF-8", "email with cut sequence rejected");
    ok(validate_email("z\xc3\xbcrich@example.org") == NULL, "email with UTF-8 letter accepted");

    ok(validate_utf8("", 0), "utf8 empty accepted");
    ok(validate_utf8("caf\xc3\xa9", 5), "utf8 two-byte sequence accepted");
    ok(!validate_utf8("\xc0\xaf", 2), "utf8 overlong form rejected");
    ok(!validate_utf8("\xed\xa0\x80", 3), "utf8 surrogate rejected");

    char email[300];
    memset(email, 'a', sizeof(email));
    memcpy(email + 254 - 12, "@example.org", 13); /* 254 bytes */
    ok(validate_email(email) == NULL, "email of 254 bytes accepted");
    memset(email, 'a', sizeof(email));
    memcpy(email + 255 - 12, "@example.org", 13); /* 255 bytes */
    is_str(validate_email(email), "email must be at most 254 bytes long", "email of 255 bytes rejected");
}

static void test_date(void)
{
    ok(validate_date("2026-06-12"), "date ordinary accepted");
    ok(validate_date("2024-02-29"), "date leap day accepted");
    ok(validate_date("2000-02-29"), "date leap day of 2000 accepted");
    ok(!validate_date("1900-02-29"), "date leap day of 1900 rejected");
    ok(!validate_date("2023-02-29"), "date leap day of common year rejected");
    ok(!validate_date("2026-04-31"), "date April 31 rejected");
    ok(validate_date("2026-12-31"), "date December 31 accepted");
    ok(!validate_date("2026-13-01"), "date month 13 rejected");
    ok(!validate_date("2026-00-10"), "date month 0 rejected");
    ok(!validate_date("2026-01-00"), "date day 0 rejected");
    ok(!validate_date("0000-01-01"), "date year 0 rejected");
    ok(!validate_date("2026-6-12"), "date without padding rejected");
    ok(!validate_date("2026-06-12T00:00:00Z"), "date with time rejected");
    ok(!validate_date("2026/06/12"), "date with slashes rejected");
    ok(!validate_date(""), "date empty rejected");
}

static void test_max_distance(void)
{
    struct validation_error err;
    double metres = 0;

    ok(validate_max_distance(NULL, &metres, &err), "max_distance absent accepted");
    is_near(metres, 500000, 0, "max_distance default is 500 km");
    ok(validate_max_distance("1000", &metres, &err), "max_distance 1000 accepted");
    is_near(metres, 1000, 0, "max_distance 1000 parsed");
    ok(validate_max_distance("2.5e3", &metres, &err), "max_distance exponent accepted");
    is_near(metres, 2500, 0, "max_distance exponent parsed");
    ok(validate_max_distance("2000000", &metres, &err), "max_distance at maximum accepted");

    ok(!validate_max_distance("2000000.5", &metres, &err), "max_distance above maximum rejected");
    is_str(loc_of(&err), "query/max_distance", "max_distance above maximum loc");
    is_str(err.msg, "max_distance must be at most 2000000 metres", "max_distance above maximum message");

    ok(!validate_max_distance("0", &metres, &err), "max_distance 0 rejected");
    is_str(loc_of(&err), "query/max_distance", "max_distance 0 loc");
    is_str(err.msg, "max_distance must be greater than 0", "max_distance 0 message");
    ok(!validate_max_distance("-10", &metres, &err), "max_distance negative rejected");

    const char *malformed[] = {"", "abc", "10km", "inf", "nan", "0x10", "1e999"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        ok(!validate_max_distance(malformed[i], &metres, &err), "max_distance malformed rejected");
        is_str(err.msg, "max_distance must be a number of metres", "max_distance malformed message");
    }
}

/* Runs validate_user_register on text; fills err on failure. */
static bool register_body(const char *text, struct user *user, struct validation_error *err)
{
    json_t *body = object(text);
    memset(user, 0, sizeof(*user));
    const char *password = NULL;
    size_t password_len = 0;
    bool valid = validate_user_register(pool, body, user, &password, &password_len, err);
    json_decref(body);
    return valid;
}

static void test_user_register(void)
{
    struct user user;
    struct validation_error err;

    ok(register_body("{\"email\":\"  Rider@Example.org \",\"name\":\"Ana\",\"password\":\"correct horse\","
                     "\"phonenumber\":\"+41 79\",\"instagram\":null,\"is_verified\":true}",
                     &user, &err),
       "register valid body accepted");
    is_str(user.email, "Rider@Example.org", "register email trimmed, case kept");
    is_str(user.name, "Ana", "register name");
    is_str(user.phonenumber, "+41 79", "register phonenumber");
    ok(user.instagram == NULL, "register instagram null");
    ok(user.country == NULL, "register country absent");
    ok(!user.is_verified, "register ignores is_verified");

    ok(!register_body("{\"name\":\"Ana\",\"password\":\"correct horse\"}", &user, &err), "register email missing");
    is_str(loc_of(&err), "body/email", "register email missing loc");
    is_str(err.msg, "email is required", "register email missing message");

    ok(!register_body("{\"email\":5,\"name\":\"Ana\",\"password\":\"correct horse\"}", &user, &err),
       "register email number");
    is_str(err.msg, "email must be a string", "register email number message");

    ok(!register_body("{\"email\":\"nobody\",\"name\":\"Ana\",\"password\":\"correct horse\"}", &user, &err),
       "register email invalid");
    is_str(loc_of(&err), "body/email", "register email invalid loc");

    ok(!register_body("{\"email\":\"a@b.example\",\"password\":\"correct horse\"}", &user, &err),
       "register name missing");
    is_str(loc_of(&err), "body/name", "register name missing loc");
    is_str(err.msg, "name is required", "register name missing message");

    ok(!register_body("{\"email\":\"a@b.example\",\"name\":\"\",\"password\":\"correct horse\"}", &user, &err),
       "register name empty");
    is_str(err.msg, "name must not be empty", "register name empty message");

    ok(!register_body("{\"email\":\"a@b.example\",\"name\":[],\"password\":\"correct horse\"}", &user, &err),
       "register name array");
    is_str(err.msg, "name must be a string", "register name array message");

    char text[512];
    char name[202];
    memset(name, 'n', 200);
    name[200] = '\0';
    snprintf(text, sizeof(text), "{\"email\":\"a@b.example\",\"name\":\"%s\",\"password\":\"correct horse\"}", name);
    ok(register_body(text, &user, &err), "register name of 200 bytes accepted");
    strcat(name, "n");
    snprintf(text, sizeof(text), "{\"email\":\"a@b.example\",\"name\":\"%s\",\"password\":\"correct horse\"}", name);
    ok(!register_body(text, &user, &err), "register name of 201 bytes rejected");
    is_str(err.msg, "name must be at most 200 bytes long", "register name too long message");

    ok(!register_body("{\"email\":\"a@b.example\",\"name\":\"Ana\"}", &user, &err), "register password missing");
    is_str(loc_of(&err), "body/password", "register password missing loc");

    ok(!register_body("{\"email\":\"a@b.example\",\"name\":\"Ana\",\"password\":\"short\"}", &user, &err),
       "register password short");
    is_str(loc_of(&err), "body/password", "register password short loc");
    is_str(err.msg, "password must be at least 8 bytes long", "register password short message");

    ok(!register_body("{\"email\":\"a@b.example\",\"name\":\"Ana\",\"password\":\"correct horse\",\"country\":1}",
                      &user, &err),
       "register country number");
    is_str(loc_of(&err), "body/country", "register country number loc");
    is_str(err.msg, "country must be a string", "register country number message");
}

static bool update_body(const char *text, struct user_update *update, struct validation_error *err)
{
    json_t *body = object(text);
    bool valid = validate_user_update(pool, body, "Rider@Example.org", update, err);
    json_decref(body);
    return valid;
}

static void test_user_update(void)
{
    struct user_update update;
    struct validation_error err;

    ok(update_body("{\"_id\":\"x\",\"email\":\" rider@example.ORG\",\"name\":\"Ana B\",\"phonenumber\":null,"
                   "\"instagram\":\"@ana\",\"password\":\"x\",\"is_verified\":true}",
                   &update, &err),
       "user update whole object accepted");
    is_str(update.name, "Ana B", "user update name");
    ok(update.phonenumber == NULL && update.clear_phonenumber, "user update null clears phonenumber");
    is_str(update.instagram, "@ana", "user update instagram");
    ok(!update.clear_instagram, "user update instagram not cleared");
    ok(update.country == NULL && !update.clear_country, "user update absent country untouched");

    ok(update_body("{}", &update, &err), "user update empty object accepted");
    ok(update.name == NULL, "user update absent name untouched");

    ok(!update_body("{\"email\":\"other@example.org\"}", &update, &err), "user update email change rejected");
    is_str(loc_of(&err), "body/email", "user update email change loc");
    is_str(err.msg, "changing the email is not supported", "user update email change message");

    ok(update_body("{\"email\":null}", &update, &err), "user update null email ignored");

    ok(!update_body("{\"name\":null}", &update, &err), "user update null name rejected");
    is_str(loc_of(&err), "body/name", "user update null name loc");
    ok(!update_body("{\"instagram\":true}", &update, &err), "user update instagram bool rejected");
    is_str(err.msg, "instagram must be a string", "user update instagram bool message");
}

static bool journey_body(const char *text, struct journey *journey, struct validation_error *err)
{
    json_t *body = object(text);
    memset(journey, 0, sizeof(*journey));
    bool valid = validate_journey_create(pool, body, journey, err);
    json_decref(body);
    return valid;
}

static void test_journey_create(void)
{
    struct journey journey;
    struct validation_error err;

    ok(journey_body("{\"name\":\"Tour Divide\",\"user_id\":\"ignored\"}", &journey, &err), "journey minimal accepted");
    is_str(journey.name, "Tour Divide", "journey name");
    is_str(journey.description, "", "journey description defaults to empty");
    ok(!journey.active && !journey.completed, "journey flags default to false");
    is_str(journey.user_id, "", "journey user_id from body ignored");

    ok(journey_body("{\"name\":\"T\",\"description\":null,\"active\":true,\"completed\":false}", &journey, &err),
       "journey full accepted");
    is_str(journey.description, "", "journey null description is empty");
    ok(journey.active, "journey active set");

    ok(!journey_body("{\"description\":\"x\"}", &journey, &err), "journey name missing");
    is_str(loc_of(&err), "body/name", "journey name missing loc");
    is_str(err.msg, "name is required", "journey name missing message");

    ok(!journey_body("{\"name\":\"T\",\"active\":\"yes\"}", &journey, &err), "journey active string");
    is_str(loc_of(&err), "body/active", "journey active string loc");
    is_str(err.msg, "active must be true or false", "journey active string message");

    ok(!journey_body("{\"name\":\"T\",\"active\":true,\"completed\":true}", &journey, &err),
       "journey active and completed rejected");
    is_str(loc_of(&err), "body/active", "journey active and completed loc");

    char *text = malloc(10100);
    strcpy(text, "{\"name\":\"T\",\"description\":\"");
    size_t len = strlen(text);
    memset(text + len, 'd', 10000);
    strcpy(text + len + 10000, "\"}");
    ok(journey_body(text, &journey, &err), "journey description of 10000 bytes accepted");
    memset(text + len, 'd', 10001);
    strcpy(text + len + 10001, "\"}");
    ok(!journey_body(text, &journey, &err), "journey description of 10001 bytes rejected");
    is_str(loc_of(&err), "body/description", "journey long description loc");
    is_str(err.msg, "description must be at most 10000 bytes long", "journey long description message");
    free(text);
}

static bool journey_update_body(const char *text, struct journey_update *update, struct validation_error *err)
{
    json_t *body = object(text);
    bool valid = validate_journey_update(pool, body, update, err);
    json_decref(body);
    return valid;
}

static void test_journey_update(void)
{
    struct journey_update update;
    struct validation_error err;

    ok(journey_update_body("{}", &update, &err), "journey update empty accepted");
    ok(!update.has_name && !update.has_description && !update.has_completed, "journey update empty changes nothing");

    ok(journey_update_body("{\"name\":\"New\",\"completed\":false}", &update, &err), "journey update fields");
    ok(update.has_name && update.has_completed && !update.has_description, "journey update flags");
    is_str(update.name, "New", "journey update name");
    ok(!update.completed, "journey update completed value");

    ok(journey_update_body("{\"description\":null}", &update, &err), "journey update null description");
    ok(update.has_description, "journey update null description applies");
    is_str(update.description, "", "journey update null description is empty");

    ok(!journey_update_body("{\"completed\":null}", &update, &err), "journey update null completed rejected");
    is_str(loc_of(&err), "body/completed", "journey update null completed loc");
    ok(!journey_update_body("{\"name\":\"\"}", &update, &err), "journey update empty name rejected");
    is_str(loc_of(&err), "body/name", "journey update empty name loc");
}

static bool marker_body(const char *text, struct marker *marker, struct validation_error *err)
{
    json_t *body = object(text);
    memset(marker, 0, sizeof(*marker));
    bool valid = validate_marker(pool, body, marker, err);
    json_decref(body);
    return valid;
}

/* A valid marker body with `coordinates` and `extra` members spliced in. */
static const char *marker_text(const char *coordinates, const char *extra)
{
    static char text[1024];
    snprintf(text, sizeof(text), "{\"name\":\"Camp\",\"marker_type\":\"past\",\"coordinates\":%s%s%s}", coordinates,
             extra[0] ? "," : "", extra);
    return text;
}

static void test_marker(void)
{
    struct marker marker;
    struct validation_error err;
    const char *point = "{\"type\":\"Point\",\"coordinates\":[-114.0,51.1]}";

    ok(marker_body(marker_text(point, "\"timestamp\":\"2026-06-12\",\"journey_id\":\"x\",\"owner_id\":\"y\""), &marker,
                   &err),
       "marker valid accepted");
    is_str(marker.name, "Camp", "marker name");
    ok(marker.marker_type == MARKER_PAST, "marker type past");
    is_near(marker.lng, -114.0, 0, "marker longitude");
    is_near(marker.lat, 51.1, 0, "marker latitude");
    ok(!marker.has_alt, "marker without altitude");
    is_str(marker.timestamp, "2026-06-12", "marker timestamp");
    ok(marker.estimated_time == NULL, "marker estimated_time absent");
    is_str(marker.notes, "", "marker notes default empty");
    is_str(marker.journey_id, "", "marker journey_id from body ignored");
    is_str(marker.owner_id, "", "marker owner_id from body ignored");

    ok(marker_body("{\"name\":\"Plan\",\"marker_type\":\"plan\",\"coordinates\":{\"type\":\"Point\","
                   "\"coordinates\":[10,20,1500.5]},\"estimated_time\":\"2026-07-01\",\"timestamp\":null,"
                   "\"notes\":\"water\"}",
                   &marker, &err),
       "marker plan with altitude accepted");
    ok(marker.marker_type == MARKER_PLAN, "marker type plan");
    ok(marker.has_alt, "marker altitude kept");
    is_near(marker.alt, 1500.5, 0, "marker altitude value");
    is_near(marker.lng, 10, 0, "marker integer longitude");
    is_str(marker.estimated_time, "2026-07-01", "marker estimated_time");
    ok(marker.timestamp == NULL, "marker null timestamp");
    is_str(marker.notes, "water", "marker notes");

    ok(marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[180,-90]}", ""), &marker, &err),
       "marker edge coordinates accepted");

    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[180.5,10]}", ""), &marker, &err),
       "marker longitude 180.5 rejected");
    is_str(loc_of(&err), "body/coordinates/coordinates", "marker longitude loc");
    is_str(err.msg, "longitude must be between -180 and 180", "marker longitude message");

    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[10,-90.1]}", ""), &marker, &err),
       "marker latitude -90.1 rejected");
    is_str(loc_of(&err), "body/coordinates/coordinates", "marker latitude loc");
    is_str(err.msg, "latitude must be between -90 and 90", "marker latitude message");

    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[10]}", ""), &marker, &err),
       "marker one number rejected");
    is_str(loc_of(&err), "body/coordinates/coordinates", "marker one number loc");
    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[1,2,3,4]}", ""), &marker, &err),
       "marker four numbers rejected");
    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":[\"1\",2]}", ""), &marker, &err),
       "marker string number rejected");
    is_str(err.msg, "coordinates must be finite numbers", "marker string number message");
    ok(!marker_body(marker_text("{\"type\":\"Point\",\"coordinates\":{\"lng\":1}}", ""), &marker, &err),
       "marker coordinates object rejected");

    ok(!marker_body(marker_text("{\"type\":\"point\",\"coordinates\":[1,2]}", ""), &marker, &err),
       "marker type point lowercase rejected");
    is_str(loc_of(&err), "body/coordinates/type", "marker point type loc");
    is_str(err.msg, "coordinates type must be \"Point\"", "marker point type message");

    ok(!marker_body(marker_text("[1,2]", ""), &marker, &err), "marker coordinates array rejected");
    is_str(loc_of(&err), "body/coordinates", "marker coordinates array loc");
    ok(!marker_body("{\"name\":\"Camp\",\"marker_type\":\"past\"}", &marker, &err), "marker coordinates missing");
    is_str(loc_of(&err), "body/coordinates", "marker coordinates missing loc");
    is_str(err.msg, "coordinates is required", "marker coordinates missing message");

    ok(!marker_body("{\"name\":\"Camp\",\"marker_type\":\"future\",\"coordinates\":{}}", &marker, &err),
       "marker type future rejected");
    is_str(loc_of(&err), "body/marker_type", "marker type future loc");
    is_str(err.msg, "marker_type must be \"past\" or \"plan\"", "marker type future message");
    ok(!marker_body("{\"name\":\"Camp\",\"coordinates\":{}}", &marker, &err), "marker type missing");
    is_str(err.msg, "marker_type is required", "marker type missing message");
    ok(!marker_body("{\"marker_type\":\"past\"}", &marker, &err), "marker name missing");
    is_str(loc_of(&err), "body/name", "marker name missing loc");

    ok(!marker_body(marker_text(point, "\"timestamp\":\"2026-02-30\""), &marker, &err), "marker bad date rejected");
    is_str(loc_of(&err), "body/timestamp", "marker bad date loc");
    is_str(err.msg, "timestamp must be a calendar date in the form YYYY-MM-DD", "marker bad date message");
    ok(!marker_body(marker_text(point, "\"estimated_time\":20260612"), &marker, &err), "marker numeric date rejected");
    is_str(loc_of(&err), "body/estimated_time", "marker numeric date loc");

    char *text = malloc(10300);
    int len =
        snprintf(text, 10300, "{\"name\":\"Camp\",\"marker_type\":\"past\",\"coordinates\":%s,\"notes\":\"", point);
    memset(text + len, 'x', 10000);
    strcpy(text + len + 10000, "\"}");
    ok(marker_body(text, &marker, &err), "marker notes of 10000 bytes accepted");
    memset(text + len, 'x', 10001);
    strcpy(text + len + 10001, "\"}");
    ok(!marker_body(text, &marker, &err), "marker notes of 10001 bytes rejected");
    is_str(loc_of(&err), "body/notes", "marker long notes loc");
    free(text);
}

int main(void)
{
    pool = pool_create();
    test_json_object();
    test_email();
    test_date();
    test_max_distance();
    test_user_register();
    test_user_update();
    test_journey_create();
    test_journey_update();
    test_marker();
    pool_destroy(pool);
    return tap_done();
}
