/* ObjectId-format identifiers (see id.h). */
#include "storage/id.h"

#include <ctype.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_uint id_counter;
static unsigned char id_random[5];
static pid_t id_random_pid;

void id_generate(char out[ID_HEX_LEN + 1])
{
    /* The 5 random bytes are per process, as in MongoDB drivers; re-drawn after fork(). */
    pid_t pid = getpid();
    if (pid != id_random_pid) {
        randombytes_buf(id_random, sizeof(id_random));
        unsigned int start;
        randombytes_buf(&start, sizeof(start));
        atomic_store(&id_counter, start);
        id_random_pid = pid;
    }

    uint32_t now = (uint32_t)time(NULL);
    uint32_t count = atomic_fetch_add(&id_counter, 1) & 0xffffffu;
    unsigned char raw[12] = {
        (unsigned char)(now >> 24),
        (unsigned char)(now >> 16),
        (unsigned char)(now >> 8),
        (unsigned char)now,
        id_random[0],
        id_random[1],
        id_random[2],
        id_random[3],
        id_random[4],
        (unsigned char)(count >> 16),
        (unsigned char)(count >> 8),
        (unsigned char)count,
    };

    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 0xf];
    }
    out[ID_HEX_LEN] = '\0';
}

bool id_is_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < ID_HEX_LEN; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return s[ID_HEX_LEN] == '\0';
}

bool id_normalize(const char *s, char out[ID_HEX_LEN + 1])
{
    if (!id_is_valid(s))
        return false;
    for (size_t i = 0; i < ID_HEX_LEN; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[ID_HEX_LEN] = '\0';
    return true;
}
