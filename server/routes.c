/*
 * The route table of the HTTP API. Each route carries the operation name of
 * the old FastAPI handler, from which the OpenAPI operationId is built, so
 * the web client's generated method names keep working. Literal paths come
 * before the patterns that could also match them (/users/me before
 * /users/{user_id}).
 */
#include "server/handlers.h"
#include "server/handlers_docs.h"
#include "server/router.h"

const struct route kairos_routes[] = {
    {"GET", "/api/v1/", handle_ping, "ping"},
    {"GET", "/api/v1/mongodb", handle_ping_mongodb, "ping_mongodb"},
    {"GET", "/api/v1/health", handle_health, "health"},

    {"POST", "/api/v1/auth/token", handle_login, "login"},
    {"POST", "/api/v1/auth/refresh", handle_refresh, "refresh"},

    {"POST", "/api/v1/users/register", handle_register_user, "register_user"},
    {"GET", "/api/v1/users/verify-email", handle_verify_email, "verify_email"},
    {"POST", "/api/v1/users/reset-password", handle_reset_password, "reset_password"},
    {"POST", "/api/v1/users/update-password", handle_update_password, "update_password"},
    {"GET", "/api/v1/users/me", handle_get_current_user, "get_current_user"},
    {"GET", "/api/v1/users/{user_id}", handle_get_user_by_id, "get_user_by_id"},
    {"GET", "/api/v1/users/{user_id}/journeys", handle_get_user_journeys, "get_user_journeys"},
    {"GET", "/api/v1/users/{user_id}/journeys/active", handle_get_active_journey, "get_active_journey"},
    {"PUT", "/api/v1/users/{user_id}", handle_update_user, "update_user"},
    {"DELETE", "/api/v1/users/{user_id}", handle_delete_user, "delete_user"},

    {"POST", "/api/v1/journeys/", handle_create_journey, "create_journey"},
    {"GET", "/api/v1/journeys/{journey_id}", handle_get_journey, "get_journey"},
    {"DELETE", "/api/v1/journeys/{journey_id}", handle_delete_journey, "delete_journey"},
    {"PATCH", "/api/v1/journeys/{journey_id}/active", handle_toggle_active_journey, "toggle_active_journey"},
    {"PATCH", "/api/v1/journeys/{journey_id}", handle_set_completed_journey, "set_completed_journey"},
    {"GET", "/api/v1/journeys/{journey_id}/markers", handle_get_journey_markers, "get_journey_markers"},
    {"POST", "/api/v1/journeys/{journey_id}/markers", handle_add_marker_to_journey, "add_marker_to_journey"},
    {"PUT", "/api/v1/journeys/{journey_id}/markers/{marker_id}", handle_update_journey_marker, "update_journey_marker"},
    {"DELETE", "/api/v1/journeys/{journey_id}/markers/{marker_id}", handle_delete_journey_marker,
     "delete_journey_marker"},
    {"GET", "/api/v1/journeys/{journey_id}/journeys/nearby", handle_get_nearby_journeys, "get_nearby_journeys"},
    {"GET", "/api/v1/journeys/{journey_id}/nearby", handle_get_nearby_journey_details, "get_nearby_journey_details"},

    /* Documentation; the OpenAPI document does not list these, as FastAPI does not. */
    {"GET", "/api/v1/openapi.json", handle_openapi, "openapi"},
    {"GET", "/docs", handle_docs_swagger_ui, "swagger_ui_html"},
    {"GET", "/redoc", handle_docs_redoc, "redoc_html"},
    {"GET", "/docs/static/{asset}", handle_docs_asset, "docs_asset"},
};

const size_t kairos_route_count = sizeof(kairos_routes) / sizeof(kairos_routes[0]);
