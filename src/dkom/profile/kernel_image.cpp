// SPDX-License-Identifier: Apache-2.0
// Profile::from_kernel_image: a bzImage or vmlinux in, a profile out: types from .BTF,
// symbols from kallsyms, the banner read from the image at linux_banner's address.
#include "dkom/profile/btf_reader.h"
#include "dkom/profile/bzimage.h"
#include "dkom/profile/elf_image.h"
#include "dkom/profile/kallsyms.h"
#include "dkom/profile/profile_data.h"

#include "common/log.h"

#include <cctype>
#include <unordered_set>

namespace monarch::dkom {

namespace {

constexpr size_t max_banner_length = 1024;

// Global symbols (upper-case nm letters) win over local ones of the same name: a static
// function may share its name with others, a global one is unique.
void add_symbols(Kallsyms const& kallsyms, BtfSummary const& btf, ProfileData& data)
{
    std::unordered_set<std::string_view> global_names;
    for (auto const& symbol : kallsyms.symbols) {
        bool global = std::isupper(static_cast<unsigned char>(symbol.type));
        auto [it, inserted] = data.symbols.try_emplace(symbol.name, Symbol { .address = symbol.address });
        if (global && (inserted || !global_names.contains(symbol.name))) {
            it->second.address = symbol.address;
            global_names.insert(symbol.name);
        }
        if (auto type = btf.variables.find(symbol.name); type != btf.variables.end())
            it->second.type = type->second;
    }
}

std::optional<std::string> read_banner(ElfImage const& elf, uint64_t address)
{
    auto where = elf.file_offset(address);
    if (!where)
        return std::nullopt;
    auto bytes = elf.bytes().subspan(where->first, std::min<uint64_t>(where->second, max_banner_length));
    // SAFETY: viewing in-bounds image bytes as characters.
    std::string_view text { reinterpret_cast<char const*>(bytes.data()), bytes.size() };
    auto end = text.find('\0');
    if (end == std::string_view::npos || !text.starts_with("Linux version "))
        return std::nullopt;
    return std::string(text.substr(0, end + 1)); // with its NUL, as dwarf2json stores it
}

Result<Profile> profile_from_vmlinux(std::span<std::byte const> vmlinux)
{
    auto elf = TRY(ElfImage::parse(vmlinux));
    auto btf_section = elf.section(".BTF");
    if (!btf_section)
        return fail(Errc::NotFound, "kernel image: no .BTF section (CONFIG_DEBUG_INFO_BTF off?)");
    auto data = std::make_shared<ProfileData>();
    auto btf = TRY(read_btf_types(elf.section_bytes(*btf_section), *data));
    auto kallsyms = TRY(find_kallsyms(vmlinux));
    add_symbols(kallsyms, btf, *data);
    log::debug("profile: {} BTF types, {} structs/unions, {} kallsyms symbols (base {:#x})", btf.btf_types,
        btf.user_types, kallsyms.symbols.size(), kallsyms.layout.relative_base);
    if (auto banner_symbol = data->symbols.find("linux_banner"); banner_symbol != data->symbols.end()) {
        banner_symbol->second.constant_data = read_banner(elf, banner_symbol->second.address);
        if (!banner_symbol->second.constant_data)
            log::warn("profile: linux_banner does not point at a \"Linux version\" string");
    }
    return Profile { std::move(data) };
}

} // namespace

Result<Profile> Profile::from_kernel_image(std::span<std::byte const> image)
{
    if (ElfImage::has_elf_magic(image))
        return profile_from_vmlinux(image);
    auto vmlinux = TRY(extract_vmlinux(image));
    return profile_from_vmlinux(vmlinux);
}

} // namespace monarch::dkom
