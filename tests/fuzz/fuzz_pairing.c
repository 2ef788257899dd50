/* Fuzz target for the pairing messages (net/pairing.h): any bytes given to
 * pvs_pair_parse must be refused or parsed into a message that encodes back
 * to exactly the same bytes. The input is one datagram. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/pairing.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pvs_pair_msg m;
    int rc = pvs_pair_parse(data, size, &m);
    if (rc == PVS_EBADDATA)
        return 0;
    if (rc != 0)
        abort();
    uint8_t buf[PVS_PAIR_MAX_MESSAGE];
    int n = pvs_pair_encode(&m, buf, sizeof(buf));
    if (n < 0 || (size_t)n != size || memcmp(buf, data, size) != 0)
        abort();
    return 0;
}
