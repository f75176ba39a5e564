// SPDX-License-Identifier: Apache-2.0
// A kernel profile: symbol addresses and type layouts of one guest kernel build, read from
// a Volatility 3 ISF JSON file or made from the kernel image itself (BTF + kallsyms).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace monarch::dkom {

// Where a member lies inside its outermost type. For a bitfield, `offset` is the byte offset
// of its storage unit (of `size` bytes) and the value is bits [bit_offset, bit_offset + bit_size)
// of that unit, read little-endian; bit_size == 0 means "not a bitfield".
struct FieldInfo {
    uint64_t offset;
    uint64_t size;
    std::string type_name; // C spelling: "int", "struct list_head", "struct task_struct *", "char [16]"
    uint32_t bit_offset { 0 };
    uint32_t bit_size { 0 };
};

struct ProfileData; // the parsed tables; shared, immutable

class Profile {
public:
    // Volatility 3's Intermediate Symbol Format (what dwarf2json writes). Any malformed
    // input gives Errc::BadImage with a context; nothing throws.
    [[nodiscard]] static Result<Profile> from_isf_json(std::string_view json);
    // A file holding ISF JSON, plain or compressed (.xz, .gz: recognised by content).
    [[nodiscard]] static Result<Profile> from_isf_file(std::string const& path);
    // A bzImage or a vmlinux ELF: types from its .BTF section, symbols from its kallsyms tables.
    [[nodiscard]] static Result<Profile> from_kernel_image(std::span<std::byte const> image);

    [[nodiscard]] std::string to_isf_json() const;

    // The link-time (unslid) virtual address of a kernel symbol.
    [[nodiscard]] std::optional<uint64_t> symbol_address(std::string_view name) const;
    // A member of a struct or union by dotted path ("se.sum_exec_runtime"), through nested
    // structs and unions; members of anonymous structs and unions are found transparently.
    // Offsets are from the start of `type`.
    [[nodiscard]] std::optional<FieldInfo> field(std::string_view type, std::string_view path) const;
    // sizeof(struct/union type), or of a base type or enum of that name.
    [[nodiscard]] std::optional<uint64_t> type_size(std::string_view type) const;
    // The value of an enum's constant: enum_value("pid_type", "PIDTYPE_TGID").
    [[nodiscard]] std::optional<int64_t> enum_value(std::string_view enum_name, std::string_view constant) const;
    // The linux_banner string ("Linux version 6.1.0-... ") when the profile knows it.
    [[nodiscard]] std::optional<std::string> kernel_banner() const;

    [[nodiscard]] size_t symbol_count() const;
    [[nodiscard]] size_t type_count() const; // structs and unions

    explicit Profile(std::shared_ptr<ProfileData const> data);

private:
    std::shared_ptr<ProfileData const> m_data;
};

} // namespace monarch::dkom
