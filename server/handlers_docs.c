/*
 * The documentation routes (see handlers_docs.h).
 *
 * docs/openapi.json and the files that etc/fetch-docs-assets.sh puts in
 * KAIROS_DOCS_ASSETS_DIR (Swagger UI and ReDoc from npm) are compiled in with
 * the assembler's .incbin, so the binary carries them and every request is
 * served from read-only memory. The paths are relative to the directory the
 * compiler runs in, the top of the tree; docs/Makefile.inc makes this object
 * depend on those files.
 *
 * The pages load their scripts and styles only from /docs/static/, and their
 * Content-Security-Policy allows nothing else: no CDN, no inline script.
 * Swagger UI sets inline styles and uses data: images; ReDoc also runs its
 * search index in a blob: worker.
 */
#include "server/handlers_docs.h"

#include <string.h>

#include "server/response.h"

#ifndef KAIROS_DOCS_ASSETS_DIR
#define KAIROS_DOCS_ASSETS_DIR "build/docs-assets"
#endif

/*
 * Defines the hidden symbols `symbol` (the first byte of file) and
 * `symbol`_end (one past its last byte, where a NUL follows) in .rodata.
 */
#define DOCS_EMBED(symbol, file)                                                                                       \
    __asm__(".pushsection .rodata\n"                                                                                   \
            ".balign 16\n"                                                                                             \
            ".globl " #symbol "\n"                                                                                     \
            ".hidden " #symbol "\n" #symbol ":\n"                                                                      \
            ".incbin \"" file "\"\n"                                                                                   \
            ".globl " #symbol "_end\n"                                                                                 \
            ".hidden " #symbol "_end\n" #symbol "_end:\n"                                                              \
            ".byte 0\n"                                                                                                \
            ".popsection\n");                                                                                          \
    extern const char symbol[], symbol##_end[]

DOCS_EMBED(kairos_docs_openapi_json, "docs/openapi.json");
DOCS_EMBED(kairos_docs_swagger_ui_bundle_js, KAIROS_DOCS_ASSETS_DIR "/swagger-ui-bundle.js");
DOCS_EMBED(kairos_docs_swagger_ui_css, KAIROS_DOCS_ASSETS_DIR "/swagger-ui.css");
DOCS_EMBED(kairos_docs_redoc_standalone_js, KAIROS_DOCS_ASSETS_DIR "/redoc.standalone.js");
DOCS_EMBED(kairos_docs_favicon_png, KAIROS_DOCS_ASSETS_DIR "/favicon-32x32.png");

/* Assets change only with the binary; a day keeps a browser from asking again on every page view. */
#define DOCS_ASSET_CACHE_CONTROL "public, max-age=86400"
#define DOCS_PAGE_CACHE_CONTROL  "no-cache"

#define DOCS_SWAGGER_UI_CSP                                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "                  \
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

#define DOCS_REDOC_CSP                                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "                  \
    "font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "               \
    "frame-ancestors 'none'"

static const char DOCS_SWAGGER_UI_HTML[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Kairos API - Swagger UI</title>\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/docs/static/favicon-32x32.png\">\n"
    "<link rel=\"stylesheet\" href=\"/docs/static/swagger-ui.css\">\n"
    "</head>\n"
    "<body>\n"
    "<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/static/swagger-ui-bundle.js\"></script>\n"
    "<script src=\"/docs/static/swagger-init.js\"></script>\n"
    "</body>\n"
    "</html>\n";

/* Starts Swagger UI on the page; a file of its own because the policy forbids inline scripts. */
static const char DOCS_SWAGGER_INIT_JS[] = "window.ui = SwaggerUIBundle({\n"
                                           "    url: '/api/v1/openapi.json',\n"
                                           "    dom_id: '#swagger-ui',\n"
                                           "    layout: 'BaseLayout',\n"
                                           "    deepLinking: true,\n"
                                           "    presets: [SwaggerUIBundle.presets.apis],\n"
                                           "});\n";

/* ReDoc's standalone bundle renders every <redoc spec-url> element by itself when it loads. */
static const char DOCS_REDOC_HTML[] = "<!DOCTYPE html>\n"
                                      "<html lang=\"en\">\n"
                                      "<head>\n"
                                      "<meta charset=\"utf-8\">\n"
                                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                                      "<title>Kairos API - ReDoc</title>\n"
                                      "<link rel=\"icon\" type=\"image/png\" href=\"/docs/static/favicon-32x32.png\">\n"
                                      "</head>\n"
                                      "<body>\n"
                                      "<redoc spec-url=\"/api/v1/openapi.json\"></redoc>\n"
                                      "<script src=\"/docs/static/redoc.standalone.js\"></script>\n"
                                      "</body>\n"
                                      "</html>\n";

struct docs_asset {
    const char *name; /* the last segment of /docs/static/{asset} */
    const char *content_type;
    const char *start;
    const char *end;
};

static const struct docs_asset docs_assets[] = {
    {"swagger-ui-bundle.js", "application/javascript; charset=utf-8", kairos_docs_swagger_ui_bundle_js,
     kairos_docs_swagger_ui_bundle_js_end},
    {"swagger-ui.css", "text/css; charset=utf-8", kairos_docs_swagger_ui_css, kairos_docs_swagger_ui_css_end},
    {"swagger-init.js", "application/javascript; charset=utf-8", DOCS_SWAGGER_INIT_JS,
     DOCS_SWAGGER_INIT_JS + sizeof(DOCS_SWAGGER_INIT_JS) - 1},
    {"redoc.standalone.js", "application/javascript; charset=utf-8", kairos_docs_redoc_standalone_js,
     kairos_docs_redoc_standalone_js_end},
    {"favicon-32x32.png", "image/png", kairos_docs_favicon_png, kairos_docs_favicon_png_end},
};

const char *docs_openapi_document(size_t *len)
{
    *len = (size_t)(kairos_docs_openapi_json_end - kairos_docs_openapi_json);
    return kairos_docs_openapi_json;
}

/* Sets a 200 response whose body lives as long as the process. */
static void docs_answer(struct response *res, const char *content_type, const char *cache_control, const char *body,
                        size_t len)
{
    res->status = 200;
    res->content_type = content_type;
    res->body = body;
    res->body_len = len;
    response_header_add(res, "Cache-Control", cache_control);
    response_header_add(res, "X-Content-Type-Options", "nosniff");
}

static void docs_answer_page(struct response *res, const char *html, size_t len, const char *policy)
{
    docs_answer(res, "text/html; charset=utf-8", DOCS_PAGE_CACHE_CONTROL, html, len);
    response_header_add(res, "Content-Security-Policy", policy);
    response_header_add(res, "Referrer-Policy", "no-referrer");
}

void handle_openapi(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    size_t len;
    const char *document = docs_openapi_document(&len);
    docs_answer(res, "application/json", DOCS_PAGE_CACHE_CONTROL, document, len);
}

void handle_docs_swagger_ui(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    docs_answer_page(res, DOCS_SWAGGER_UI_HTML, sizeof(DOCS_SWAGGER_UI_HTML) - 1, DOCS_SWAGGER_UI_CSP);
}

void handle_docs_redoc(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    docs_answer_page(res, DOCS_REDOC_HTML, sizeof(DOCS_REDOC_HTML) - 1, DOCS_REDOC_CSP);
}

void handle_docs_asset(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    const char *name = request_param(req, "asset");
    for (size_t i = 0; name != NULL && i < sizeof(docs_assets) / sizeof(docs_assets[0]); i++) {
        const struct docs_asset *asset = &docs_assets[i];
        if (strcmp(asset->name, name) == 0) {
            docs_answer(res, asset->content_type, DOCS_ASSET_CACHE_CONTROL, asset->start,
                        (size_t)(asset->end - asset->start));
            return;
        }
    }
    response_detail(req, res, 404, "Not Found");
}
