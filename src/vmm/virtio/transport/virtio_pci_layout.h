// SPDX-License-Identifier: Apache-2.0
// virtio-pci modern layout (virtio 1.2 section 4.1): PCI IDs, the vendor capability types,
// struct virtio_pci_common_cfg offsets, and where each structure sits in our one memory BAR.
#pragma once

#include <cstdint>

namespace monarch::vmm::virtio::pci_layout {

inline constexpr uint16_t VENDOR_ID = 0x1af4;             // section 4.1.2
inline constexpr uint16_t DEVICE_ID_BASE = 0x1040;        // 0x1040 + virtio device ID
inline constexpr uint8_t REVISION = 1;                    // non-transitional
inline constexpr uint16_t SUBSYSTEM_ID_BASE = 0x40;       // "SHOULD be 0x40 or higher"

// struct virtio_pci_cap (section 4.1.4): cap_vndr 0x09, then these bytes after ID and next.
inline constexpr uint8_t CAPABILITY_VENDOR = 0x09;
inline constexpr uint8_t CAP_COMMON_CFG = 1;
inline constexpr uint8_t CAP_NOTIFY_CFG = 2;
inline constexpr uint8_t CAP_ISR_CFG = 3;
inline constexpr uint8_t CAP_DEVICE_CFG = 4;
inline constexpr uint8_t CAP_PCI_CFG = 5;
inline constexpr uint8_t CAP_LENGTH = 16;        // struct virtio_pci_cap
inline constexpr uint8_t NOTIFY_CAP_LENGTH = 20; // + notify_off_multiplier
inline constexpr uint8_t PCI_CFG_CAP_LENGTH = 20; // + pci_cfg_data[4]
// Offsets inside a capability, from its ID byte.
inline constexpr uint16_t CAP_BAR = 4;
inline constexpr uint16_t CAP_OFFSET = 8;
inline constexpr uint16_t CAP_LENGTH_FIELD = 12;
inline constexpr uint16_t CAP_EXTRA = 16; // notify_off_multiplier or pci_cfg_data

// struct virtio_pci_common_cfg (section 4.1.4.3).
namespace common {
inline constexpr uint64_t DEVICE_FEATURE_SELECT = 0x00; // le32 RW
inline constexpr uint64_t DEVICE_FEATURE = 0x04;        // le32 R
inline constexpr uint64_t DRIVER_FEATURE_SELECT = 0x08; // le32 RW
inline constexpr uint64_t DRIVER_FEATURE = 0x0c;        // le32 RW
inline constexpr uint64_t CONFIG_MSIX_VECTOR = 0x10;    // le16 RW
inline constexpr uint64_t NUM_QUEUES = 0x12;            // le16 R
inline constexpr uint64_t DEVICE_STATUS = 0x14;         // u8 RW
inline constexpr uint64_t CONFIG_GENERATION = 0x15;     // u8 R
inline constexpr uint64_t QUEUE_SELECT = 0x16;          // le16 RW
inline constexpr uint64_t QUEUE_SIZE = 0x18;            // le16 RW
inline constexpr uint64_t QUEUE_MSIX_VECTOR = 0x1a;     // le16 RW
inline constexpr uint64_t QUEUE_ENABLE = 0x1c;          // le16 RW
inline constexpr uint64_t QUEUE_NOTIFY_OFF = 0x1e;      // le16 R
inline constexpr uint64_t QUEUE_DESC = 0x20;            // le64 RW
inline constexpr uint64_t QUEUE_DRIVER = 0x28;          // le64 RW
inline constexpr uint64_t QUEUE_DEVICE = 0x30;          // le64 RW
inline constexpr uint64_t QUEUE_NOTIF_CONFIG_DATA = 0x38; // le16 R (0: feature not offered)
inline constexpr uint64_t QUEUE_RESET = 0x3a;           // le16 RW (0: feature not offered)
inline constexpr uint64_t SIZE = 0x3c;
} // namespace common

inline constexpr uint8_t ISR_QUEUE = 1;  // section 4.1.4.5: used buffer notification
inline constexpr uint8_t ISR_CONFIG = 2; // configuration change

// Our BAR 0 (64-bit memory, not prefetchable: ISR reads have side effects). Each structure
// starts on its own 4 KiB page so that a driver can map them separately.
inline constexpr uint8_t BAR_INDEX = 0;
inline constexpr uint64_t COMMON_OFFSET = 0x0000;
inline constexpr uint64_t ISR_OFFSET = 0x1000;
inline constexpr uint64_t ISR_LENGTH = 1;
inline constexpr uint64_t DEVICE_OFFSET = 0x2000;
inline constexpr uint64_t DEVICE_LENGTH = 0x1000;
inline constexpr uint64_t NOTIFY_OFFSET = 0x3000;
inline constexpr uint32_t NOTIFY_OFF_MULTIPLIER = 4; // queue n is kicked at NOTIFY_OFFSET + 4n
inline constexpr uint64_t NOTIFY_LENGTH = 0x1000;
inline constexpr uint64_t MSIX_TABLE_OFFSET = 0x4000;
inline constexpr uint64_t MSIX_TABLE_LENGTH = 0x2000; // up to 512 vectors
inline constexpr uint64_t MSIX_PBA_OFFSET = 0x6000;
inline constexpr uint64_t MSIX_PBA_LENGTH = 0x1000;
inline constexpr uint64_t BAR_SIZE = 0x8000;

} // namespace monarch::vmm::virtio::pci_layout
