/* Form parsing: urlencoded bodies and query strings, and multipart/form-data as browsers send it. */
#include <string.h>

#include "server/form.h"
#include "t/unit/tap.h"

static struct pool *pool;

static enum kairos_error urlencoded(const char *data, struct form *form)
{
    return form_parse_urlencoded(pool, data, strlen(data), form);
}

static void test_urlencoded(void)
{
    struct form form;
    is_int(urlencoded("username=a%40b.example&password=x+y%21", &form), KAIROS_OK, "urlencoded parses");
    is_int(form.count, 2, "urlencoded has two fields");
    is_str(form_get(&form, "username"), "a@b.example", "percent escape decoded");
    is_str(form_get(&form, "password"), "x y!", "plus is a space");
    is_str(form_get(&form, "grant_type"), NULL, "absent field is NULL");

    is_int(urlencoded("a=&b&=c&&", &form), KAIROS_OK, "empty values parse");
    is_str(form_get(&form, "a"), "", "empty value after =");
    is_str(form_get(&form, "b"), "", "name without = has an empty value");
    is_str(form_get(&form, ""), "c", "empty name is kept");
    is_int(form.count, 3, "empty pairs are skipped");

    is_int(urlencoded("k=1&k=2&other=x&k=3", &form), KAIROS_OK, "repeated keys parse");
    is_int(form_count(&form, "k"), 3, "repeated keys are counted");
    is_str(form_get(&form, "k"), "1", "form_get returns the first value");
    is_int(form_count(&form, "none"), 0, "count of absent name is zero");

    is_int(urlencoded("a=%zz", &form), KAIROS_ERR_INVALID, "bad escape is invalid");
    is_int(urlencoded("a=%4", &form), KAIROS_ERR_INVALID, "truncated escape is invalid");
    is_int(urlencoded("a=%", &form), KAIROS_ERR_INVALID, "lone percent is invalid");
    is_int(urlencoded("%g1=x", &form), KAIROS_ERR_INVALID, "bad escape in name is invalid");

    is_int(urlencoded("", &form), KAIROS_OK, "empty input parses");
    is_int(form.count, 0, "empty input has no fields");

    is_int(form_parse_urlencoded(pool, "t=a%00b&u=1", 11, &form), KAIROS_OK, "encoded NUL parses");
    is_int(form.fields[0].value_len, 3, "value_len counts past an encoded NUL");
    ok(memcmp(form.fields[0].value, "a\0b", 4) == 0, "encoded NUL is decoded and terminated");
    const struct form_field *field = form_find(&form, "t");
    ok(field == &form.fields[0], "form_find returns the first field of the name");
    ok(field != NULL && memchr(field->value, '\0', field->value_len) != NULL, "form_find shows the encoded NUL");
    ok(form_find(&form, "none") == NULL, "form_find of an absent name is NULL");

    is_int(form_parse_urlencoded(pool, "a=1&b=2", 3, &form), KAIROS_OK, "length bounds the input");
    is_int(form.count, 1, "bytes past the length are ignored");
}

/* The body Chromium and Firefox build for FormData {refresh_token, note.txt}. */
static const char browser_body[] = "------WebKitFormBoundaryx8JtQ4vA5n0bYc2Z\r\n"
                                   "Content-Disposition: form-data; name=\"refresh_token\"\r\n"
                                   "\r\n"
                                   "eyJhbGciOiJIUzI1NiJ9.e30.sig\r\n"
                                   "------WebKitFormBoundaryx8JtQ4vA5n0bYc2Z\r\n"
                                   "Content-Disposition: form-data; name=\"note\"; filename=\"note.txt\"\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "\r\n"
                                   "line one\r\nline two\r\n"
                                   "------WebKitFormBoundaryx8JtQ4vA5n0bYc2Z\r\n"
                                   "Content-Disposition: form-data; name=\"empty\"\r\n"
                                   "\r\n"
                                   "\r\n"
                                   "------WebKitFormBoundaryx8JtQ4vA5n0bYc2Z--\r\n";
static const char browser_type[] = "multipart/form-data; boundary=----WebKitFormBoundaryx8JtQ4vA5n0bYc2Z";

static enum kairos_error multipart(const char *type, const char *body, size_t len, struct form *form)
{
    return form_parse_multipart(pool, type, body, len, form);
}

static void test_multipart_browser(void)
{
    struct form form;
    is_int(multipart(browser_type, browser_body, strlen(browser_body), &form), KAIROS_OK, "browser multipart parses");
    is_int(form.count, 3, "browser multipart has three fields");
    is_str(form_get(&form, "refresh_token"), "eyJhbGciOiJIUzI1NiJ9.e30.sig", "text field value");
    is_str(form_get(&form, "note"), "line one\r\nline two", "file part keeps its CRLFs");
    is_str(form_get(&form, "empty"), "", "empty part value");
    is_int(form.fields[2].value_len, 0, "empty part length");

    static const char quoted_type[] =
        "multipart/form-data; charset=utf-8; boundary=\"----WebKitFormBoundaryx8JtQ4vA5n0bYc2Z\"";
    is_int(multipart(quoted_type, browser_body, strlen(browser_body), &form), KAIROS_OK, "quoted boundary parses");
    is_str(form_get(&form, "refresh_token"), "eyJhbGciOiJIUzI1NiJ9.e30.sig", "quoted boundary value");

    static const char upper_type[] = "Multipart/Form-Data; BOUNDARY=----WebKitFormBoundaryx8JtQ4vA5n0bYc2Z";
    is_int(multipart(upper_type, browser_body, strlen(browser_body), &form), KAIROS_OK,
           "media type and parameter name are case-insensitive");
}

static void test_multipart_shapes(void)
{
    struct form form;
    static const char preamble[] = "this is a preamble\r\n--XYZ\r\n"
                                   "content-disposition: form-data; name=a\r\n\r\n1\r\n--XYZ--";
    is_int(multipart("multipart/form-data; boundary=XYZ", preamble, strlen(preamble), &form), KAIROS_OK,
           "preamble and unquoted name parse");
    is_str(form_get(&form, "a"), "1", "value after preamble");

    static const char binary[] = "--B\r\nContent-Disposition: form-data; name=\"bin\"\r\n\r\nx\0y\r\n--B--\r\n";
    is_int(multipart("multipart/form-data; boundary=B", binary, sizeof(binary) - 1, &form), KAIROS_OK,
           "binary part parses");
    is_int(form.fields[0].value_len, 3, "binary part keeps its NUL");

    static const char semicolon[] = "--B\r\nContent-Disposition: form-data; name=\"a;b\"\r\n\r\nv\r\n--B--";
    is_int(multipart("multipart/form-data; boundary=B", semicolon, strlen(semicolon), &form), KAIROS_OK,
           "quoted name with semicolon parses");
    is_str(form_get(&form, "a;b"), "v", "quoted name keeps its semicolon");
}

static void test_multipart_errors(void)
{
    struct form form;
    size_t len = strlen(browser_body);
    is_int(multipart("multipart/form-data", browser_body, len, &form), KAIROS_ERR_INVALID, "missing boundary");
    is_int(multipart("multipart/form-data; boundary=", browser_body, len, &form), KAIROS_ERR_INVALID, "empty boundary");
    is_int(multipart("multipart/form-data; boundary=\"unterminated", browser_body, len, &form), KAIROS_ERR_INVALID,
           "unterminated quoted boundary");
    is_int(multipart("application/json", browser_body, len, &form), KAIROS_ERR_INVALID, "not multipart");
    is_int(multipart(NULL, browser_body, len, &form), KAIROS_ERR_INVALID, "no content type");
    is_int(multipart("multipart/form-data; boundary=other", browser_body, len, &form), KAIROS_ERR_INVALID,
           "boundary not in body");

    is_int(multipart(browser_type, browser_body, len - 10, &form), KAIROS_ERR_INVALID, "truncated closing delimiter");
    is_int(multipart(browser_type, browser_body, 120, &form), KAIROS_ERR_INVALID, "truncated in a part");
    is_int(multipart(browser_type, browser_body, 60, &form), KAIROS_ERR_INVALID, "truncated in part headers");
    is_int(multipart(browser_type, "", 0, &form), KAIROS_ERR_INVALID, "empty body");

    static const char no_name[] = "--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--";
    is_int(multipart("multipart/form-data; boundary=B", no_name, strlen(no_name), &form), KAIROS_ERR_INVALID,
           "part without name");
    static const char no_disposition[] = "--B\r\nContent-Type: text/plain\r\n\r\nv\r\n--B--";
    is_int(multipart("multipart/form-data; boundary=B", no_disposition, strlen(no_disposition), &form),
           KAIROS_ERR_INVALID, "part without Content-Disposition");
    static const char attachment[] = "--B\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--B--";
    is_int(multipart("multipart/form-data; boundary=B", attachment, strlen(attachment), &form), KAIROS_ERR_INVALID,
           "disposition other than form-data");
    static const char garbage[] = "--Bxx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--B--";
    is_int(multipart("multipart/form-data; boundary=B", garbage, strlen(garbage), &form), KAIROS_ERR_INVALID,
           "text after delimiter");
}

int main(void)
{
    pool = pool_create();
    test_urlencoded();
    test_multipart_browser();
    test_multipart_shapes();
    test_multipart_errors();
    pool_destroy(pool);
    return tap_done();
}
