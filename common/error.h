/* Error codes shared by every module.
 *
 * Functions return int: 0 on success, a negative PVS_E* code on failure.
 * Where an errno value says it well the code is that errno negated; the
 * rest are pvstream's own, far from any errno value. pvs_strerror() turns
 * any of them (and any negated errno) into text. */
#ifndef PVS_ERROR_H
#define PVS_ERROR_H

#include <errno.h>

#define PVS_OK          0
#define PVS_ENOMEM      (-ENOMEM)
#define PVS_EINVAL      (-EINVAL)
#define PVS_EAGAIN      (-EAGAIN)
#define PVS_ETIMEDOUT   (-ETIMEDOUT)
#define PVS_ENOENT      (-ENOENT)
#define PVS_EIO         (-EIO)
#define PVS_ENODEV      (-ENODEV)
#define PVS_ERANGE      (-ERANGE)

#define PVS_EREINIT     (-10001) /* source changed size or format: re-open */
#define PVS_ENOTSUP     (-10002) /* not supported by this backend or build */
#define PVS_EBADDATA    (-10003) /* input is malformed */
#define PVS_ENOSTAMP    (-10004) /* no valid frame stamp in the image */
#define PVS_ECONFIG     (-10005) /* bad configuration or command line */
#define PVS_EEXTERNAL   (-10006) /* a library call failed; the log says which */

/* Text for a PVS_E* code or a negated errno. Never NULL; the string is
 * static. */
const char *pvs_strerror(int err);

#endif
