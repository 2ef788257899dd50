/* What the subcommands that run the real programs (e2e, audio) share:
 * finding the programs, a free port pair, reading their JSON output. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/platform/platform.h"

void pvs_bench_find_program(char *out, size_t len, const char *env, const char *rel)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, len, "%s", e);
        return;
    }
    char dir[512];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    dir[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%.512s/../%.256s", n > 0 ? dir : ".", rel);
}

int pvs_bench_free_port(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int port = 40000 + (int)(pvs_time_ns() / 1000 % 20000) + tries * 7;
        struct pvs_addr a, b;
        pvs_socket s1 = PVS_INVALID_SOCKET, s2 = PVS_INVALID_SOCKET;
        bool ok = pvs_addr_resolve(&a, "0.0.0.0", (uint16_t)port) == 0 &&
                  pvs_addr_resolve(&b, "0.0.0.0", (uint16_t)(port + 1)) == 0 &&
                  pvs_udp_open(&s1, &a) == 0 && pvs_udp_open(&s2, &b) == 0;
        pvs_socket_close(&s1);
        pvs_socket_close(&s2);
        if (ok)
            return port;
    }
    return -1;
}

char *pvs_bench_read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break; /* the end, or an error: what was read */
        char *more = cap < ((size_t)256 << 20) ? realloc(buf, cap * 2) : NULL;
        if (!more) {
            free(buf);
            buf = NULL;
        } else {
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The number after "key": inside the object that follows "section":. */
double pvs_bench_json_number(const char *text, const char *section, const char *key)
{
    const char *p = text;
    if (section) {
        char s[64];
        snprintf(s, sizeof(s), "\"%s\"", section);
        p = strstr(text, s);
        if (!p)
            return -1;
    }
    char k[64];
    snprintf(k, sizeof(k), "\"%s\"", key);
    p = strstr(p, k);
    if (!p)
        return -1;
    p = strchr(p + strlen(k), ':');
    return p ? strtod(p + 1, NULL) : -1;
}
