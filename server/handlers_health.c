/*
 * Health routes. GET / and GET /mongodb return what the old backend returned,
 * because load balancers and the web client probe them. GET /health also
 * names the storage backend and the version.
 */
#include "server/handlers.h"
#include "server/response.h"
#include "server/version.h"
#include "storage/log.h"

void handle_ping(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    handlers_answer_json(req, res, 200, json_string("pong"));
}

void handle_ping_mongodb(struct app *app, struct request *req, struct response *res)
{
    enum kairos_error err = app->storage->ops->ping(app->storage);
    if (err != KAIROS_OK) {
        log_msg(LOG_WARN, "storage", req->request_id, "ping failed: %s", kairos_error_name(err));
        response_detail(req, res, 503, "Storage is unavailable");
        return;
    }
    handlers_answer_json(req, res, 200, json_string("Pong"));
}

void handle_health(struct app *app, struct request *req, struct response *res)
{
    enum kairos_error err = app->storage->ops->ping(app->storage);
    bool healthy = err == KAIROS_OK;
    if (!healthy)
        log_msg(LOG_WARN, "storage", req->request_id, "ping failed: %s", kairos_error_name(err));

    json_t *body = json_pack("{s:s, s:s, s:s}", "status", healthy ? "ok" : "degraded", "storage",
                             app->storage->ops->name, "version", KAIROS_VERSION);
    handlers_answer_json(req, res, healthy ? 200 : 503, body);
}
