/*
 * Journey routes: create, read, delete, toggle active, complete or edit, and
 * the journeys near one (by the distance between their markers).
 */
#include "server/handlers.h"

#include <string.h>

#include "server/auth_guard.h"
#include "server/models_json.h"
#include "server/response.h"

void handle_create_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    if (!auth_guard_require(app, req, res, &caller))
        return;

    json_t *body;
    if (!handlers_json_body(req, res, &body))
        return;
    struct journey journey;
    memset(&journey, 0, sizeof(journey));
    struct validation_error verr;
    bool valid = validate_journey_create(req->pool, body, &journey, &verr);
    json_decref(body);
    if (!valid) {
        handlers_validation_failed(req, res, &verr);
        return;
    }

    /* A user_id in the body is ignored: the journey belongs to the caller. */
    memcpy(journey.user_id, caller.id, sizeof(journey.user_id));
    enum kairos_error err = app->storage->ops->journey_create(app->storage, &journey);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    handlers_answer_json(req, res, 201, models_journey_json(&journey));
}

void handle_get_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, false, &journey))
        return;
    handlers_answer_json(req, res, 200, models_journey_json(&journey));
}

void handle_delete_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey))
        return;

    enum kairos_error err = app->storage->ops->journey_delete(app->storage, journey.id);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    response_no_content(res);
}

void handle_toggle_active_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey))
        return;

    bool now_active = false;
    enum kairos_error err = app->storage->ops->journey_toggle_active(app->storage, journey.id, &now_active);
    if (err == KAIROS_ERR_CONFLICT) {
        response_detail(req, res, 409, "A completed journey cannot be made active");
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    response_no_content(res);
}

void handle_set_completed_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey))
        return;

    /* Without a body (what the web client sends) the journey is marked completed. */
    struct journey_update update = {.has_completed = true, .completed = true};
    if (!handlers_body_is_empty(req)) {
        json_t *body;
        if (!handlers_json_body(req, res, &body))
            return;
        struct validation_error verr;
        bool valid = validate_journey_update(req->pool, body, &update, &verr);
        json_decref(body);
        if (!valid) {
            handlers_validation_failed(req, res, &verr);
            return;
        }
    }

    enum kairos_error err = app->storage->ops->journey_update(app->storage, journey.id, &update);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    response_no_content(res);
}

/* Reads ?max_distance= and runs the nearby query for the journey of the path. */
static bool find_nearby(struct app *app, struct request *req, struct response *res, struct nearby_journey **nearby,
                        size_t *count)
{
    struct user caller;
    if (!auth_guard_require(app, req, res, &caller))
        return false;

    struct form query = {0};
    if (form_parse_urlencoded(req->pool, req->query, strlen(req->query), &query) != KAIROS_OK) {
        const char *loc[] = {"query", NULL};
        response_validation(req, res, loc, "query string has an invalid percent escape");
        return false;
    }
    /* "5%00x" would otherwise read as 5 metres. */
    const struct form_field *max_distance = form_find(&query, "max_distance");
    if (max_distance != NULL && memchr(max_distance->value, '\0', max_distance->value_len) != NULL) {
        const char *loc[] = {"query", "max_distance", NULL};
        response_validation(req, res, loc, "max_distance must be a number of metres");
        return false;
    }
    double max_distance_m;
    struct validation_error verr;
    if (!validate_max_distance(max_distance != NULL ? max_distance->value : NULL, &max_distance_m, &verr)) {
        handlers_validation_failed(req, res, &verr);
        return false;
    }

    struct journey journey;
    if (!handlers_load_journey(app, req, res, &caller, false, &journey))
        return false;

    enum kairos_error err = app->storage->ops->journey_nearby(app->storage, req->pool, journey.id, max_distance_m,
                                                              STORAGE_MAX_NEARBY, nearby, count);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return false;
    }
    return true;
}

void handle_get_nearby_journeys(struct app *app, struct request *req, struct response *res)
{
    struct nearby_journey *nearby = NULL;
    size_t count = 0;
    if (!find_nearby(app, req, res, &nearby, &count))
        return;

    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < count; i++) {
        if (json_array_append_new(ids, json_string(nearby[i].journey.id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    }
    handlers_answer_json(req, res, 200, ids);
}

void handle_get_nearby_journey_details(struct app *app, struct request *req, struct response *res)
{
    struct nearby_journey *nearby = NULL;
    size_t count = 0;
    if (!find_nearby(app, req, res, &nearby, &count))
        return;

    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        struct user owner;
        enum kairos_error err = app->storage->ops->user_get(app->storage, req->pool, nearby[i].journey.user_id, &owner);
        /* An owner deleted since the query took its journeys along: leave the entry out. */
        if (err == KAIROS_ERR_NOT_FOUND)
            continue;
        if (err != KAIROS_OK) {
            json_decref(list);
            response_error(req, res, err, "User not found");
            return;
        }

        json_t *entry = json_pack("{s:o, s:f, s:o}", "journey", models_journey_json(&nearby[i].journey), "distance_m",
                                  nearby[i].distance_m, "user", models_user_json(&owner, false));
        if (json_array_append_new(list, entry) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    handlers_answer_json(req, res, 200, list);
}
