/* Text for error codes. */
#include <string.h>

#include "common/error.h"

const char *pvs_strerror(int err)
{
    switch (err) {
    case PVS_OK:        return "success";
    case PVS_EREINIT:   return "the source changed size or format and must be re-opened";
    case PVS_ENOTSUP:   return "not supported here";
    case PVS_EBADDATA:  return "malformed data";
    case PVS_ENOSTAMP:  return "no valid frame stamp";
    case PVS_ECONFIG:   return "bad configuration";
    case PVS_EEXTERNAL: return "a library call failed";
    }
    if (err < 0 && err > -10000)
        return strerror(-err); /* glibc and the Windows CRT both return static text */
    return "unknown error";
}
