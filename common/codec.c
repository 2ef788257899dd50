/* Codec names. */
#include <string.h>

#include "common/codec.h"
#include "common/error.h"

static const char *const codec_names[PVS_CODEC_COUNT] = { "h264", "hevc", "av1" };

const char *pvs_codec_name(enum pvs_codec c)
{
    return (unsigned)c < PVS_CODEC_COUNT ? codec_names[c] : "unknown";
}

int pvs_codec_from_name(const char *name, enum pvs_codec *out)
{
    if (!name)
        return PVS_EINVAL;
    for (int i = 0; i < PVS_CODEC_COUNT; i++) {
        if (!strcmp(name, codec_names[i])) {
            *out = (enum pvs_codec)i;
            return 0;
        }
    }
    if (!strcmp(name, "h265")) {
        *out = PVS_CODEC_HEVC;
        return 0;
    }
    return PVS_EINVAL;
}
