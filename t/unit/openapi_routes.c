/*
 * Checks docs/openapi.json against the route table. Every route of the API
 * must be an operation of the document and every operation a route, with the
 * same method, path and path parameter names. Each operationId must be built
 * from the route's name as FastAPI builds it, because the web client's
 * generated method names depend on it. The documentation routes themselves
 * are left out, as FastAPI leaves them out. Run from the top of the tree.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers_docs.h"
#include "server/router.h"
#include "t/unit/tap.h"

#define DOCUMENT_PATH "docs/openapi.json"

static const char *const HTTP_METHODS[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

static bool is_documentation_route(const struct route *route)
{
    return route->handler == handle_openapi || route->handler == handle_docs_swagger_ui ||
           route->handler == handle_docs_redoc || route->handler == handle_docs_asset;
}

/* FastAPI's operationId: name, then the path with every byte outside [A-Za-z0-9_] as '_', then '_' and the method. */
static char *fastapi_operation_id(const char *name, const char *path, const char *method)
{
    size_t len = strlen(name) + strlen(path) + 1 + strlen(method) + 1;
    char *id = malloc(len);
    if (id == NULL)
        abort();

    char *out = id;
    for (const char *p = name; *p != '\0'; p++)
        *out++ = *p;
    for (const char *p = path; *p != '\0'; p++)
        *out++ = isalnum((unsigned char)*p) || *p == '_' ? *p : '_';
    *out++ = '_';
    for (const char *p = method; *p != '\0'; p++)
        *out++ = (char)tolower((unsigned char)*p);
    *out = '\0';
    return id;
}

static char *lowercase_copy(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        abort();
    for (char *p = copy; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

/* Writes the "{name}" segments of path into names (at most max); returns how many there are. */
static size_t path_parameter_names(const char *path, char names[][64], size_t max)
{
    size_t count = 0;
    for (const char *open = strchr(path, '{'); open != NULL; open = strchr(open + 1, '{')) {
        const char *close = strchr(open, '}');
        if (close == NULL)
            break;
        if (count < max)
            snprintf(names[count], sizeof(names[count]), "%.*s", (int)(close - open - 1), open + 1);
        count++;
    }
    return count;
}

static json_t *operation_of(json_t *doc, const char *path, const char *method)
{
    char *key = lowercase_copy(method);
    json_t *operation = json_object_get(json_object_get(json_object_get(doc, "paths"), path), key);
    free(key);
    return operation;
}

/* True when operation declares exactly the path parameters of path, each required. */
static bool path_parameters_match(json_t *operation, const char *path)
{
    char names[HTTP_MAX_PATH_PARAMS][64];
    size_t count = path_parameter_names(path, names, HTTP_MAX_PATH_PARAMS);
    if (count > HTTP_MAX_PATH_PARAMS)
        return false;

    size_t declared = 0;
    size_t i;
    json_t *parameter;
    json_array_foreach(json_object_get(operation, "parameters"), i, parameter)
    {
        if (strcmp(json_string_value(json_object_get(parameter, "in")) ?: "", "path") != 0)
            continue;
        const char *name = json_string_value(json_object_get(parameter, "name"));
        bool known = false;
        for (size_t k = 0; name != NULL && k < count; k++)
            known = known || strcmp(names[k], name) == 0;
        if (!known || !json_is_true(json_object_get(parameter, "required")))
            return false;
        declared++;
    }
    return declared == count;
}

static const struct route *route_of(const char *path, const char *method)
{
    for (size_t i = 0; i < kairos_route_count; i++) {
        const struct route *route = &kairos_routes[i];
        if (!is_documentation_route(route) && strcasecmp(route->method, method) == 0 &&
            strcmp(route->pattern, path) == 0)
            return route;
    }
    return NULL;
}

static void check_routes_are_documented(json_t *doc)
{
    for (size_t i = 0; i < kairos_route_count; i++) {
        const struct route *route = &kairos_routes[i];
        if (is_documentation_route(route))
            continue;

        char name[256];
        json_t *operation = operation_of(doc, route->pattern, route->method);
        snprintf(name, sizeof(name), "route %s %s is in the document", route->method, route->pattern);
        ok(json_is_object(operation), name);
        if (!json_is_object(operation))
            continue;

        char *expected = fastapi_operation_id(route->name, route->pattern, route->method);
        snprintf(name, sizeof(name), "operationId of %s %s", route->method, route->pattern);
        is_str(json_string_value(json_object_get(operation, "operationId")), expected, name);
        free(expected);

        snprintf(name, sizeof(name), "path parameters of %s %s", route->method, route->pattern);
        ok(path_parameters_match(operation, route->pattern), name);
    }
}

static void check_operations_are_routes(json_t *doc)
{
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        for (size_t m = 0; m < sizeof(HTTP_METHODS) / sizeof(HTTP_METHODS[0]); m++) {
            if (json_object_get(item, HTTP_METHODS[m]) == NULL)
                continue;
            char name[256];
            snprintf(name, sizeof(name), "operation %s %s is a route", HTTP_METHODS[m], path);
            ok(route_of(path, HTTP_METHODS[m]) != NULL, name);
        }
    }
}

static void check_operation_ids_unique(json_t *doc)
{
    json_t *seen = json_object();
    bool unique = true;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        for (size_t m = 0; m < sizeof(HTTP_METHODS) / sizeof(HTTP_METHODS[0]); m++) {
            const char *id = json_string_value(json_object_get(json_object_get(item, HTTP_METHODS[m]), "operationId"));
            if (id == NULL)
                continue;
            if (json_object_get(seen, id) != NULL) {
                printf("# operationId %s is used twice\n", id);
                unique = false;
            }
            json_object_set_new(seen, id, json_true());
        }
    }
    json_decref(seen);
    ok(unique, "operationIds are unique");
}

/* Counts the "$ref"s under value that do not name an entry of components.schemas. */
static size_t count_broken_refs(json_t *doc, json_t *value)
{
    static const char prefix[] = "#/components/schemas/";
    size_t broken = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *child;
        json_object_foreach(value, key, child)
        {
            if (strcmp(key, "$ref") == 0 && json_is_string(child)) {
                const char *ref = json_string_value(child);
                bool found = strncmp(ref, prefix, sizeof(prefix) - 1) == 0 &&
                             json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                                             ref + sizeof(prefix) - 1) != NULL;
                if (!found) {
                    printf("# $ref %s does not resolve\n", ref);
                    broken++;
                }
                continue;
            }
            broken += count_broken_refs(doc, child);
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *child;
        json_array_foreach(value, i, child) broken += count_broken_refs(doc, child);
    }
    return broken;
}

/* Checks that every operation with a security requirement documents the 401 of a missing token. */
static void check_secured_operations_answer_401(json_t *doc)
{
    size_t missing = 0, secured = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *method;
        json_t *operation;
        json_object_foreach(item, method, operation)
        {
            if (json_array_size(json_object_get(operation, "security")) == 0)
                continue;
            secured++;
            if (json_object_get(json_object_get(operation, "responses"), "401") == NULL) {
                printf("# %s %s needs a token but documents no 401\n", method, path);
                missing++;
            }
        }
    }
    ok(secured > 0, "some operations need a token");
    is_int(missing, 0, "secured operations document 401");
}

static void check_embedded_copy(const char *text, size_t len)
{
    size_t embedded_len;
    const char *embedded = docs_openapi_document(&embedded_len);
    is_int(embedded_len, len, "embedded document has the file's length");
    ok(embedded_len == len && memcmp(embedded, text, len) == 0, "embedded document equals " DOCUMENT_PATH);
    ok(embedded[embedded_len] == '\0', "embedded document is NUL-terminated");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return NULL;
    char *text = NULL;
    size_t cap = 0, used = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(text, cap + 1);
            if (grown == NULL)
                abort();
            text = grown;
        }
        size_t n = fread(text + used, 1, cap - used, file);
        used += n;
        if (n == 0)
            break;
    }
    fclose(file);
    text[used] = '\0';
    *len = used;
    return text;
}

int main(void)
{
    char *id = fastapi_operation_id("create_journey", "/api/v1/journeys/", "POST");
    is_str(id, "create_journey_api_v1_journeys__post", "operationId rule keeps the trailing slash");
    free(id);
    id = fastapi_operation_id("get_nearby_journeys", "/api/v1/journeys/{journey_id}/journeys/nearby", "GET");
    is_str(id, "get_nearby_journeys_api_v1_journeys__journey_id__journeys_nearby_get",
           "operationId rule replaces braces");
    free(id);

    size_t len = 0;
    char *text = read_file(DOCUMENT_PATH, &len);
    ok(text != NULL, DOCUMENT_PATH " is readable");
    if (text == NULL) {
        printf("# cannot open %s: run the test from the top of the tree\n", DOCUMENT_PATH);
        return tap_done();
    }

    json_error_t error;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    ok(doc != NULL, DOCUMENT_PATH " is valid JSON without duplicate keys");
    if (doc == NULL) {
        printf("# %s:%d:%d: %s\n", DOCUMENT_PATH, error.line, error.column, error.text);
        free(text);
        return tap_done();
    }

    const char *version = json_string_value(json_object_get(doc, "openapi"));
    ok(version != NULL && strncmp(version, "3.1.", 4) == 0, "document is OpenAPI 3.1");

    check_embedded_copy(text, len);
    check_routes_are_documented(doc);
    check_operations_are_routes(doc);
    check_operation_ids_unique(doc);
    is_int(count_broken_refs(doc, doc), 0, "every $ref names a schema of the document");
    check_secured_operations_answer_401(doc);

    json_decref(doc);
    free(text);
    return tap_done();
}
