/*
 * Backend-independent tests of the storage vtable. storage_suite_run() uses
 * only s->ops, so every backend runs the same checks: storage_spatialite.c
 * on a fresh file, storage_mongo.c against KAIROS_TEST_MONGO_URI. Emails carry
 * a fresh id so runs against a shared database do not collide, and every user
 * created is deleted at the end.
 */
#ifndef KAIROS_STORAGE_SUITE_H
#define KAIROS_STORAGE_SUITE_H

#include <stdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "storage/id.h"
#include "storage/pool.h"
#include "storage/storage.h"
#include "t/unit/tap.h"

#define SUITE_HASH      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
#define SUITE_MAX_USERS 16

struct suite {
    struct storage *s;
    char tag[ID_HEX_LEN + 1]; /* makes this run's emails unique */
    char users[SUITE_MAX_USERS][ID_HEX_LEN + 1];
    size_t user_count;
};

/* Creates a user "<local>-<tag>@example.test"; out receives its id (empty on failure). */
static void suite_user(struct suite *t, const char *local, char out[ID_HEX_LEN + 1])
{
    char email[128];
    snprintf(email, sizeof(email), "%s-%s@example.test", local, t->tag);
    struct user user = {.email = email, .name = (char *)local, .password_hash = SUITE_HASH};
    out[0] = '\0';
    if (t->s->ops->user_create(t->s, &user) == KAIROS_OK) {
        memcpy(out, user.id, ID_HEX_LEN + 1);
        if (t->user_count < SUITE_MAX_USERS)
            memcpy(t->users[t->user_count++], user.id, ID_HEX_LEN + 1);
    }
}

static void suite_journey(struct suite *t, const char *user_id, const char *name, bool active, char out[ID_HEX_LEN + 1])
{
    struct journey journey = {.name = (char *)name, .description = "", .active = active};
    memcpy(journey.user_id, user_id, ID_HEX_LEN + 1);
    out[0] = '\0';
    if (t->s->ops->journey_create(t->s, &journey) == KAIROS_OK)
        memcpy(out, journey.id, ID_HEX_LEN + 1);
}

static enum kairos_error suite_marker(struct suite *t, const char *journey_id, const char *owner_id, double lng,
                                      double lat, char out[ID_HEX_LEN + 1])
{
    struct marker marker = {.name = "camp", .marker_type = MARKER_PAST, .lng = lng, .lat = lat, .notes = ""};
    memcpy(marker.journey_id, journey_id, ID_HEX_LEN + 1);
    memcpy(marker.owner_id, owner_id, ID_HEX_LEN + 1);
    enum kairos_error err = t->s->ops->marker_create(t->s, &marker);
    if (out != NULL)
        memcpy(out, err == KAIROS_OK ? marker.id : "", err == KAIROS_OK ? ID_HEX_LEN + 1 : 1);
    return err;
}

/* Journeys are created a few milliseconds apart so "newest first" does not rest on a tie-break. */
static void suite_pause(void)
{
    usleep(5000);
}

static void suite_users(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char email[128], upper[128], lower[128];
    snprintf(email, sizeof(email), "A-%s@B.example", t->tag);
    snprintf(upper, sizeof(upper), " A-%s@B.example ", t->tag);
    snprintf(lower, sizeof(lower), "a-%s@b.example", t->tag);

    struct user user = {.email = upper, .name = "Ann", .password_hash = SUITE_HASH};
    is_int(s->ops->user_create(s, &user), KAIROS_OK, "user_create succeeds");
    ok(id_is_valid(user.id), "user_create fills a valid id");
    ok(user.created_at > 0, "user_create fills created_at");
    if (t->user_count < SUITE_MAX_USERS)
        memcpy(t->users[t->user_count++], user.id, ID_HEX_LEN + 1);

    struct user twin = {.email = lower, .name = "Twin", .password_hash = SUITE_HASH};
    is_int(s->ops->user_create(s, &twin), KAIROS_ERR_DUPLICATE, "user_create rejects the same email in another case");

    struct user got;
    is_int(s->ops->user_get_by_email(s, pool, lower, &got), KAIROS_OK, "user_get_by_email ignores case and spaces");
    is_str(got.id, user.id, "user_get_by_email finds the same user");
    is_str(got.email, email, "email is stored as registered, trimmed");

    is_int(s->ops->user_get(s, pool, user.id, &got), KAIROS_OK, "user_get finds the user");
    is_str(got.name, "Ann", "user_get returns the name");
    is_str(got.password_hash, SUITE_HASH, "user_get returns the password hash");
    ok(got.phonenumber == NULL && got.instagram == NULL && got.country == NULL, "optional fields start null");
    ok(!got.is_verified, "a new user is not verified");
    is_int(got.created_at, user.created_at, "user_get returns created_at");

    char unknown[ID_HEX_LEN + 1];
    id_generate(unknown);
    is_int(s->ops->user_get(s, pool, unknown, &got), KAIROS_ERR_NOT_FOUND, "user_get of an unknown id");
    is_int(s->ops->user_get_by_email(s, pool, "nobody-at-all@example.test", &got), KAIROS_ERR_NOT_FOUND,
           "user_get_by_email of an unknown address");

    struct user_update update = {
        .name = "Anna", .phonenumber = "+41 79 000 00 00", .instagram = "anna.rides", .country = "CH"};
    is_int(s->ops->user_update(s, user.id, &update), KAIROS_OK, "user_update sets every field");
    s->ops->user_get(s, pool, user.id, &got);
    is_str(got.name, "Anna", "user_update changed the name");
    is_str(got.phonenumber, "+41 79 000 00 00", "user_update set the phone number");
    is_str(got.instagram, "anna.rides", "user_update set instagram");
    is_str(got.country, "CH", "user_update set the country");

    struct user_update clear = {.clear_phonenumber = true, .clear_country = true};
    is_int(s->ops->user_update(s, user.id, &clear), KAIROS_OK, "user_update clears fields");
    s->ops->user_get(s, pool, user.id, &got);
    ok(got.phonenumber == NULL, "cleared phone number is null");
    ok(got.country == NULL, "cleared country is null");
    is_str(got.instagram, "anna.rides", "a field neither set nor cleared is kept");
    is_str(got.name, "Anna", "a null name leaves the name as it was");
    is_int(s->ops->user_update(s, unknown, &update), KAIROS_ERR_NOT_FOUND, "user_update of an unknown id");

    is_int(s->ops->user_set_password(s, user.id, "$argon2id$new"), KAIROS_OK, "user_set_password succeeds");
    s->ops->user_get(s, pool, user.id, &got);
    is_str(got.password_hash, "$argon2id$new", "user_set_password stored the hash");
    is_int(s->ops->user_set_password(s, unknown, "$argon2id$new"), KAIROS_ERR_NOT_FOUND,
           "user_set_password of an unknown id");

    is_int(s->ops->user_set_verified(s, user.id), KAIROS_OK, "user_set_verified succeeds");
    s->ops->user_get(s, pool, user.id, &got);
    ok(got.is_verified, "user_set_verified marks the user verified");
    is_int(s->ops->user_set_verified(s, unknown), KAIROS_ERR_NOT_FOUND, "user_set_verified of an unknown id");
    pool_destroy(pool);
}

static bool suite_is_active(struct storage *s, struct pool *pool, const char *journey_id)
{
    struct journey journey;
    return s->ops->journey_get(s, pool, journey_id, &journey) == KAIROS_OK && journey.active;
}

static void suite_journeys_activity(struct suite *t, const char *user_id, const char *j1, const char *j2)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    struct journey got;
    bool now_active = false;

    char j3[ID_HEX_LEN + 1];
    suite_journey(t, user_id, "third", true, j3);
    ok(suite_is_active(s, pool, j3), "journey created active is active");
    ok(!suite_is_active(s, pool, j2), "creating an active journey deactivates the other");
    is_int(s->ops->journey_get_active(s, pool, user_id, &got), KAIROS_OK, "journey_get_active finds one");
    is_str(got.id, j3, "the active journey is the newest active one");

    is_int(s->ops->journey_toggle_active(s, j3, &now_active), KAIROS_OK, "toggle an active journey");
    ok(!now_active, "toggle reports it inactive");
    is_int(s->ops->journey_get_active(s, pool, user_id, &got), KAIROS_ERR_NOT_FOUND, "no active journey is left");

    is_int(s->ops->journey_toggle_active(s, j1, &now_active), KAIROS_OK, "toggle an inactive journey");
    ok(now_active, "toggle reports it active");
    is_int(s->ops->journey_toggle_active(s, j2, &now_active), KAIROS_OK, "toggle a second journey");
    ok(suite_is_active(s, pool, j2), "the second journey is active");
    ok(!suite_is_active(s, pool, j1), "activating it deactivated the first");

    struct journey_update complete = {.has_completed = true, .completed = true};
    is_int(s->ops->journey_update(s, j1, &complete), KAIROS_OK, "mark an inactive journey completed");
    is_int(s->ops->journey_toggle_active(s, j1, &now_active), KAIROS_ERR_CONFLICT,
           "toggle of a completed journey is a conflict");
    ok(suite_is_active(s, pool, j2), "the failed toggle left the other journey active");

    is_int(s->ops->journey_update(s, j2, &complete), KAIROS_OK, "mark the active journey completed");
    s->ops->journey_get(s, pool, j2, &got);
    ok(got.completed, "the journey is completed");
    ok(!got.active, "completing a journey makes it inactive");
    is_int(s->ops->journey_get_active(s, pool, user_id, &got), KAIROS_ERR_NOT_FOUND,
           "no active journey after completing it");

    char unknown[ID_HEX_LEN + 1];
    id_generate(unknown);
    is_int(s->ops->journey_toggle_active(s, unknown, &now_active), KAIROS_ERR_NOT_FOUND, "toggle of an unknown id");
    pool_destroy(pool);
}

static void suite_journeys(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char user_id[ID_HEX_LEN + 1], j1[ID_HEX_LEN + 1], j2[ID_HEX_LEN + 1];
    suite_user(t, "rider", user_id);

    struct journey journey = {.name = "Tour Divide", .description = NULL};
    memcpy(journey.user_id, user_id, ID_HEX_LEN + 1);
    is_int(s->ops->journey_create(s, &journey), KAIROS_OK, "journey_create succeeds");
    ok(id_is_valid(journey.id), "journey_create fills a valid id");
    ok(journey.created_at > 0, "journey_create fills created_at");
    memcpy(j1, journey.id, ID_HEX_LEN + 1);

    struct journey got;
    is_int(s->ops->journey_get(s, pool, j1, &got), KAIROS_OK, "journey_get finds the journey");
    is_str(got.name, "Tour Divide", "journey_get returns the name");
    is_str(got.description, "", "a missing description reads as empty");
    is_str(got.user_id, user_id, "journey_get returns the owner");
    ok(!got.active && !got.completed, "a new journey is neither active nor completed");

    suite_pause();
    suite_journey(t, user_id, "second", true, j2);
    struct journey *list = NULL;
    size_t count = 0;
    is_int(s->ops->journey_list_by_user(s, pool, user_id, &list, &count), KAIROS_OK, "journey_list_by_user");
    is_int(count, 2, "the list holds both journeys");
    if (count == 2) {
        is_str(list[0].id, j2, "newest journey first");
        is_str(list[1].id, j1, "oldest journey last");
    }

    struct journey_update rename = {
        .has_name = true, .name = "Great Divide", .has_description = true, .description = "Banff to Antelope Wells"};
    is_int(s->ops->journey_update(s, j1, &rename), KAIROS_OK, "journey_update renames");
    s->ops->journey_get(s, pool, j1, &got);
    is_str(got.name, "Great Divide", "journey_update set the name");
    is_str(got.description, "Banff to Antelope Wells", "journey_update set the description");
    ok(!got.completed, "journey_update without has_completed keeps completed");
    struct journey_update describe = {.has_description = true, .description = "again"};
    s->ops->journey_update(s, j1, &describe);
    s->ops->journey_get(s, pool, j1, &got);
    is_str(got.name, "Great Divide", "journey_update without has_name keeps the name");

    suite_pause();
    suite_journeys_activity(t, user_id, j1, j2);

    char unknown[ID_HEX_LEN + 1];
    id_generate(unknown);
    is_int(s->ops->journey_get(s, pool, unknown, &got), KAIROS_ERR_NOT_FOUND, "journey_get of an unknown id");
    is_int(s->ops->journey_update(s, unknown, &rename), KAIROS_ERR_NOT_FOUND, "journey_update of an unknown id");
    is_int(s->ops->journey_list_by_user(s, pool, unknown, &list, &count), KAIROS_OK,
           "journey_list_by_user of a user without journeys");
    is_int(count, 0, "that list is empty");

    char doomed[ID_HEX_LEN + 1];
    suite_journey(t, user_id, "doomed", false, doomed);
    suite_marker(t, doomed, user_id, 1, 2, NULL);
    suite_marker(t, doomed, user_id, 1.1, 2, NULL);
    is_int(s->ops->journey_delete(s, doomed), KAIROS_OK, "journey_delete succeeds");
    is_int(s->ops->journey_get(s, pool, doomed, &got), KAIROS_ERR_NOT_FOUND, "the deleted journey is gone");
    struct marker *markers = NULL;
    s->ops->marker_list_by_journey(s, pool, doomed, &markers, &count);
    is_int(count, 0, "journey_delete removed its markers");
    is_int(s->ops->journey_delete(s, doomed), KAIROS_ERR_NOT_FOUND, "journey_delete of a deleted journey");
    pool_destroy(pool);
}

static void suite_markers(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char user_id[ID_HEX_LEN + 1], journey_id[ID_HEX_LEN + 1], other_journey[ID_HEX_LEN + 1];
    suite_user(t, "marker", user_id);
    suite_journey(t, user_id, "markers", false, journey_id);
    suite_journey(t, user_id, "other", false, other_journey);

    struct marker first = {.name = "Banff",
                           .marker_type = MARKER_PAST,
                           .lng = -115.57,
                           .lat = 51.18,
                           .has_alt = true,
                           .alt = 1383.5,
                           .timestamp = "2026-06-12",
                           .notes = "start"};
    memcpy(first.journey_id, journey_id, ID_HEX_LEN + 1);
    memcpy(first.owner_id, user_id, ID_HEX_LEN + 1);
    is_int(s->ops->marker_create(s, &first), KAIROS_OK, "marker_create succeeds");
    ok(id_is_valid(first.id), "marker_create fills a valid id");
    ok(first.created_at > 0, "marker_create fills created_at");

    struct marker second = {.name = "Fernie",
                            .marker_type = MARKER_PLAN,
                            .lng = -115.06,
                            .lat = 49.5,
                            .estimated_time = "2026-06-15",
                            .notes = ""};
    memcpy(second.journey_id, journey_id, ID_HEX_LEN + 1);
    memcpy(second.owner_id, user_id, ID_HEX_LEN + 1);
    s->ops->marker_create(s, &second);
    char third[ID_HEX_LEN + 1];
    suite_marker(t, journey_id, user_id, -114.0, 51.1, third);

    struct marker *list = NULL;
    size_t count = 0;
    is_int(s->ops->marker_list_by_journey(s, pool, journey_id, &list, &count), KAIROS_OK, "marker_list_by_journey");
    is_int(count, 3, "the list holds the three markers");
    if (count == 3) {
        is_str(list[0].id, first.id, "first marker added is first");
        is_str(list[1].id, second.id, "second marker added is second");
        is_str(list[2].id, third, "third marker added is third");
        is_str(list[0].name, "Banff", "marker name is stored");
        is_int(list[0].marker_type, MARKER_PAST, "marker type past is stored");
        is_int(list[1].marker_type, MARKER_PLAN, "marker type plan is stored");
        is_near(list[0].lng, -115.57, 1e-12, "longitude is stored");
        is_near(list[0].lat, 51.18, 1e-12, "latitude is stored");
        ok(list[0].has_alt, "altitude is present when given");
        is_near(list[0].alt, 1383.5, 1e-12, "altitude is stored");
        ok(!list[1].has_alt, "altitude is absent when not given");
        is_str(list[0].timestamp, "2026-06-12", "timestamp is stored");
        ok(list[0].estimated_time == NULL, "missing estimated_time reads as null");
        is_str(list[1].estimated_time, "2026-06-15", "estimated_time is stored");
        ok(list[1].timestamp == NULL, "missing timestamp reads as null");
        is_str(list[0].notes, "start", "notes are stored");
        is_str(list[0].owner_id, user_id, "owner_id is stored");
        is_str(list[0].journey_id, journey_id, "journey_id is stored");
        is_int(list[0].created_at, first.created_at, "created_at is stored");
    }

    struct marker change = {.name = "Fernie camp",
                            .marker_type = MARKER_PAST,
                            .lng = -115.1,
                            .lat = 49.6,
                            .has_alt = true,
                            .alt = 1010,
                            .timestamp = "2026-06-16",
                            .notes = "rain"};
    memcpy(change.id, second.id, ID_HEX_LEN + 1);
    memcpy(change.journey_id, other_journey, ID_HEX_LEN + 1);
    is_int(s->ops->marker_update(s, &change), KAIROS_ERR_NOT_FOUND, "marker_update in another journey");
    memcpy(change.journey_id, journey_id, ID_HEX_LEN + 1);
    is_int(s->ops->marker_update(s, &change), KAIROS_OK, "marker_update succeeds");
    is_str(change.owner_id, user_id, "marker_update fills owner_id");
    is_int(change.created_at, second.created_at, "marker_update keeps and fills created_at");
    s->ops->marker_list_by_journey(s, pool, journey_id, &list, &count);
    if (count == 3) {
        is_str(list[1].id, second.id, "an updated marker keeps its place");
        is_str(list[1].name, "Fernie camp", "marker_update replaced the name");
        is_int(list[1].marker_type, MARKER_PAST, "marker_update replaced the type");
        is_near(list[1].lat, 49.6, 1e-12, "marker_update replaced the position");
        is_str(list[1].timestamp, "2026-06-16", "marker_update replaced the timestamp");
        ok(list[1].estimated_time == NULL, "marker_update cleared estimated_time");
        is_str(list[1].notes, "rain", "marker_update replaced the notes");
    }

    is_int(s->ops->marker_delete(s, other_journey, first.id), KAIROS_ERR_NOT_FOUND, "marker_delete in another journey");
    is_int(s->ops->marker_delete(s, journey_id, first.id), KAIROS_OK, "marker_delete succeeds");
    is_int(s->ops->marker_delete(s, journey_id, first.id), KAIROS_ERR_NOT_FOUND, "marker_delete twice");
    s->ops->marker_list_by_journey(s, pool, journey_id, &list, &count);
    is_int(count, 2, "two markers are left");
    s->ops->marker_list_by_journey(s, pool, other_journey, &list, &count);
    is_int(count, 0, "a journey without markers lists none");
    pool_destroy(pool);
}

static int suite_nearby_find(const struct nearby_journey *list, size_t count, const char *journey_id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i].journey.id, journey_id) == 0)
            return (int)i;
    return -1;
}

static void suite_nearby_poles(struct suite *t, const char *user_id)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char north[ID_HEX_LEN + 1], across[ID_HEX_LEN + 1], south[ID_HEX_LEN + 1], south_across[ID_HEX_LEN + 1];
    suite_journey(t, user_id, "north", false, north);
    suite_journey(t, user_id, "across the pole", false, across);
    suite_journey(t, user_id, "south", false, south);
    suite_journey(t, user_id, "across the south pole", false, south_across);
    suite_marker(t, north, user_id, 0, 89.9, NULL);
    suite_marker(t, across, user_id, 180, 89.9, NULL);
    suite_marker(t, south, user_id, 45, -89.9, NULL);
    suite_marker(t, south_across, user_id, -135, -89.9, NULL);

    struct nearby_journey *list = NULL;
    size_t count = 0;
    is_int(s->ops->journey_nearby(s, pool, north, 30000, 50, &list, &count), KAIROS_OK, "nearby at the north pole");
    int i = suite_nearby_find(list, count, across);
    ok(i >= 0, "finds the journey across the north pole at 30 km");
    if (i >= 0)
        is_near(list[i].distance_m, 22263.77, 1.0, "over-the-pole distance is 22.26 km");
    s->ops->journey_nearby(s, pool, north, 20000, 50, &list, &count);
    ok(suite_nearby_find(list, count, across) < 0, "does not find it at 20 km");

    s->ops->journey_nearby(s, pool, south, 30000, 50, &list, &count);
    i = suite_nearby_find(list, count, south_across);
    ok(i >= 0, "finds the journey across the south pole at 30 km");
    ok(suite_nearby_find(list, count, north) < 0, "the north pole is not near the south pole");
    pool_destroy(pool);
}

/*
 * Hand-made data around (10, 10) and the antimeridian. The distances on the
 * 6378100 m sphere are: same point 0, (10.1, 10) 10.96 km, (10, 10.25)
 * 27.83 km, and (-179.9, 0) from (179.9, 0) 22.26 km.
 */
static void suite_nearby(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char a[ID_HEX_LEN + 1], b[ID_HEX_LEN + 1], c[ID_HEX_LEN + 1];
    suite_user(t, "near-a", a);
    suite_user(t, "near-b", b);
    suite_user(t, "near-c", c);

    char home[ID_HEX_LEN + 1], own_other[ID_HEX_LEN + 1], east[ID_HEX_LEN + 1], across[ID_HEX_LEN + 1],
        north[ID_HEX_LEN + 1], far[ID_HEX_LEN + 1], empty[ID_HEX_LEN + 1];
    suite_journey(t, a, "home", false, home);
    suite_journey(t, a, "same place", false, own_other);
    suite_journey(t, c, "east", false, east);
    suite_journey(t, b, "across the antimeridian", false, across);
    suite_journey(t, c, "north", false, north);
    suite_journey(t, b, "far", false, far);
    suite_journey(t, a, "empty", false, empty);

    suite_marker(t, home, a, 179.9, 0, NULL);
    suite_marker(t, home, a, 10, 10, NULL);
    suite_marker(t, own_other, a, 10, 10, NULL);
    suite_marker(t, east, c, 10.1, 10, NULL);
    suite_marker(t, across, b, -179.9, 0, NULL);
    suite_marker(t, across, b, -170, 0, NULL);
    suite_marker(t, north, c, 10, 10.25, NULL);
    suite_marker(t, far, b, 12, 10, NULL);

    struct nearby_journey *list = NULL;
    size_t count = 0;
    is_int(s->ops->journey_nearby(s, pool, home, 30000, 50, &list, &count), KAIROS_OK, "journey_nearby at 30 km");
    is_int(count, 4, "four journeys lie within 30 km");
    if (count == 4) {
        is_str(list[0].journey.id, own_other, "nearest first: the marker at the same place");
        is_near(list[0].distance_m, 0.0, 0.5, "its distance is zero");
        is_str(list[1].journey.id, east, "then the one 10.96 km east");
        is_near(list[1].distance_m, 10962.77, 1.0, "its distance is 10.96 km");
        is_str(list[2].journey.id, across, "then the one across the antimeridian");
        is_near(list[2].distance_m, 22263.77, 1.0, "across the antimeridian is 22.26 km");
        is_str(list[3].journey.id, north, "then the one 27.83 km north");
        is_near(list[3].distance_m, 27829.7, 1.0, "its distance is 27.83 km");
        is_str(list[2].journey.name, "across the antimeridian", "the result carries the journey");
        is_str(list[2].journey.user_id, b, "the result carries the owner");
    }
    ok(suite_nearby_find(list, count, home) < 0, "the journey itself is excluded");
    ok(suite_nearby_find(list, count, far) < 0, "a journey 219 km away is excluded");

    s->ops->journey_nearby(s, pool, home, 10000, 50, &list, &count);
    is_int(count, 1, "one journey lies within 10 km");
    ok(suite_nearby_find(list, count, across) < 0, "the antimeridian pair is not within 10 km");

    s->ops->journey_nearby(s, pool, home, 30000, 2, &list, &count);
    is_int(count, 2, "the limit caps the list");
    if (count == 2)
        is_str(list[1].journey.id, east, "the limit keeps the nearest");

    s->ops->journey_nearby(s, pool, across, 30000, 50, &list, &count);
    int i = suite_nearby_find(list, count, home);
    ok(i >= 0, "nearby is symmetric across the antimeridian");
    if (i >= 0)
        is_near(list[i].distance_m, 22263.77, 1.0, "with the same distance");

    is_int(s->ops->journey_nearby(s, pool, empty, 2000000, 50, &list, &count), KAIROS_OK,
           "nearby of a journey without markers");
    is_int(count, 0, "a journey without markers has no neighbours");

    suite_nearby_poles(t, a);
    pool_destroy(pool);
}

static void suite_user_delete(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char user_id[ID_HEX_LEN + 1], other[ID_HEX_LEN + 1], journey_id[ID_HEX_LEN + 1], neighbour[ID_HEX_LEN + 1];
    suite_user(t, "leaving", user_id);
    suite_user(t, "staying", other);
    suite_journey(t, user_id, "to be deleted", true, journey_id);
    suite_journey(t, other, "neighbour", false, neighbour);
    suite_marker(t, journey_id, user_id, -60.5, -30.5, NULL);
    suite_marker(t, neighbour, other, -60.5, -30.501, NULL);

    struct mail_entry mail = {.kind = MAIL_VERIFY_EMAIL, .to_email = "leaving@example.test"};
    memcpy(mail.user_id, user_id, ID_HEX_LEN + 1);
    is_int(s->ops->mail_enqueue(s, &mail), KAIROS_OK, "mail_enqueue for the leaving user");
    struct refresh_family family = {.expires_at = storage_now_ms() + 3600000};
    id_generate(family.id);
    memcpy(family.user_id, user_id, ID_HEX_LEN + 1);
    id_generate(family.current_jti);
    is_int(s->ops->refresh_family_create(s, &family), KAIROS_OK, "refresh_family_create for the leaving user");

    struct nearby_journey *near = NULL;
    size_t count = 0;
    s->ops->journey_nearby(s, pool, neighbour, 1000, 50, &near, &count);
    ok(suite_nearby_find(near, count, journey_id) >= 0, "the neighbour sees the journey before the delete");

    is_int(s->ops->user_delete(s, user_id), KAIROS_OK, "user_delete succeeds");
    struct user user;
    struct journey journey;
    struct mail_entry got_mail;
    struct marker *markers = NULL;
    is_int(s->ops->user_get(s, pool, user_id, &user), KAIROS_ERR_NOT_FOUND, "the user is gone");
    is_int(s->ops->journey_get(s, pool, journey_id, &journey), KAIROS_ERR_NOT_FOUND, "its journey is gone");
    s->ops->marker_list_by_journey(s, pool, journey_id, &markers, &count);
    is_int(count, 0, "its markers are gone");
    is_int(s->ops->mail_get(s, pool, mail.id, &got_mail), KAIROS_ERR_NOT_FOUND, "its queued mail is gone");
    char user_out[ID_HEX_LEN + 1], next[ID_HEX_LEN + 1];
    id_generate(next);
    is_int(s->ops->refresh_family_rotate(s, family.id, family.current_jti, next, storage_now_ms(), user_out),
           KAIROS_ERR_NOT_FOUND, "its refresh family no longer rotates");
    s->ops->journey_nearby(s, pool, neighbour, 1000, 50, &near, &count);
    ok(suite_nearby_find(near, count, journey_id) < 0, "nearby no longer finds the deleted journey");
    is_int(s->ops->user_get(s, pool, other, &user), KAIROS_OK, "other users stay");
    is_int(s->ops->user_delete(s, user_id), KAIROS_ERR_NOT_FOUND, "user_delete twice");
    pool_destroy(pool);
}

static void suite_refresh(struct suite *t)
{
    struct storage *s = t->s;
    char user_id[ID_HEX_LEN + 1], jti[4][ID_HEX_LEN + 1], user_out[ID_HEX_LEN + 1];
    int64_t now = storage_now_ms();
    suite_user(t, "refresh", user_id);
    for (int i = 0; i < 4; i++)
        id_generate(jti[i]);

    struct refresh_family family = {.expires_at = now + 3600000};
    id_generate(family.id);
    memcpy(family.user_id, user_id, ID_HEX_LEN + 1);
    memcpy(family.current_jti, jti[0], ID_HEX_LEN + 1);
    is_int(s->ops->refresh_family_create(s, &family), KAIROS_OK, "refresh_family_create succeeds");

    memset(user_out, 0, sizeof(user_out));
    is_int(s->ops->refresh_family_rotate(s, family.id, jti[0], jti[1], now, user_out), KAIROS_OK,
           "rotate with the current jti");
    is_str(user_out, user_id, "rotate returns the family's user");
    is_int(s->ops->refresh_family_rotate(s, family.id, jti[1], jti[2], now, user_out), KAIROS_OK,
           "rotate again with the new jti");
    is_int(s->ops->refresh_family_rotate(s, family.id, jti[1], jti[3], now, user_out), KAIROS_ERR_CONFLICT,
           "reusing a rotated jti is a conflict");
    is_int(s->ops->refresh_family_rotate(s, family.id, jti[2], jti[3], now, user_out), KAIROS_ERR_NOT_FOUND,
           "after reuse the family is revoked, even for the current jti");

    struct refresh_family expiring = {.expires_at = now + 1000};
    id_generate(expiring.id);
    memcpy(expiring.user_id, user_id, ID_HEX_LEN + 1);
    memcpy(expiring.current_jti, jti[0], ID_HEX_LEN + 1);
    s->ops->refresh_family_create(s, &expiring);
    is_int(s->ops->refresh_family_rotate(s, expiring.id, jti[0], jti[1], now + 1001, user_out), KAIROS_ERR_NOT_FOUND,
           "an expired family does not rotate");
    is_int(s->ops->refresh_family_rotate(s, expiring.id, jti[0], jti[1], now, user_out), KAIROS_OK,
           "the expired check did not revoke it");

    char unknown[ID_HEX_LEN + 1];
    id_generate(unknown);
    is_int(s->ops->refresh_family_rotate(s, unknown, jti[0], jti[1], now, user_out), KAIROS_ERR_NOT_FOUND,
           "an unknown family does not rotate");

    struct refresh_family other = {.expires_at = now + 3600000};
    id_generate(other.id);
    memcpy(other.user_id, user_id, ID_HEX_LEN + 1);
    memcpy(other.current_jti, jti[3], ID_HEX_LEN + 1);
    s->ops->refresh_family_create(s, &other);
    is_int(s->ops->refresh_family_revoke_user(s, user_id), KAIROS_OK, "refresh_family_revoke_user succeeds");
    is_int(s->ops->refresh_family_rotate(s, other.id, jti[3], jti[0], now, user_out), KAIROS_ERR_NOT_FOUND,
           "a family revoked with its user does not rotate");
}

static int suite_mail_find(const struct mail_entry *list, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i].id, id) == 0)
            return (int)i;
    return -1;
}

static void suite_mail_enqueue(struct suite *t, const char *user_id, enum mail_kind kind, int64_t due,
                               struct mail_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    entry->kind = kind;
    entry->to_email = "rider@example.test";
    entry->next_attempt_at = due;
    memcpy(entry->user_id, user_id, ID_HEX_LEN + 1);
    is_int(t->s->ops->mail_enqueue(t->s, entry), KAIROS_OK, "mail_enqueue succeeds");
}

static void suite_mail(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char user_id[ID_HEX_LEN + 1];
    suite_user(t, "mail", user_id);
    int64_t now = storage_now_ms(), lease = 60000;

    struct mail_entry first, second, later, got;
    suite_mail_enqueue(t, user_id, MAIL_VERIFY_EMAIL, now, &first);
    usleep(2000);
    suite_mail_enqueue(t, user_id, MAIL_RESET_PASSWORD, now, &second);
    suite_mail_enqueue(t, user_id, MAIL_VERIFY_EMAIL, now + 3600000, &later);
    ok(id_is_valid(first.id) && first.created_at > 0, "mail_enqueue fills id and created_at");

    is_int(s->ops->mail_get(s, pool, second.id, &got), KAIROS_OK, "mail_get finds the entry");
    is_int(got.status, MAIL_PENDING, "a new entry is pending");
    is_int(got.kind, MAIL_RESET_PASSWORD, "mail_get returns the kind");
    is_str(got.to_email, "rider@example.test", "mail_get returns the address");
    is_str(got.user_id, user_id, "mail_get returns the user");
    is_int(got.attempts, 0, "a new entry has no attempts");

    struct mail_entry *claimed = NULL;
    size_t count = 0;
    is_int(s->ops->mail_claim(s, pool, now, lease, 1, &claimed, &count), KAIROS_OK, "mail_claim with max 1");
    is_int(count, 1, "mail_claim returns at most max entries");
    is_int(s->ops->mail_claim(s, pool, now, lease, 50, &claimed, &count), KAIROS_OK, "mail_claim the rest");
    int one_in_second = suite_mail_find(claimed, count, first.id) >= 0;
    int two_in_second = suite_mail_find(claimed, count, second.id) >= 0;
    ok(one_in_second + two_in_second == 1, "the second claim returns only the entry the first left");
    ok(suite_mail_find(claimed, count, later.id) < 0, "an entry not yet due is not claimed");
    is_int(s->ops->mail_claim(s, pool, now, lease, 50, &claimed, &count), KAIROS_OK, "mail_claim a third time");
    ok(suite_mail_find(claimed, count, first.id) < 0 && suite_mail_find(claimed, count, second.id) < 0,
       "claimed entries are not claimed again while leased");

    s->ops->mail_get(s, pool, first.id, &got);
    is_int(got.status, MAIL_SENDING, "a claimed entry is sending");
    is_int(got.lease_until, now + lease, "its lease ends at now + lease");

    is_int(s->ops->mail_claim(s, pool, now + lease, lease, 50, &claimed, &count), KAIROS_OK,
           "mail_claim after the lease ran out");
    int i1 = suite_mail_find(claimed, count, first.id), i2 = suite_mail_find(claimed, count, second.id);
    ok(i1 >= 0 && i2 >= 0, "entries whose lease ran out are claimed again");
    ok(i1 < i2, "oldest entry first");

    is_int(s->ops->mail_mark_sent(s, first.id), KAIROS_OK, "mail_mark_sent succeeds");
    s->ops->mail_get(s, pool, first.id, &got);
    is_int(got.status, MAIL_SENT, "the entry is sent");

    int64_t retry_at = now + 5 * lease;
    is_int(s->ops->mail_mark_retry(s, second.id, retry_at, "connect timed out"), KAIROS_OK, "mail_mark_retry");
    s->ops->mail_get(s, pool, second.id, &got);
    is_int(got.status, MAIL_PENDING, "a retried entry is pending");
    is_int(got.attempts, 1, "a retry counts an attempt");
    is_int(got.next_attempt_at, retry_at, "a retried entry is due at next_attempt_at");
    is_str(got.last_error, "connect timed out", "a retry keeps the error");

    s->ops->mail_claim(s, pool, now + 4 * lease, lease, 50, &claimed, &count);
    ok(suite_mail_find(claimed, count, second.id) < 0, "a retried entry is not claimed before it is due");
    ok(suite_mail_find(claimed, count, first.id) < 0, "a sent entry is never claimed");
    s->ops->mail_claim(s, pool, retry_at, lease, 50, &claimed, &count);
    ok(suite_mail_find(claimed, count, second.id) >= 0, "a retried entry is claimed when due");

    is_int(s->ops->mail_mark_failed(s, second.id, "address rejected"), KAIROS_OK, "mail_mark_failed");
    s->ops->mail_get(s, pool, second.id, &got);
    is_int(got.status, MAIL_FAILED, "the entry is failed");
    is_str(got.last_error, "address rejected", "a failure keeps the error");
    s->ops->mail_claim(s, pool, now + 7200000, lease, 50, &claimed, &count);
    ok(suite_mail_find(claimed, count, second.id) < 0, "a failed entry is never claimed");
    ok(suite_mail_find(claimed, count, later.id) >= 0, "the later entry is claimed once due");

    char unknown[ID_HEX_LEN + 1];
    id_generate(unknown);
    is_int(s->ops->mail_get(s, pool, unknown, &got), KAIROS_ERR_NOT_FOUND, "mail_get of an unknown id");
    is_int(s->ops->mail_mark_sent(s, unknown), KAIROS_ERR_NOT_FOUND, "mail_mark_sent of an unknown id");
    is_int(s->ops->mail_mark_retry(s, unknown, now, "x"), KAIROS_ERR_NOT_FOUND, "mail_mark_retry of an unknown id");
    is_int(s->ops->mail_mark_failed(s, unknown, "x"), KAIROS_ERR_NOT_FOUND, "mail_mark_failed of an unknown id");
    pool_destroy(pool);
}

/* Nearby of an unknown journey, and distances that are not a number of metres. */
static void suite_nearby_errors(struct suite *t)
{
    struct storage *s = t->s;
    struct pool *pool = pool_create();
    char user[ID_HEX_LEN + 1], journey[ID_HEX_LEN + 1], unknown[ID_HEX_LEN + 1];
    suite_user(t, "near-errors", user);
    suite_journey(t, user, "no markers", false, journey);
    id_generate(unknown);

    struct nearby_journey *list = NULL;
    size_t count = 0;
    is_int(s->ops->journey_nearby(s, pool, unknown, 1000, 50, &list, &count), KAIROS_ERR_NOT_FOUND,
           "nearby of an unknown journey is not found");
    is_int(s->ops->journey_nearby(s, pool, journey, 1000, 50, &list, &count), KAIROS_OK,
           "nearby of a journey without markers");
    is_int(count, 0, "a journey without markers has no neighbours");
    is_int(s->ops->journey_nearby(s, pool, journey, -1, 50, &list, &count), KAIROS_ERR_INVALID,
           "a negative distance is invalid");
    is_int(s->ops->journey_nearby(s, pool, journey, NAN, 50, &list, &count), KAIROS_ERR_INVALID,
           "a distance that is not a number is invalid");
    pool_destroy(pool);
}

static void storage_suite_run(struct storage *s)
{
    struct suite t = {.s = s};
    id_generate(t.tag);

    is_int(s->ops->ping(s), KAIROS_OK, "ping");
    ok(s->ops->name != NULL && s->ops->name[0] != '\0', "the backend has a name");
    suite_users(&t);
    suite_journeys(&t);
    suite_markers(&t);
    suite_nearby(&t);
    suite_nearby_errors(&t);
    suite_user_delete(&t);
    suite_refresh(&t);
    suite_mail(&t);

    for (size_t i = 0; i < t.user_count; i++)
        s->ops->user_delete(s, t.users[i]);
}

#endif
