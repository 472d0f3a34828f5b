/*
 * The AWS Lambda front end: a loop over the Lambda Runtime API (libcurl) that
 * turns each invocation event into a struct request, runs app_handle, and
 * posts the response back in the event's own format. It understands API
 * Gateway HTTP API events (payload 2.0), API Gateway REST API events (payload
 * 1.0), Application Load Balancer target events, and the scheduled event
 * {"kairos": "drain-outbox"}, which delivers the mail outbox.
 */
#ifndef KAIROS_LAMBDA_H
#define KAIROS_LAMBDA_H

#include <jansson.h>
#include <stdbool.h>

#include "server/config.h"
#include "server/http.h"
#include "storage/error.h"

enum lambda_event_kind {
    LAMBDA_EVENT_HTTP_V2,      /* API Gateway HTTP API, payload format 2.0 */
    LAMBDA_EVENT_REST_V1,      /* API Gateway REST API, or HTTP API with payload format 1.0 */
    LAMBDA_EVENT_ALB,          /* Application Load Balancer target group */
    LAMBDA_EVENT_DRAIN_OUTBOX, /* {"kairos": "drain-outbox"} from the EventBridge schedule */
};

struct lambda_event {
    enum lambda_event_kind kind;
    /* The event carried multiValueHeaders, so the response must carry them too. */
    bool multi_value;
};

/*
 * Runs the Runtime API loop at $AWS_LAMBDA_RUNTIME_API with a configuration
 * that main() has loaded. Opens the storage once; an init failure (no runtime
 * address, storage that cannot open, a SpatiaLite store outside
 * ENVIRONMENT=local) is posted to the init error endpoint. Returns the process
 * exit code when the Runtime API stops responding or init fails.
 */
int lambda_run(const struct config *cfg);

/*
 * Posts message to the Runtime API's init error endpoint, for a failure before
 * lambda_run (a configuration that does not load), logs it, and returns the
 * process exit code, 1.
 */
int lambda_report_init_error(const char *message);

/*
 * Reads an invocation event into *out and, for HTTP events, into req, whose
 * pool must be set; every string lands in req->pool. Returns KAIROS_OK;
 * KAIROS_ERR_LIMIT when the body is larger than HTTP_MAX_BODY (req is filled
 * but for the body, so the caller can respond with 413); KAIROS_ERR_INVALID with a
 * sentence in err for an event of no known shape.
 */
enum kairos_error lambda_event_read(const json_t *event, struct lambda_event *out, struct request *req, char *err,
                                    size_t err_len);

/*
 * Builds the response document for an HTTP event of the given shape: a body
 * that is not UTF-8 is base64-encoded. Returns a new reference.
 */
json_t *lambda_response_build(const struct lambda_event *event, const struct response *res);

#endif
