/* Replay driver for fuzz targets, so CI runs them without libFuzzer: every
 * file of the corpus directories (or files) named on the command line, then
 * mutations of each (bit flips, truncations, byte runs) from a fixed seed so
 * every run covers the same inputs. A crash or sanitizer report fails the
 * test; an input that returns normally passes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

#define MUTATIONS_PER_INPUT 200
#define REPLAY_MAX_INPUT (1 << 22)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: small, deterministic, good enough to pick mutations */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static unsigned long inputs_run;

static void run_one(const uint8_t *data, size_t size)
{
    /* Copy into an exact-size heap block so ASan sees any overread. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    inputs_run++;
}

static void mutate_and_run(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 64);
    if (!buf)
        abort();
    for (int i = 0; i < MUTATIONS_PER_INPUT; i++) {
        size_t n = size;
        memcpy(buf, data, size);
        switch (rng() % 4) {
        case 0: /* flip a few bits */
            for (int k = 0; n && k < 1 + (int)(rng() % 8); k++)
                buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1: /* truncate */
            n = size ? rng() % size : 0;
            break;
        case 2: /* overwrite a run with one byte value */
            if (n) {
                size_t at = rng() % n, len = 1 + rng() % 16;
                uint8_t v = (uint8_t)rng();
                for (size_t k = at; k < n && k < at + len; k++)
                    buf[k] = v;
            }
            break;
        case 3: /* append random bytes */
            for (int k = 0; k < 1 + (int)(rng() % 63); k++)
                buf[n++] = (uint8_t)rng();
            break;
        }
        run_one(buf, n);
    }
    free(buf);
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    uint8_t *data = malloc(REPLAY_MAX_INPUT);
    if (!data)
        abort();
    size_t n = fread(data, 1, REPLAY_MAX_INPUT, f);
    fclose(f);
    run_one(data, n);
    mutate_and_run(data, n);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int errors = 0;
    unsigned long files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "no such corpus: %s\n", argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += replay_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            errors++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            errors += replay_file(path);
            files++;
        }
        closedir(d);
    }
    /* Pure noise too, of assorted sizes. */
    for (int i = 0; i < 500; i++) {
        uint8_t buf[4096];
        size_t n = rng() % sizeof(buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rng();
        run_one(buf, n);
    }
    if (files == 0) {
        fprintf(stderr, "empty corpus\n");
        errors++;
    }
    printf("replayed %lu corpus files, %lu inputs in all\n", files, inputs_run);
    printf("%lu passed, %d failed\n", errors ? 0 : inputs_run, errors);
    return errors ? 1 : 0;
}
