/* Fuzz target for the PIN channel's two messages (gamestream/gs_pin_channel.h):
 * whatever bytes arrive, both parsers return a documented code; a request
 * they accept is exactly "PIN " and four digits and a line end, and an
 * answer they accept gives printable text that fits the buffer. The input
 * is one message, tried as both. The corpus (tests/fuzz/corpus/gs_pin/)
 * holds a request and the two kinds of answer. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gamestream/gs_pin_channel.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char pin[PVS_GS_PIN_DIGITS + 1];
    int rc = pvs_gs_pin_parse_request(buf, size, pin);
    if (rc == 0) {
        char again[16];
        int n = snprintf(again, sizeof(again), "PIN %s\n", pin);
        if (!pvs_gs_pin_valid(pin) || (size_t)n != size || memcmp(again, buf, size) != 0)
            abort();
    } else if (rc != PVS_EBADDATA) {
        abort();
    }
    bool taken;
    char text[16];
    rc = pvs_gs_pin_parse_answer(buf, size, &taken, text, sizeof(text));
    if (rc == 0) {
        size_t n = strnlen(text, sizeof(text));
        if (n == sizeof(text))
            abort();
        for (size_t i = 0; i < n; i++)
            if (text[i] < 0x20 || text[i] > 0x7e)
                abort();
    } else if (rc != PVS_EBADDATA) {
        abort();
    }
    return 0;
}
