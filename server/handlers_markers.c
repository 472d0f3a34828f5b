/*
 * Marker routes: list the markers of a journey, and add, replace or delete
 * one. Only the journey's owner may change its markers.
 */
#include "server/handlers.h"

#include <string.h>

#include "server/auth_guard.h"
#include "server/models_json.h"
#include "server/response.h"

static const char MARKER_NOT_FOUND[] = "Marker not found";

void handle_get_journey_markers(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, false, &journey))
        return;

    struct marker *markers = NULL;
    size_t count = 0;
    enum kairos_error err =
        app->storage->ops->marker_list_by_journey(app->storage, req->pool, journey.id, &markers, &count);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    handlers_answer_json(req, res, 200, models_markers_json(markers, count));
}

/* Validates the marker body for the owner's journey; journey_id and owner_id in the body are ignored. */
static bool read_marker(struct request *req, struct response *res, const struct journey *journey, struct marker *marker)
{
    json_t *body;
    if (!handlers_json_body(req, res, &body))
        return false;

    memset(marker, 0, sizeof(*marker));
    struct validation_error verr;
    bool valid = validate_marker(req->pool, body, marker, &verr);
    json_decref(body);
    if (!valid) {
        handlers_validation_failed(req, res, &verr);
        return false;
    }

    memcpy(marker->journey_id, journey->id, sizeof(marker->journey_id));
    memcpy(marker->owner_id, journey->user_id, sizeof(marker->owner_id));
    return true;
}

void handle_add_marker_to_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    struct marker marker;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey) ||
        !read_marker(req, res, &journey, &marker))
        return;

    enum kairos_error err = app->storage->ops->marker_create(app->storage, &marker);
    if (err == KAIROS_ERR_LIMIT) {
        response_detail(req, res, 409, "A journey holds at most %d markers", STORAGE_MAX_MARKERS_PER_JOURNEY);
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return;
    }
    handlers_answer_json(req, res, 201, models_marker_json(&marker));
}

void handle_update_journey_marker(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    char marker_id[ID_HEX_LEN + 1];
    struct marker marker;
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey) ||
        !handlers_path_id(req, res, "marker_id", marker_id) || !read_marker(req, res, &journey, &marker))
        return;

    memcpy(marker.id, marker_id, sizeof(marker.id));
    enum kairos_error err = app->storage->ops->marker_update(app->storage, &marker);
    if (err != KAIROS_OK) {
        response_error(req, res, err, MARKER_NOT_FOUND);
        return;
    }
    handlers_answer_json(req, res, 200, models_marker_json(&marker));
}

void handle_delete_journey_marker(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    struct journey journey;
    char marker_id[ID_HEX_LEN + 1];
    if (!auth_guard_require(app, req, res, &caller) || !handlers_load_journey(app, req, res, &caller, true, &journey) ||
        !handlers_path_id(req, res, "marker_id", marker_id))
        return;

    enum kairos_error err = app->storage->ops->marker_delete(app->storage, journey.id, marker_id);
    if (err != KAIROS_OK) {
        response_error(req, res, err, MARKER_NOT_FOUND);
        return;
    }
    response_no_content(res);
}
