/* pvstream-bench: subcommands and the reporting they share. */
#ifndef PVS_BENCH_H
#define PVS_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/stats.h"

/* Each subcommand: argv[0] is the subcommand's name. Returns the exit code. */
int pvs_bench_encode(int argc, char **argv);
int pvs_bench_convert(int argc, char **argv);
int pvs_bench_encoders(int argc, char **argv);
int pvs_bench_capture(int argc, char **argv);
int pvs_bench_fec(int argc, char **argv);
int pvs_bench_net(int argc, char **argv);
int pvs_bench_stampread(int argc, char **argv);
int pvs_bench_e2e(int argc, char **argv);
int pvs_bench_paint(int argc, char **argv);
int pvs_bench_audio(int argc, char **argv);
int pvs_bench_link(int argc, char **argv);
int pvs_bench_abr(int argc, char **argv);

/* Parses a subcommand's options (after argv[0]) into `settings`, printing
 * usage for --help and a clear error for a bad option. Returns -1 to go on,
 * or an exit code (0 after --help, 2 after an error). */
int pvs_bench_parse(const char *cmd, const char *synopsis, const struct pvs_option *table,
                    void *settings, int argc, char **argv);

/* What an option table cannot say about --size: the test desktop and the
 * encoders take even sizes only, and the test desktop is at most
 * `max_height` high. Returns -1 to go on, or 2 after printing the error. */
int pvs_bench_check_size(const char *cmd, const int size[2], int max_height);

/* A stage of a measured pipeline: its statistics and, for the plot, the
 * latency of every frame (NULL when not kept). */
struct pvs_bench_stage {
    const char *name;
    struct pvs_stats stats;
    float *per_frame_ms;
};

/* "stage   p50 ms  p95 ms  p99 ms  max ms" and one row per stage. */
void pvs_bench_print_table(FILE *out, const struct pvs_bench_stage *stages, int n);

/* Progress on stderr, only when it is a terminal; pass done == total to end
 * the line. */
void pvs_bench_progress(const char *what, uint64_t done, uint64_t total);

/* For the subcommands that run the real programs (programs.c). */
/* The program at $env when set, else at rel from this program's directory's
 * parent ("server/pvstream-server"). */
void pvs_bench_find_program(char *out, size_t len, const char *env, const char *rel);
/* A UDP port whose next port is free too (a server's control and media
 * ports), or -1. */
int pvs_bench_free_port(void);
/* A whole file (up to 256 MiB), NUL-terminated (the caller frees); NULL
 * when it cannot be read. */
char *pvs_bench_read_all(const char *path);
/* The number after "key": in JSON text (inside the object that follows
 * "section": when section is not NULL), or -1 when absent. */
double pvs_bench_json_number(const char *text, const char *section, const char *key);

/* A small streaming JSON writer: enough for flat objects and nesting. */
struct pvs_json {
    FILE *f;
    const char *path; /* for messages */
    int depth;
    bool need_comma[16];
};
int pvs_json_open(struct pvs_json *j, const char *path);
int pvs_json_close(struct pvs_json *j); /* 0, or PVS_EIO when writing failed (and says so) */
void pvs_json_begin(struct pvs_json *j, const char *key);  /* an object; key NULL at top */
void pvs_json_end(struct pvs_json *j);
/* An array; its elements are written with key NULL (pvs_json_begin(j, NULL)
 * for objects in it). */
void pvs_json_array(struct pvs_json *j, const char *key);
void pvs_json_array_end(struct pvs_json *j);
void pvs_json_str(struct pvs_json *j, const char *key, const char *v);
void pvs_json_num(struct pvs_json *j, const char *key, double v);
void pvs_json_int(struct pvs_json *j, const char *key, int64_t v);
/* {"p50_ms", "p95_ms", "p99_ms", "max_ms"} of a stage under `key`. */
void pvs_json_stats(struct pvs_json *j, const char *key, const struct pvs_stats *s);

/* An SVG with per-frame latency over time for each stage (left) and each
 * stage's p50/p95/p99/max (right). Returns 0 or a negative PVS_E* code. */
int pvs_bench_svg(const char *path, const char *title,
                  const struct pvs_bench_stage *stages, int n, uint64_t frames);

/* An SVG comparing runs: one row each (label on the left, note on the
 * right), and for each of up to 4 series a bar from p50 to p99 with a
 * tick at p50, on one axis in ms. Returns 0 or a negative PVS_E* code. */
struct pvs_bench_bar_row {
    const char *label;  /* "libx264 1920x1080@60 game" */
    const char *note;   /* "18.4 Mbit/s, PSNR-Y 41.2 dB", "too slow: 23 of 60 fps" */
    struct pvs_stats_summary series[4];
};
int pvs_bench_svg_bars(const char *path, const char *title, const char *const *series,
                       int nseries, const struct pvs_bench_bar_row *rows, int n);

#endif
