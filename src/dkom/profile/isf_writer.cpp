// SPDX-License-Identifier: Apache-2.0
// Writing a Profile as Volatility 3 ISF JSON (format 6.2.0, the version dwarf2json writes),
// so that Volatility and our own reader both accept it.
#include "dkom/profile/base64.h"
#include "dkom/profile/profile_data.h"

#include <nlohmann/json.hpp>

namespace monarch::dkom {

namespace {

using Json = nlohmann::json;

Json write_type(TypeRef const& type)
{
    Json out { { "kind", type_kind_name(type.kind) } };
    switch (type.kind) {
    case TypeKind::Base:
    case TypeKind::Struct:
    case TypeKind::Union:
    case TypeKind::Class:
    case TypeKind::Enum:
        out["name"] = type.name;
        break;
    case TypeKind::Pointer:
        out["subtype"] = type.subtype ? write_type(*type.subtype) : Json { { "kind", "base" }, { "name", "void" } };
        break;
    case TypeKind::Array:
        out["count"] = type.count;
        out["subtype"] = type.subtype ? write_type(*type.subtype) : Json { { "kind", "base" }, { "name", "void" } };
        break;
    case TypeKind::Bitfield:
        out["bit_position"] = type.bit_position;
        out["bit_length"] = type.bit_length;
        out["type"] = type.subtype ? write_type(*type.subtype) : Json { { "kind", "base" }, { "name", "int" } };
        break;
    case TypeKind::Function:
        break;
    }
    return out;
}

Json write_user_type(UserType const& user)
{
    Json fields = Json::object();
    for (auto const& member : user.fields) {
        Json field { { "offset", member.offset }, { "type", write_type(member.type) } };
        if (member.anonymous)
            field["anonymous"] = true;
        fields[member.name] = std::move(field);
    }
    return Json { { "kind", type_kind_name(user.kind) }, { "size", user.size }, { "fields", std::move(fields) } };
}

Json write_symbol(Symbol const& symbol)
{
    Json out { { "address", symbol.address } };
    if (symbol.type)
        out["type"] = write_type(*symbol.type);
    if (symbol.constant_data)
        out["constant_data"] = base64_encode(*symbol.constant_data);
    return out;
}

} // namespace

std::string Profile::to_isf_json() const
{
    ProfileData const& data = *m_data;
    Json root;
    root["metadata"] = Json {
        { "format", "6.2.0" },
        { "producer", { { "name", data.producer_name }, { "version", data.producer_version } } },
    };
    Json& base_types = root["base_types"] = Json::object();
    for (auto const& [name, base] : data.base_types) {
        base_types[name] = Json { { "size", base.size }, { "signed", base.is_signed }, { "kind", base.kind },
            { "endian", "little" } };
    }
    Json& user_types = root["user_types"] = Json::object();
    for (auto const& [name, user] : data.user_types)
        user_types[name] = write_user_type(user);
    Json& enums = root["enums"] = Json::object();
    for (auto const& [name, type] : data.enums) {
        Json constants = Json::object();
        for (auto const& [constant, value] : type.constants)
            constants[constant] = value;
        enums[name] = Json { { "size", type.size }, { "base", type.base }, { "constants", std::move(constants) } };
    }
    Json& symbols = root["symbols"] = Json::object();
    for (auto const& [name, symbol] : data.symbols)
        symbols[name] = write_symbol(symbol);
    // Names come from the image and may hold bytes that are not UTF-8: replace, never throw.
    return root.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

} // namespace monarch::dkom
