/* Lookups on struct request shared by every handler and both front ends. */
#include "server/http.h"

#include <string.h>
#include <strings.h>

const char *request_header(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *request_param(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->param_count; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}
