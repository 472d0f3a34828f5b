/*
 * The documentation routes: the OpenAPI document of the API and the two pages
 * that render it, Swagger UI at /docs and ReDoc at /redoc. The document and
 * the pages' scripts and styles are compiled into the binary, so the pages
 * work with no internet access and under both front ends.
 *
 * These routes are not operations of the API: docs/openapi.json does not
 * list them.
 */
#ifndef KAIROS_HANDLERS_DOCS_H
#define KAIROS_HANDLERS_DOCS_H

#include <stddef.h>

#include "server/app.h"

/* GET /api/v1/openapi.json: docs/openapi.json as it was at build time. */
void handle_openapi(struct app *app, struct request *req, struct response *res);

/* GET /docs: the Swagger UI page. */
void handle_docs_swagger_ui(struct app *app, struct request *req, struct response *res);

/* GET /redoc: the ReDoc page. */
void handle_docs_redoc(struct app *app, struct request *req, struct response *res);

/* GET /docs/static/{asset}: a script, style sheet or icon of the pages; 404 for any other name. */
void handle_docs_asset(struct app *app, struct request *req, struct response *res);

/* The embedded OpenAPI document; *len is set to its length in bytes. The text is NUL-terminated. */
const char *docs_openapi_document(size_t *len);

#endif
