/* SPDX-License-Identifier: Apache-2.0 */
/* The bytes testos's virtio-blk workload writes, shared with the host-side tests that check the
 * disk image afterwards: byte i of sector s under seed k (testos.seed=) is pattern_byte(k, s, i).
 * Also the sectors it uses and the virtio-net/vsock payload prefix. C and C++. */
#ifndef TESTOS_VIRTIO_PATTERN_H
#define TESTOS_VIRTIO_PATTERN_H

#include <stdint.h>

#define TESTOS_BLK_FIRST_SECTOR 8u  /* the workload writes sectors 8-23 */
#define TESTOS_BLK_SECTORS 16u
#define TESTOS_BLK_MIN_CAPACITY (TESTOS_BLK_FIRST_SECTOR + TESTOS_BLK_SECTORS)

/* A 64-bit mix (splitmix64's finalizer) of seed, sector and the byte's 8-byte lane. */
static inline uint8_t testos_pattern_byte(uint64_t seed, uint64_t sector, uint32_t index)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + sector * 0xbf58476d1ce4e5b9ull + (index / 8) * 0x94d049bb133111ebull;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint8_t)(x >> (8 * (index % 8)));
}

#define TESTOS_NET_ETHERTYPE 0x88b5 /* IEEE 802 local experimental */
#define TESTOS_NET_PING "testos virtio-net ping "
#define TESTOS_NET_PONG "testos virtio-net pong "

#endif
