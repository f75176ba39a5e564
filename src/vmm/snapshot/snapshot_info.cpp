// SPDX-License-Identifier: Apache-2.0
// snapshot.info encoding.
#include "vmm/snapshot/snapshot_info.h"

#include "vmm/snapshot/state_codec.h"

namespace monarch::vmm::snapshot {

namespace {
constexpr std::string_view KIND = "SNAP";
constexpr uint16_t VERSION_FULL = 1;
constexpr uint16_t VERSION_INCREMENT = 2;
constexpr uint32_t MAX_RANGES = 16;
}

std::vector<std::byte> encode_info(SnapshotInfo const& info)
{
    StateEncoder out(KIND, info.parent ? VERSION_INCREMENT : VERSION_FULL);
    out.u32(static_cast<uint32_t>(info.ram.size()));
    for (auto const& range : info.ram) {
        out.u64(range.base.raw());
        out.u64(range.size);
    }
    out.u32(info.vcpu_count);
    if (info.parent) {
        for (auto byte : info.parent->stream.bytes)
            out.u8(static_cast<uint8_t>(byte));
        out.u64(info.parent->generation.raw());
    }
    return out.take();
}

Result<SnapshotInfo> decode_info(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, KIND, VERSION_INCREMENT));
    SnapshotInfo info;
    uint32_t const count = TRY(in.u32());
    if (count > MAX_RANGES)
        return fail(Errc::Corrupt, "snapshot state: too many RAM ranges");
    for (uint32_t i = 0; i < count; ++i) {
        GuestRamRange range;
        range.base = GuestPhysAddr { TRY(in.u64()) };
        range.size = TRY(in.u64());
        info.ram.push_back(range);
    }
    info.vcpu_count = TRY(in.u32());
    if (in.version() == VERSION_INCREMENT) {
        ParentRef parent;
        for (auto& byte : parent.stream.bytes)
            byte = std::byte { TRY(in.u8()) };
        parent.generation = crypt::Generation { TRY(in.u64()) };
        info.parent = parent;
    }
    TRY_VOID(in.finish());
    return info;
}

} // namespace monarch::vmm::snapshot
