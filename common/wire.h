/* Big-endian integers in a byte buffer: every multi-byte field on the wire
 * (docs/protocol.md) is written and read through these (and GameStream's
 * little-endian ones through the pvs_*_le* below). They are in common/,
 * not net/, because input/ (events) and audio/ (packets) write their own
 * wire forms with them and sit beside net/, not above it. The caller has
 * checked that the bytes are there. */
#ifndef PVS_WIRE_H
#define PVS_WIRE_H

#include <stdint.h>

static inline void pvs_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void pvs_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void pvs_put_be64(uint8_t *p, uint64_t v)
{
    pvs_put_be32(p, (uint32_t)(v >> 32));
    pvs_put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t pvs_get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pvs_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t pvs_get_be64(const uint8_t *p)
{
    return (uint64_t)pvs_get_be32(p) << 32 | pvs_get_be32(p + 4);
}

/* Little-endian: pvstream's own protocol has none, but GameStream (the
 * Moonlight host mode in gamestream/) mixes both orders. */
static inline void pvs_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void pvs_put_le32(uint8_t *p, uint32_t v)
{
    pvs_put_le16(p, (uint16_t)v);
    pvs_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline uint16_t pvs_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pvs_get_le32(const uint8_t *p)
{
    return pvs_get_le16(p) | (uint32_t)pvs_get_le16(p + 2) << 16;
}

static inline uint64_t pvs_get_le64(const uint8_t *p)
{
    return pvs_get_le32(p) | (uint64_t)pvs_get_le32(p + 4) << 32;
}

#endif
