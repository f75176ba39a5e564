// SPDX-License-Identifier: Apache-2.0
// Writes hvm_start_info v1, the hvm_memmap_table_entry array and the module list for PVH entry.
#include "vmm/boot/pvh.h"

#include "vmm/boot/boot_layout.h"
#include "vmm/boot/e820.h"

#include <span>

namespace monarch::vmm::boot {

namespace {

Result<uint32_t> write_memmap(GuestMemory& memory, std::vector<LoadedRegion>& loaded)
{
    auto map = build_e820(memory);
    if (map.size() > PVH_MEMMAP_MAX_ENTRIES)
        return fail(Errc::OutOfRange, "PVH: too many memory map entries");
    std::vector<HvmMemmapEntry> entries;
    for (auto const& entry : map)
        entries.push_back({ entry.addr, entry.size, entry.type, 0 });
    GuestPhysAddr base { layout::PVH_MEMMAP_START };
    TRY_VOID(memory.write(base, std::as_bytes(std::span { entries })));
    loaded.push_back({ base, entries.size() * sizeof(HvmMemmapEntry), "memmap" });
    return static_cast<uint32_t>(entries.size());
}

} // namespace

Result<GuestPhysAddr> write_pvh_start_info(GuestMemory& memory, PvhBootData const& data, std::vector<LoadedRegion>& loaded)
{
    HvmStartInfo info {};
    info.magic = XEN_HVM_START_MAGIC_VALUE;
    info.version = 1;
    info.memmap_entries = TRY(write_memmap(memory, loaded));
    info.memmap_paddr = layout::PVH_MEMMAP_START;
    if (data.cmdline)
        info.cmdline_paddr = data.cmdline->raw();
    if (data.rsdp)
        info.rsdp_paddr = data.rsdp->raw();
    if (data.initrd) {
        HvmModlistEntry module { data.initrd->base.raw(), data.initrd->size, 0, 0 };
        GuestPhysAddr modlist { PVH_MODLIST_START };
        TRY_VOID(memory.write_obj(modlist, module));
        loaded.push_back({ modlist, sizeof module, "modlist" });
        info.nr_modules = 1;
        info.modlist_paddr = PVH_MODLIST_START;
    }
    GuestPhysAddr start_info { layout::PVH_START_INFO_START };
    TRY_VOID(memory.write_obj(start_info, info));
    loaded.push_back({ start_info, sizeof info, "start_info" });
    return start_info;
}

} // namespace monarch::vmm::boot
