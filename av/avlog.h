/* FFmpeg's log, routed into ours. libavcodec reports why an encoder or a
 * device failed only through av_log; this keeps the last error line of the
 * calling thread so that a probe can say why ("Cannot load
 * libnvidia-encode.so.1") instead of a bare error code.
 *
 * Its own layer (av/), below encode/ and client/ (the decoder), which both
 * use it; not common/, which knows nothing of video and links no FFmpeg. */
#ifndef PVS_AVLOG_H
#define PVS_AVLOG_H

#include <stddef.h>

/* Installs the callback (once; safe to call from any thread). FFmpeg's
 * messages go to our log at debug level. */
void pvs_avlog_init(void);
/* Forgets the calling thread's last error line. */
void pvs_avlog_clear(void);
/* The calling thread's last FFmpeg error line since pvs_avlog_clear(), else
 * its last warning or verbose line (some failures are told only there), or "". */
const char *pvs_avlog_last_error(void);
/* av_err2str for C11 (the macro uses a compound literal array). */
const char *pvs_av_strerror(int averr, char *buf, size_t len);

#endif
