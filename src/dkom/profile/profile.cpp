// SPDX-License-Identifier: Apache-2.0
// Profile queries: symbol addresses, member lookup by dotted path through nested and
// anonymous structs and unions, type sizes, the kernel banner.
#include "dkom/profile/profile_data.h"

#include <array>

namespace monarch::dkom {

namespace {

// Nesting bound for anonymous members and for type references: real kernels nest a few
// levels; a malformed profile that makes a cycle must not recurse forever.
constexpr int max_depth = 32;

struct Found {
    Member const* member;
    uint64_t offset; // from the start of the outermost type
};

UserType const* user_type_of(ProfileData const& data, TypeRef const& type)
{
    if (type.kind != TypeKind::Struct && type.kind != TypeKind::Union && type.kind != TypeKind::Class)
        return nullptr;
    auto it = data.user_types.find(type.name);
    return it == data.user_types.end() ? nullptr : &it->second;
}

// A named member of `type`, or one inside its anonymous struct and union members, as C
// resolves `a.b` when b belongs to an unnamed member of a.
std::optional<Found> find_member(ProfileData const& data, UserType const& type, std::string_view name,
    uint64_t base, int depth)
{
    if (depth > max_depth)
        return std::nullopt;
    for (auto const& member : type.fields) {
        if (!member.anonymous && member.name == name)
            return Found { &member, base + member.offset };
    }
    for (auto const& member : type.fields) {
        if (!member.anonymous)
            continue;
        if (auto const* inner = user_type_of(data, member.type)) {
            if (auto found = find_member(data, *inner, name, base + member.offset, depth + 1))
                return found;
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<TypeKind> parse_type_kind(std::string_view kind)
{
    static constexpr std::array<std::pair<std::string_view, TypeKind>, 9> kinds { {
        { "base", TypeKind::Base }, { "pointer", TypeKind::Pointer }, { "struct", TypeKind::Struct },
        { "union", TypeKind::Union }, { "class", TypeKind::Class }, { "array", TypeKind::Array },
        { "enum", TypeKind::Enum }, { "bitfield", TypeKind::Bitfield }, { "function", TypeKind::Function },
    } };
    for (auto const& [text, value] : kinds) {
        if (text == kind)
            return value;
    }
    return std::nullopt;
}

std::string_view type_kind_name(TypeKind kind)
{
    switch (kind) {
    case TypeKind::Base: return "base";
    case TypeKind::Pointer: return "pointer";
    case TypeKind::Struct: return "struct";
    case TypeKind::Union: return "union";
    case TypeKind::Class: return "class";
    case TypeKind::Array: return "array";
    case TypeKind::Enum: return "enum";
    case TypeKind::Bitfield: return "bitfield";
    case TypeKind::Function: return "function";
    }
    return "base";
}

static std::optional<uint64_t> type_ref_size_at(ProfileData const& data, TypeRef const& type, int depth)
{
    if (depth > max_depth)
        return std::nullopt;
    switch (type.kind) {
    case TypeKind::Base: {
        auto it = data.base_types.find(type.name);
        return it == data.base_types.end() ? std::nullopt : std::optional(it->second.size);
    }
    case TypeKind::Pointer: {
        auto it = data.base_types.find("pointer");
        return it == data.base_types.end() ? 8 : it->second.size;
    }
    case TypeKind::Struct:
    case TypeKind::Union:
    case TypeKind::Class: {
        auto const* user = user_type_of(data, type);
        return user ? std::optional(user->size) : std::nullopt;
    }
    case TypeKind::Enum: {
        auto it = data.enums.find(type.name);
        return it == data.enums.end() ? std::nullopt : std::optional(it->second.size);
    }
    case TypeKind::Array: {
        if (!type.subtype)
            return std::nullopt;
        auto element = type_ref_size_at(data, *type.subtype, depth + 1);
        uint64_t total = 0;
        if (!element || __builtin_mul_overflow(*element, type.count, &total))
            return std::nullopt;
        return total;
    }
    case TypeKind::Bitfield:
        return type.subtype ? type_ref_size_at(data, *type.subtype, depth + 1) : std::nullopt;
    case TypeKind::Function:
        return std::nullopt;
    }
    return std::nullopt;
}

std::optional<uint64_t> type_ref_size(ProfileData const& data, TypeRef const& type)
{
    return type_ref_size_at(data, type, 0);
}

static std::string type_ref_name_at(TypeRef const& type, int depth)
{
    if (depth > max_depth)
        return "?";
    auto sub = [&] { return type.subtype ? type_ref_name_at(*type.subtype, depth + 1) : std::string("void"); };
    switch (type.kind) {
    case TypeKind::Base: return type.name;
    case TypeKind::Pointer: return sub() + " *";
    case TypeKind::Struct: return "struct " + type.name;
    case TypeKind::Union: return "union " + type.name;
    case TypeKind::Class: return "class " + type.name;
    case TypeKind::Enum: return "enum " + type.name;
    case TypeKind::Array: return sub() + " [" + std::to_string(type.count) + "]";
    case TypeKind::Bitfield: return sub();
    case TypeKind::Function: return "function";
    }
    return "?";
}

std::string type_ref_name(TypeRef const& type)
{
    return type_ref_name_at(type, 0);
}

Profile::Profile(std::shared_ptr<ProfileData const> data)
    : m_data(std::move(data))
{
}

std::optional<uint64_t> Profile::symbol_address(std::string_view name) const
{
    auto it = m_data->symbols.find(name);
    if (it == m_data->symbols.end())
        return std::nullopt;
    return it->second.address;
}

std::optional<FieldInfo> Profile::field(std::string_view type, std::string_view path) const
{
    auto it = m_data->user_types.find(type);
    if (it == m_data->user_types.end() || path.empty())
        return std::nullopt;
    UserType const* current = &it->second;
    uint64_t offset = 0;
    while (true) {
        auto dot = path.find('.');
        auto name = path.substr(0, dot);
        auto found = find_member(*m_data, *current, name, offset, 0);
        if (!found)
            return std::nullopt;
        offset = found->offset;
        TypeRef const& member_type = found->member->type;
        if (dot == std::string_view::npos) {
            auto size = type_ref_size(*m_data, member_type);
            FieldInfo info { offset, size.value_or(0), type_ref_name(member_type) };
            if (member_type.kind == TypeKind::Bitfield) {
                info.bit_offset = member_type.bit_position;
                info.bit_size = member_type.bit_length;
                if (info.size != 0 && info.bit_offset + info.bit_size > info.size * 8) {
                    info.offset += info.bit_offset / 8; // a position counted from further back
                    info.bit_offset %= 8;
                }
            }
            return info;
        }
        current = user_type_of(*m_data, member_type);
        if (!current)
            return std::nullopt; // a path may only go through structs and unions, not pointers
        path = path.substr(dot + 1);
    }
}

std::optional<uint64_t> Profile::type_size(std::string_view type) const
{
    if (auto it = m_data->user_types.find(type); it != m_data->user_types.end())
        return it->second.size;
    if (auto it = m_data->base_types.find(type); it != m_data->base_types.end())
        return it->second.size;
    if (auto it = m_data->enums.find(type); it != m_data->enums.end())
        return it->second.size;
    return std::nullopt;
}

std::optional<int64_t> Profile::enum_value(std::string_view enum_name, std::string_view constant) const
{
    auto it = m_data->enums.find(enum_name);
    if (it == m_data->enums.end())
        return std::nullopt;
    for (auto const& [name, value] : it->second.constants) {
        if (name == constant)
            return value;
    }
    return std::nullopt;
}

std::optional<std::string> Profile::kernel_banner() const
{
    auto it = m_data->symbols.find("linux_banner");
    if (it == m_data->symbols.end() || !it->second.constant_data)
        return std::nullopt;
    std::string banner = *it->second.constant_data;
    banner = banner.substr(0, banner.find('\0'));
    while (!banner.empty() && (banner.back() == '\n' || banner.back() == '\r'))
        banner.pop_back();
    return banner;
}

size_t Profile::symbol_count() const { return m_data->symbols.size(); }
size_t Profile::type_count() const { return m_data->user_types.size(); }

} // namespace monarch::dkom
