/* Fuzz target for input events (input/input.h): whatever arrives,
 * pvs_input_parse returns 0 or PVS_EBADDATA and reads nothing past the
 * message; whatever it accepts is in range (pvs_input_encode takes it),
 * encodes to exactly the message's first bytes (so no field is lost or
 * changed on the way through), and parses back to the same event; its
 * channel is 1 or 2.
 *
 * Input: the message as the server receives it, inner type byte first.
 * The corpus (tests/fuzz/corpus/input/) holds one event of each type as
 * pvs_input_encode writes it, a KEY with bytes a later version might
 * append, and a DualShock 4's GAMEPAD with its optional kind byte. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "input/input.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pvs_input_event ev;
    int rc = pvs_input_parse(data, size, &ev);
    if (rc == PVS_EBADDATA)
        return 0;
    if (rc != 0)
        abort();

    uint8_t out[PVS_INPUT_MAX_MESSAGE];
    int n = pvs_input_encode(&ev, out, sizeof(out));
    if (n < 1 || (size_t)n > size || memcmp(out, data, (size_t)n) != 0)
        abort();

    struct pvs_input_event again;
    uint8_t out2[PVS_INPUT_MAX_MESSAGE];
    if (pvs_input_parse(out, (size_t)n, &again) != 0 || again.type != ev.type ||
        pvs_input_encode(&again, out2, sizeof(out2)) != n ||
        memcmp(out, out2, (size_t)n) != 0)
        abort();

    int ch = pvs_input_channel(ev.type);
    if (ch != 1 && ch != 2)
        abort();
    return 0;
}
