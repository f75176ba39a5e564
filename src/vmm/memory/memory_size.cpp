// SPDX-License-Identifier: Apache-2.0
#include "vmm/memory/memory_size.h"

#include <cstdio>
#include <cstring>

namespace monarch::vmm {

Result<void> check_guest_memory_size(uint64_t size, uint64_t host_total)
{
    if (size == 0)
        return fail(Errc::InvalidArgument, "guest memory size is 0");
    if (size < GUEST_MEMORY_MIN)
        return fail(Errc::InvalidArgument, "guest memory size is below the minimum of 16 MiB");
    if (size % GUEST_MEMORY_ALIGNMENT != 0)
        return fail(Errc::InvalidArgument, "guest memory size is not a multiple of 4 KiB");
    if (host_total != 0 && size > host_total)
        return fail(Errc::OutOfRange, "guest memory size is more than the host's memory");
    return {};
}

Result<uint64_t> host_memory_total()
{
    std::FILE* file = std::fopen("/proc/meminfo", "re");
    if (!file)
        return fail_errno("/proc/meminfo");
    char line[256];
    unsigned long long kib = 0;
    bool found = false;
    while (std::fgets(line, sizeof line, file)) {
        if (std::sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
            found = true;
            break;
        }
    }
    std::fclose(file);
    if (!found || kib == 0)
        return fail(Errc::NotFound, "/proc/meminfo has no MemTotal line");
    return uint64_t { kib } * 1024;
}

} // namespace monarch::vmm
