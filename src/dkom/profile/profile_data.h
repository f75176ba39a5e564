// SPDX-License-Identifier: Apache-2.0
// The tables of a Profile, modelled on Volatility 3's ISF (schema 6.x): base types, user types
// (structs and unions with their members), enums and symbols. Internal to src/dkom/profile.
#pragma once

#include "dkom/profile/profile.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace monarch::dkom {

// ISF "type_descriptor" kinds.
enum class TypeKind : uint8_t { Base, Pointer, Struct, Union, Class, Array, Enum, Bitfield, Function };

// A reference to a type, as a member or a symbol uses it. Pointers and arrays name their
// element type in `subtype`; a bitfield names its storage type there.
struct TypeRef {
    TypeKind kind { TypeKind::Base };
    std::string name;          // base, struct, union, class, enum
    uint64_t count { 0 };      // array
    uint32_t bit_position { 0 }; // bitfield
    uint32_t bit_length { 0 };   // bitfield
    std::shared_ptr<TypeRef const> subtype;
};

struct Member {
    std::string name;
    uint64_t offset { 0 };
    TypeRef type;
    bool anonymous { false };
};

struct UserType {
    TypeKind kind { TypeKind::Struct }; // Struct, Union or Class
    uint64_t size { 0 };
    std::vector<Member> fields;
};

struct BaseType {
    uint64_t size { 0 };
    bool is_signed { false };
    std::string kind { "int" }; // void, int, float, char, bool
};

struct EnumType {
    uint64_t size { 0 };
    std::string base;
    std::vector<std::pair<std::string, int64_t>> constants;
};

struct Symbol {
    uint64_t address { 0 };
    std::optional<TypeRef> type;
    std::optional<std::string> constant_data; // raw bytes (ISF stores them base64)
};

struct ProfileData {
    std::string producer_name { "monarch-profile" };
    std::string producer_version { "0.1.0" };
    std::map<std::string, BaseType, std::less<>> base_types;
    std::map<std::string, UserType, std::less<>> user_types;
    std::map<std::string, EnumType, std::less<>> enums;
    std::map<std::string, Symbol, std::less<>> symbols;
};

// The size in bytes of a type reference under `data`, if every type it names is known.
[[nodiscard]] std::optional<uint64_t> type_ref_size(ProfileData const& data, TypeRef const& type);
// C spelling of a type reference: "unsigned int", "struct list_head *", "char [16]".
[[nodiscard]] std::string type_ref_name(TypeRef const& type);
// Whether the ISF kind string names a kind, and which.
[[nodiscard]] std::optional<TypeKind> parse_type_kind(std::string_view kind);
[[nodiscard]] std::string_view type_kind_name(TypeKind kind);

} // namespace monarch::dkom
