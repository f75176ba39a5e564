// SPDX-License-Identifier: Apache-2.0
// Reading Volatility 3's Intermediate Symbol Format (volatility3/schemas/schema-6.x.json):
// every key and value checked; nlohmann-json's exceptions end here.
#include "dkom/profile/base64.h"
#include "dkom/profile/decompress.h"
#include "dkom/profile/profile_data.h"
#include "dkom/profile/read_file.h"

#include "common/log.h"

#include <nlohmann/json.hpp>

namespace monarch::dkom {

namespace {

using Json = nlohmann::json;
constexpr int max_type_depth = 32; // nested pointer/array descriptors; real ones nest 3 or 4

Result<Json const*> require(Json const& object, char const* key, std::string_view context)
{
    auto it = object.find(key);
    if (it == object.end())
        return fail(Errc::BadImage, context);
    return &*it;
}

Result<uint64_t> require_unsigned(Json const& object, char const* key, std::string_view context)
{
    auto const* value = TRY(require(object, key, context));
    if (value->is_number_unsigned())
        return value->get<uint64_t>();
    if (value->is_number_integer() && value->get<int64_t>() >= 0)
        return static_cast<uint64_t>(value->get<int64_t>());
    return fail(Errc::BadImage, context);
}

Result<std::string> require_string(Json const& object, char const* key, std::string_view context)
{
    auto const* value = TRY(require(object, key, context));
    if (!value->is_string())
        return fail(Errc::BadImage, context);
    return value->get<std::string>();
}

Result<Json const*> require_object(Json const& object, char const* key, std::string_view context)
{
    auto const* value = TRY(require(object, key, context));
    if (!value->is_object())
        return fail(Errc::BadImage, context);
    return value;
}

Result<TypeRef> read_type(Json const& descriptor, int depth)
{
    if (depth > max_type_depth)
        return fail(Errc::BadImage, "ISF: type descriptor nested too deeply");
    if (!descriptor.is_object())
        return fail(Errc::BadImage, "ISF: type descriptor is not an object");
    auto kind_text = TRY(require_string(descriptor, "kind", "ISF: type descriptor without a kind"));
    auto kind = parse_type_kind(kind_text);
    if (!kind)
        return fail(Errc::BadImage, "ISF: type descriptor of unknown kind");
    TypeRef type { .kind = *kind };
    switch (*kind) {
    case TypeKind::Base:
    case TypeKind::Struct:
    case TypeKind::Union:
    case TypeKind::Class:
    case TypeKind::Enum:
        type.name = TRY(require_string(descriptor, "name", "ISF: named type descriptor without a name"));
        break;
    case TypeKind::Pointer:
        type.subtype = std::make_shared<TypeRef const>(
            TRY(read_type(*TRY(require(descriptor, "subtype", "ISF: pointer without a subtype")), depth + 1)));
        break;
    case TypeKind::Array:
        type.count = TRY(require_unsigned(descriptor, "count", "ISF: array without a valid count"));
        type.subtype = std::make_shared<TypeRef const>(
            TRY(read_type(*TRY(require(descriptor, "subtype", "ISF: array without a subtype")), depth + 1)));
        break;
    case TypeKind::Bitfield: {
        auto position = TRY(require_unsigned(descriptor, "bit_position", "ISF: bitfield without a valid bit_position"));
        auto length = TRY(require_unsigned(descriptor, "bit_length", "ISF: bitfield without a valid bit_length"));
        // Some producers count bit_position from the start of the struct rather than from the
        // storage unit: allow that here; read_member checks the bits lie inside the struct.
        if (length == 0 || length > 64 || position >= (uint64_t { 1 } << 24))
            return fail(Errc::BadImage, "ISF: bitfield position or length out of range");
        type.bit_position = static_cast<uint32_t>(position);
        type.bit_length = static_cast<uint32_t>(length);
        auto under = TRY(read_type(*TRY(require(descriptor, "type", "ISF: bitfield without a type")), depth + 1));
        if (under.kind != TypeKind::Base && under.kind != TypeKind::Enum)
            return fail(Errc::BadImage, "ISF: bitfield storage is neither a base type nor an enum");
        type.subtype = std::make_shared<TypeRef const>(std::move(under));
        break;
    }
    case TypeKind::Function:
        break;
    }
    return type;
}

Result<void> read_base_types(Json const& root, ProfileData& data)
{
    auto const* table = TRY(require_object(root, "base_types", "ISF: no base_types object"));
    for (auto const& [name, entry] : table->items()) {
        if (!entry.is_object())
            return fail(Errc::BadImage, "ISF: base type is not an object");
        BaseType base;
        base.size = TRY(require_unsigned(entry, "size", "ISF: base type without a valid size"));
        base.kind = TRY(require_string(entry, "kind", "ISF: base type without a kind"));
        auto const* is_signed = TRY(require(entry, "signed", "ISF: base type without 'signed'"));
        if (!is_signed->is_boolean())
            return fail(Errc::BadImage, "ISF: base type 'signed' is not a boolean");
        base.is_signed = is_signed->get<bool>();
        auto endian = TRY(require_string(entry, "endian", "ISF: base type without an endian"));
        if (endian != "little")
            return fail(Errc::Unsupported, "ISF: big-endian base type");
        if (base.size > 16)
            return fail(Errc::BadImage, "ISF: base type larger than 16 bytes");
        data.base_types.emplace(name, std::move(base));
    }
    return {};
}

Result<Member> read_member(std::string const& name, Json const& entry, uint64_t struct_size)
{
    if (!entry.is_object())
        return fail(Errc::BadImage, "ISF: field is not an object");
    Member member { .name = name };
    member.offset = TRY(require_unsigned(entry, "offset", "ISF: field without a valid offset"));
    if (member.offset > struct_size)
        return fail(Errc::BadImage, "ISF: field offset beyond its type's size");
    member.type = TRY(read_type(*TRY(require(entry, "type", "ISF: field without a type")), 0));
    if (member.type.kind == TypeKind::Bitfield
        && member.offset * 8 + member.type.bit_position + member.type.bit_length > struct_size * 8)
        return fail(Errc::BadImage, "ISF: bitfield beyond its type's size");
    if (auto it = entry.find("anonymous"); it != entry.end()) {
        if (!it->is_boolean())
            return fail(Errc::BadImage, "ISF: field 'anonymous' is not a boolean");
        member.anonymous = it->get<bool>();
    }
    // dwarf2json versions before the "anonymous" key marked unnamed members only by name.
    if (name.starts_with("unnamed_field_"))
        member.anonymous = true;
    return member;
}

Result<void> read_user_types(Json const& root, ProfileData& data)
{
    auto const* table = TRY(require_object(root, "user_types", "ISF: no user_types object"));
    for (auto const& [name, entry] : table->items()) {
        if (!entry.is_object())
            return fail(Errc::BadImage, "ISF: user type is not an object");
        UserType user;
        auto kind = parse_type_kind(TRY(require_string(entry, "kind", "ISF: user type without a kind")));
        if (kind != TypeKind::Struct && kind != TypeKind::Union && kind != TypeKind::Class)
            return fail(Errc::BadImage, "ISF: user type kind is not struct, union or class");
        user.kind = *kind;
        user.size = TRY(require_unsigned(entry, "size", "ISF: user type without a valid size"));
        auto const* fields = TRY(require_object(entry, "fields", "ISF: user type without a fields object"));
        user.fields.reserve(fields->size());
        for (auto const& [field_name, field] : fields->items())
            user.fields.push_back(TRY(read_member(field_name, field, user.size)));
        data.user_types.emplace(name, std::move(user));
    }
    return {};
}

Result<void> read_enums(Json const& root, ProfileData& data)
{
    auto const* table = TRY(require_object(root, "enums", "ISF: no enums object"));
    for (auto const& [name, entry] : table->items()) {
        if (!entry.is_object())
            return fail(Errc::BadImage, "ISF: enum is not an object");
        EnumType type;
        type.size = TRY(require_unsigned(entry, "size", "ISF: enum without a valid size"));
        type.base = TRY(require_string(entry, "base", "ISF: enum without a base"));
        auto const* constants = TRY(require_object(entry, "constants", "ISF: enum without a constants object"));
        for (auto const& [constant, value] : constants->items()) {
            if (!value.is_number_integer())
                return fail(Errc::BadImage, "ISF: enum constant is not an integer");
            type.constants.emplace_back(constant, value.get<int64_t>());
        }
        data.enums.emplace(name, std::move(type));
    }
    return {};
}

Result<void> read_symbols(Json const& root, ProfileData& data)
{
    auto const* table = TRY(require_object(root, "symbols", "ISF: no symbols object"));
    for (auto const& [name, entry] : table->items()) {
        if (!entry.is_object())
            return fail(Errc::BadImage, "ISF: symbol is not an object");
        Symbol symbol;
        symbol.address = TRY(require_unsigned(entry, "address", "ISF: symbol without a valid address"));
        if (auto it = entry.find("type"); it != entry.end())
            symbol.type = TRY(read_type(*it, 0));
        if (auto it = entry.find("constant_data"); it != entry.end()) {
            auto bytes = it->is_string() ? base64_decode(it->get_ref<std::string const&>()) : std::nullopt;
            if (!bytes)
                return fail(Errc::BadImage, "ISF: symbol constant_data is not base64");
            symbol.constant_data = std::move(*bytes);
        }
        data.symbols.emplace(name, std::move(symbol));
    }
    return {};
}

Result<void> read_metadata(Json const& root, ProfileData& data)
{
    auto const* metadata = TRY(require_object(root, "metadata", "ISF: no metadata object"));
    auto format = TRY(require_string(*metadata, "format", "ISF: metadata without a format"));
    // Format versions 4 to 6 share the layout read here (schema-4.1.0 .. schema-6.x).
    std::string_view version { format };
    if (!version.starts_with("4.") && !version.starts_with("5.") && !version.starts_with("6."))
        return fail(Errc::Unsupported, "ISF: unsupported format version");
    if (auto it = metadata->find("producer"); it != metadata->end() && it->is_object()) {
        if (auto name = it->find("name"); name != it->end() && name->is_string())
            data.producer_name = name->get<std::string>();
        if (auto version = it->find("version"); version != it->end() && version->is_string())
            data.producer_version = version->get<std::string>();
    }
    return {};
}

Result<Profile> parse(std::string_view text)
{
    Json root = Json::parse(text.begin(), text.end(), nullptr, false);
    if (root.is_discarded())
        return fail(Errc::BadImage, "ISF: not valid JSON");
    if (!root.is_object())
        return fail(Errc::BadImage, "ISF: top level is not an object");
    auto data = std::make_shared<ProfileData>();
    TRY_VOID(read_metadata(root, *data));
    TRY_VOID(read_base_types(root, *data));
    TRY_VOID(read_user_types(root, *data));
    TRY_VOID(read_enums(root, *data));
    TRY_VOID(read_symbols(root, *data));
    return Profile { std::move(data) };
}

} // namespace

Result<Profile> Profile::from_isf_json(std::string_view json)
{
    try {
        return parse(json);
    } catch (nlohmann::json::exception const& error) {
        log::debug("ISF: {}", error.what());
        return fail(Errc::BadImage, "ISF: malformed JSON value");
    }
}

Result<Profile> Profile::from_isf_file(std::string const& path)
{
    auto bytes = TRY(read_whole_file(path));
    auto format = detect_compression(bytes);
    if (format == Compression::Gzip || format == Compression::Xz)
        bytes = TRY(decompress(*format, bytes));
    // SAFETY: viewing the bytes as characters; JSON parsing checks every one.
    return from_isf_json(std::string_view(reinterpret_cast<char const*>(bytes.data()), bytes.size()));
}

} // namespace monarch::dkom
