/* A private Xvfb for tests: started on a free display number from :90 up,
 * stopped (and waited for) at the end. */
#ifndef PVS_TEST_XVFB_H
#define PVS_TEST_XVFB_H

#include <sys/types.h>

struct pvs_test_xvfb {
    pid_t pid;      /* 0 when not running */
    int number;     /* the display number */
    char name[16];  /* ":N", for xcb_connect or the `display` option */
};

/* Starts `Xvfb :N -screen 0 WxHx24 -nolisten tcp` on the first free N in
 * 90..119 and waits (up to 10 s) for its socket. Returns 0, PVS_ENOENT when
 * Xvfb is not installed (the caller skips), or PVS_EIO when none started. */
int pvs_test_xvfb_start(struct pvs_test_xvfb *x, int width, int height);

/* Stops it and waits for it to exit. Accepts one that never started. */
void pvs_test_xvfb_stop(struct pvs_test_xvfb *x);

#endif
