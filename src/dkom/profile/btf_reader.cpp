// SPDX-License-Identifier: Apache-2.0
// BTF to ISF tables through libbpf: typedefs and qualifiers resolved away (as dwarf2json
// does), bitfields turned into ISF bitfield descriptors over their storage unit.
#include "dkom/profile/btf_reader.h"

#include <algorithm>
#include <bpf/btf.h>
#include <cerrno>
#include <fmt/format.h>

namespace monarch::dkom {

namespace {

constexpr int max_chain = 64; // typedef/qualifier/pointer/array chains; real ones are short

class BtfConverter {
public:
    BtfConverter(struct btf const* btf, ProfileData& data) : m_btf(btf), m_data(data) {}

    Result<TypeRef> type_ref(uint32_t id, int depth = 0);
    Result<void> add_composite(uint32_t id, struct btf_type const* type);
    Result<void> add_enum(uint32_t id, struct btf_type const* type);

private:
    std::string name_of(struct btf_type const* type) const
    {
        char const* name = btf__name_by_offset(m_btf, type->name_off);
        return name ? name : "";
    }
    std::string type_name(uint32_t id, struct btf_type const* type) const
    {
        auto name = name_of(type);
        return name.empty() ? fmt::format("unnamed_btf_{}", id) : name;
    }
    void add_int(struct btf_type const* type, std::string const& name);
    Result<Member> make_member(struct btf_type const* parent, uint16_t index, std::vector<Member> const& siblings);

    struct btf const* m_btf;
    ProfileData& m_data;
};

void BtfConverter::add_int(struct btf_type const* type, std::string const& name)
{
    if (m_data.base_types.contains(name))
        return;
    uint8_t encoding = btf_int_encoding(type);
    BaseType base { .size = type->size, .is_signed = (encoding & BTF_INT_SIGNED) != 0 };
    if ((encoding & BTF_INT_BOOL) || name == "_Bool")
        base.kind = "bool";
    else if ((encoding & BTF_INT_CHAR) || name.find("char") != std::string::npos)
        base.kind = "char";
    m_data.base_types.emplace(name, std::move(base));
}

Result<TypeRef> BtfConverter::type_ref(uint32_t id, int depth)
{
    if (depth > max_chain)
        return fail(Errc::BadImage, "BTF: type reference chain too long (a cycle?)");
    if (id == 0)
        return TypeRef { .kind = TypeKind::Base, .name = "void" };
    auto const* type = btf__type_by_id(m_btf, id);
    if (!type)
        return fail(Errc::BadImage, "BTF: type id out of range");
    switch (btf_kind(type)) {
    case BTF_KIND_INT: {
        auto name = name_of(type);
        add_int(type, name);
        return TypeRef { .kind = TypeKind::Base, .name = name };
    }
    case BTF_KIND_FLOAT: {
        auto name = name_of(type);
        m_data.base_types.try_emplace(name, BaseType { .size = type->size, .is_signed = true, .kind = "float" });
        return TypeRef { .kind = TypeKind::Base, .name = name };
    }
    case BTF_KIND_PTR:
        return TypeRef { .kind = TypeKind::Pointer,
            .subtype = std::make_shared<TypeRef const>(TRY(type_ref(type->type, depth + 1))) };
    case BTF_KIND_ARRAY: {
        auto const* array = btf_array(type);
        return TypeRef { .kind = TypeKind::Array, .count = array->nelems,
            .subtype = std::make_shared<TypeRef const>(TRY(type_ref(array->type, depth + 1))) };
    }
    case BTF_KIND_STRUCT:
        return TypeRef { .kind = TypeKind::Struct, .name = type_name(id, type) };
    case BTF_KIND_UNION:
        return TypeRef { .kind = TypeKind::Union, .name = type_name(id, type) };
    case BTF_KIND_FWD:
        return TypeRef { .kind = btf_kflag(type) ? TypeKind::Union : TypeKind::Struct, .name = name_of(type) };
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
        return TypeRef { .kind = TypeKind::Enum, .name = type_name(id, type) };
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
        return type_ref(type->type, depth + 1);
    case BTF_KIND_FUNC_PROTO:
    case BTF_KIND_FUNC:
        return TypeRef { .kind = TypeKind::Function };
    default:
        return fail(Errc::BadImage, "BTF: a member's type is of an unexpected kind");
    }
}

// A member's ISF form. BTF gives a bitfield's position in bits from the start of the struct;
// ISF (and Volatility) read the storage type at a byte offset and shift by bit_position.
Result<Member> BtfConverter::make_member(struct btf_type const* parent, uint16_t index, std::vector<Member> const& siblings)
{
    auto const& raw = btf_members(parent)[index];
    uint32_t bit_offset = btf_member_bit_offset(parent, index);
    uint32_t bit_size = btf_member_bitfield_size(parent, index);
    Member member { .name = btf__name_by_offset(m_btf, raw.name_off) ? btf__name_by_offset(m_btf, raw.name_off) : "" };
    member.type = TRY(type_ref(raw.type));
    if (member.name.empty()) {
        // dwarf2json's spelling for unnamed members; a suffix keeps two at one offset apart.
        member.anonymous = true;
        member.name = fmt::format("unnamed_field_{:x}", bit_offset / 8);
        for (int suffix = 1; std::any_of(siblings.begin(), siblings.end(), [&](Member const& m) { return m.name == member.name; }); ++suffix)
            member.name = fmt::format("unnamed_field_{:x}_{}", bit_offset / 8, suffix);
    }
    if (bit_size == 0) {
        if (bit_offset % 8 != 0)
            return fail(Errc::BadImage, "BTF: a member that is not a bitfield starts inside a byte");
        member.offset = bit_offset / 8;
        return member;
    }
    if (member.type.kind != TypeKind::Base && member.type.kind != TypeKind::Enum)
        return fail(Errc::BadImage, "BTF: a bitfield of a type that is neither integer nor enum");
    auto resolved = btf__resolve_size(m_btf, raw.type);
    uint64_t unit = resolved > 0 ? static_cast<uint64_t>(resolved) : 1;
    if (unit > 8 || (unit & (unit - 1)) != 0)
        unit = 1;
    uint64_t start = (bit_offset / 8) & ~(unit - 1);
    uint64_t position = bit_offset - start * 8;
    if (position + bit_size > unit * 8) { // a packed bitfield straddling its unit
        start = bit_offset / 8;
        position = bit_offset % 8;
    }
    if (position + bit_size > 64)
        return fail(Errc::BadImage, "BTF: a bitfield wider than 64 bits");
    member.offset = start;
    member.type = TypeRef { .kind = TypeKind::Bitfield, .bit_position = static_cast<uint32_t>(position),
        .bit_length = bit_size, .subtype = std::make_shared<TypeRef const>(std::move(member.type)) };
    return member;
}

Result<void> BtfConverter::add_composite(uint32_t id, struct btf_type const* type)
{
    auto name = type_name(id, type);
    if (m_data.user_types.contains(name))
        return {}; // the same name defined twice: the first definition wins
    UserType user { .kind = btf_is_union(type) ? TypeKind::Union : TypeKind::Struct, .size = type->size };
    uint16_t count = btf_vlen(type);
    user.fields.reserve(count);
    for (uint16_t i = 0; i < count; ++i) {
        auto member = TRY(make_member(type, i, user.fields));
        if (member.offset > user.size)
            return fail(Errc::BadImage, "BTF: a member lies beyond its struct's size");
        user.fields.push_back(std::move(member));
    }
    m_data.user_types.emplace(std::move(name), std::move(user));
    return {};
}

Result<void> BtfConverter::add_enum(uint32_t id, struct btf_type const* type)
{
    auto name = type_name(id, type);
    if (m_data.enums.contains(name))
        return {};
    EnumType result { .size = type->size };
    bool is_signed = btf_kflag(type); // BTF: kflag set means a signed enum
    for (uint16_t i = 0; i < btf_vlen(type); ++i) {
        bool wide = btf_is_enum64(type);
        uint32_t name_off = wide ? btf_enum64(type)[i].name_off : btf_enum(type)[i].name_off;
        int64_t value = wide ? static_cast<int64_t>(btf_enum64_value(&btf_enum64(type)[i]))
                             : (is_signed ? btf_enum(type)[i].val : static_cast<int64_t>(static_cast<uint32_t>(btf_enum(type)[i].val)));
        char const* constant = btf__name_by_offset(m_btf, name_off);
        result.constants.emplace_back(constant ? constant : "", value);
    }
    static constexpr char const* signed_names[] = { "char", "short int", "", "int", "", "", "", "long int" };
    static constexpr char const* unsigned_names[] = { "unsigned char", "short unsigned int", "", "unsigned int", "", "", "", "long unsigned int" };
    uint32_t size = type->size;
    result.base = (size >= 1 && size <= 8) ? (is_signed ? signed_names : unsigned_names)[size - 1] : "";
    if (result.base.empty())
        result.base = "void";
    else
        m_data.base_types.try_emplace(result.base, BaseType { .size = size, .is_signed = is_signed, .kind = size == 1 ? "char" : "int" });
    m_data.enums.emplace(std::move(name), std::move(result));
    return {};
}

} // namespace

Result<BtfSummary> read_btf_types(std::span<std::byte const> bytes, ProfileData& data)
{
    if (bytes.empty() || bytes.size() > UINT32_MAX)
        return fail(Errc::BadImage, "BTF: empty or oversized section");
    // btf__new validates the header, string section and every type record (libbpf btf.c).
    struct btf* btf = btf__new(bytes.data(), static_cast<uint32_t>(bytes.size()));
    if (!btf)
        return fail(Errc::BadImage, "BTF: libbpf rejected the .BTF section");
    std::unique_ptr<struct btf, void (*)(struct btf*)> owner { btf, btf__free };
    data.base_types.try_emplace("void", BaseType { .size = 0, .is_signed = false, .kind = "void" });
    data.base_types.try_emplace("pointer", BaseType { .size = 8, .is_signed = false, .kind = "int" });
    BtfConverter converter { btf, data };
    BtfSummary summary { .btf_types = btf__type_cnt(btf) - 1 };
    for (uint32_t id = 1; id < btf__type_cnt(btf); ++id) {
        auto const* type = btf__type_by_id(btf, id);
        if (btf_is_composite(type)) {
            TRY_VOID(converter.add_composite(id, type));
        } else if (btf_is_any_enum(type)) {
            TRY_VOID(converter.add_enum(id, type));
        } else if (btf_is_var(type)) {
            char const* name = btf__name_by_offset(btf, type->name_off);
            if (name && *name)
                summary.variables.emplace(name, TRY(converter.type_ref(type->type)));
        }
    }
    summary.user_types = data.user_types.size();
    return summary;
}

} // namespace monarch::dkom
