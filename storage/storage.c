/* Opening a backend from a URI, and helpers shared by both backends. */
#include "storage/storage.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "storage/backends.h"

bool storage_uri_is_mongodb(const char *uri)
{
    return strncmp(uri, "mongodb://", 10) == 0 || strncmp(uri, "mongodb+srv://", 14) == 0;
}

enum kairos_error storage_open(const char *uri, struct storage **out, char *err, size_t err_len)
{
    if (storage_uri_is_mongodb(uri))
        return mongo_storage_open(uri, out, err, err_len);
    return spatialite_storage_open(uri, out, err, err_len);
}

void storage_close(struct storage *s)
{
    if (s != NULL)
        s->ops->close(s);
}

char *storage_email_normalize(struct pool *pool, const char *email)
{
    if (email == NULL)
        return NULL;
    while (isspace((unsigned char)*email))
        email++;
    size_t len = strlen(email);
    while (len > 0 && isspace((unsigned char)email[len - 1]))
        len--;
    if (len == 0)
        return NULL;
    char *out = pool_strndup(pool, email, len);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

int64_t storage_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
