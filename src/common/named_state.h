// SPDX-License-Identifier: Apache-2.0
// NamedState: one encoded piece of VM state with the name it is stored under ("vcpu0",
// "uart.com1", "virtio.03"...). Snapshots, dumps and the machine's state capture all use it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace monarch {

struct NamedState {
    std::string name;
    std::vector<std::byte> bytes;
};

} // namespace monarch
