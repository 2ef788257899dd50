/* A bounded text writer for the GameStream host's text messages (RTSP
 * replies, SDP bodies): printf into a fixed buffer, and remember whether
 * anything did not fit, so a caller checks once at the end. */
#ifndef PVS_GS_TEXT_H
#define PVS_GS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

struct pvs_gs_text {
    char *p;                     /* NUL-terminated after every call */
    size_t cap;
    size_t n;                    /* bytes written */
    bool full;                   /* something did not fit: the text is cut */
};

/* Starts writing into buf (cap >= 1). */
void pvs_gs_text_init(struct pvs_gs_text *t, char *buf, size_t cap);

/* Appends; once anything did not fit, appends nothing more. */
PVS_PRINTF(2, 3)
void pvs_gs_textf(struct pvs_gs_text *t, const char *fmt, ...);

#endif
