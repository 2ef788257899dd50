/* The entry point every fuzz target defines, for libFuzzer and for the
 * replay driver (replay.c). */
#ifndef PVS_FUZZ_H
#define PVS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
