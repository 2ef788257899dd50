/* pvstream-client's settings: the option table (the one --help prints from)
 * and the checks of the command line, kept apart from main.c so that the
 * tests can reach them without SDL or a network. */
#ifndef PVS_CLIENT_OPTIONS_H
#define PVS_CLIENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

struct pvs_client_opts {
    /* from the one positional argument HOST[:PORT] */
    char host[PVS_OPT_STRING_MAX];
    uint16_t port;

    bool headless;
    bool fullscreen;
    bool vsync;
    bool overlay;                       /* start with the statistics overlay shown */
    bool audio;                         /* play the server's sound (--no-audio: don't) */
    bool version;
    char decoder[PVS_OPT_STRING_MAX];   /* auto, software, or a device type */
    int seconds;                        /* 0: until stopped */
    char stats_json[PVS_OPT_STRING_MAX];
    char record[PVS_OPT_STRING_MAX];
    char trace[PVS_OPT_STRING_MAX];
    int media_port;                     /* 0: any free port */
    int media_announce;                 /* the port told to the server; 0: media_port's */
    char losssim[PVS_OPT_STRING_MAX];
    int connect_timeout;                /* seconds before "no answer" */
    int size[2];                        /* the mode to ask the server for; 0x0: the display's */
    int fps;                            /* the refresh to ask for; 0: the display's */
};

/* The table --help prints; ends with a NULL key. */
extern const struct pvs_option pvs_client_options[];

void pvs_client_opts_default(struct pvs_client_opts *o);

/* Splits "HOST", "HOST:PORT" or "[HOST]:PORT" into host and port (the
 * default port when none is given). Returns 0, or PVS_ECONFIG with the
 * reason in err ("bad port 'x' in 'h:x': expected 1..65535"). */
int pvs_client_split_host(const char *arg, char *host, size_t host_cap, uint16_t *port,
                          char *err, size_t err_len);

/* Parses argv[1..argc-1] into o (which holds the defaults). Returns 0 when
 * the client should run; 1 when help or the version was written to `out`
 * (exit 0); PVS_ECONFIG with the reason in err (exit 2). */
int pvs_client_opts_parse(struct pvs_client_opts *o, int argc, char **argv, FILE *out,
                          char *err, size_t err_len);

#endif
