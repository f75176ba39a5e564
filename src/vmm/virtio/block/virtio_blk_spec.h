// SPDX-License-Identifier: Apache-2.0
// virtio-blk wire constants (virtio 1.2 section 5.2): feature bits, request types, status
// values, the request header and discard/write-zeroes segment layouts, config offsets.
#pragma once

#include <cstdint>

namespace monarch::vmm::virtio::blk {

// Section 5.2.3: feature bits.
inline constexpr uint64_t F_SIZE_MAX = 1ULL << 1;      // size_max: largest segment
inline constexpr uint64_t F_SEG_MAX = 1ULL << 2;       // seg_max: segments per request
inline constexpr uint64_t F_RO = 1ULL << 5;            // the device is read-only
inline constexpr uint64_t F_BLK_SIZE = 1ULL << 6;      // blk_size: logical block size
inline constexpr uint64_t F_FLUSH = 1ULL << 9;         // VIRTIO_BLK_T_FLUSH
inline constexpr uint64_t F_DISCARD = 1ULL << 13;      // VIRTIO_BLK_T_DISCARD
inline constexpr uint64_t F_WRITE_ZEROES = 1ULL << 14; // VIRTIO_BLK_T_WRITE_ZEROES

// Section 5.2.6: request types.
enum class RequestType : uint32_t {
    In = 0,           // read
    Out = 1,          // write
    Flush = 4,
    GetId = 8,        // 20-byte device ID string
    GetLifetime = 10,
    Discard = 11,
    WriteZeroes = 13,
    SecureErase = 14,
};

// Section 5.2.6: the status byte, the last byte the device writes.
inline constexpr uint8_t S_OK = 0;
inline constexpr uint8_t S_IOERR = 1;
inline constexpr uint8_t S_UNSUPP = 2;

inline constexpr uint64_t SECTOR_SIZE = 512;     // sectors are always 512 bytes (section 5.2.6)
inline constexpr uint64_t SECTOR_SHIFT = 9;
inline constexpr uint32_t ID_BYTES = 20;         // VIRTIO_BLK_ID_BYTES
inline constexpr uint32_t HEADER_BYTES = 16;     // type, reserved, sector
inline constexpr uint32_t SEGMENT_BYTES = 16;    // sector, num_sectors, flags
inline constexpr uint32_t SEGMENT_F_UNMAP = 1;   // write zeroes: the device may deallocate

struct RequestHeader {
    uint32_t type;
    uint32_t reserved; // ioprio in legacy drivers; ignored
    uint64_t sector;
};
static_assert(sizeof(RequestHeader) == HEADER_BYTES);

struct DiscardSegment {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
static_assert(sizeof(DiscardSegment) == SEGMENT_BYTES);

// Section 5.2.4: struct virtio_blk_config (little-endian; offsets of the fields we fill).
namespace config {
inline constexpr uint64_t CAPACITY = 0;                    // le64, in 512-byte sectors
inline constexpr uint64_t SEGMENT_SIZE_MAX = 8;                   // le32
inline constexpr uint64_t SEG_MAX = 12;                  // le32
inline constexpr uint64_t BLK_SIZE = 20;                   // le32
inline constexpr uint64_t MAX_DISCARD_SECTORS = 36;        // le32
inline constexpr uint64_t MAX_DISCARD_SEG = 40;            // le32
inline constexpr uint64_t DISCARD_SECTOR_ALIGNMENT = 44;   // le32
inline constexpr uint64_t MAX_WRITE_ZEROES_SECTORS = 48;   // le32
inline constexpr uint64_t MAX_WRITE_ZEROES_SEG = 52;       // le32
inline constexpr uint64_t WRITE_ZEROES_MAY_UNMAP = 56;     // u8
inline constexpr uint64_t BYTES = 60;                      // up to and including unused1[3]
} // namespace config

} // namespace monarch::vmm::virtio::blk
