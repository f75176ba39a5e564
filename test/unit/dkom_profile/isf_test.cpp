// SPDX-License-Identifier: Apache-2.0
// ISF reading, lookups and writing on a small hand-written profile; malformed profiles.
#include "dkom/profile/profile.h"

#include "support/skip.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace monarch;
using namespace monarch::dkom;

namespace {

// A profile shaped like dwarf2json's output: nested struct, anonymous union, bitfield,
// pointer, array, enum, a symbol with constant_data ("Linux version 6.1.0-test\n\0").
constexpr std::string_view sample = R"({
  "metadata": { "format": "6.2.0", "producer": { "name": "dwarf2json", "version": "0.8.0" } },
  "base_types": {
    "int": { "size": 4, "signed": true, "kind": "int", "endian": "little" },
    "char": { "size": 1, "signed": true, "kind": "char", "endian": "little" },
    "unsigned int": { "size": 4, "signed": false, "kind": "int", "endian": "little" },
    "long long unsigned int": { "size": 8, "signed": false, "kind": "int", "endian": "little" },
    "pointer": { "size": 8, "signed": false, "kind": "int", "endian": "little" }
  },
  "user_types": {
    "list_head": { "kind": "struct", "size": 16, "fields": {
      "next": { "offset": 0, "type": { "kind": "pointer", "subtype": { "kind": "struct", "name": "list_head" } } },
      "prev": { "offset": 8, "type": { "kind": "pointer", "subtype": { "kind": "struct", "name": "list_head" } } } } },
    "sched_entity": { "kind": "struct", "size": 32, "fields": {
      "vruntime": { "offset": 16, "type": { "kind": "base", "name": "long long unsigned int" } },
      "sum_exec_runtime": { "offset": 24, "type": { "kind": "base", "name": "long long unsigned int" } } } },
    "unnamed_1234": { "kind": "union", "size": 4, "fields": {
      "flags": { "offset": 0, "type": { "kind": "base", "name": "unsigned int" } },
      "low": { "offset": 0, "type": { "kind": "bitfield", "bit_position": 3, "bit_length": 5,
                                      "type": { "kind": "base", "name": "unsigned int" } } } } },
    "task_struct": { "kind": "struct", "size": 128, "fields": {
      "state": { "offset": 0, "type": { "kind": "enum", "name": "task_state" } },
      "unnamed_field_4": { "offset": 4, "anonymous": true, "type": { "kind": "union", "name": "unnamed_1234" } },
      "tasks": { "offset": 8, "type": { "kind": "struct", "name": "list_head" } },
      "se": { "offset": 24, "type": { "kind": "struct", "name": "sched_entity" } },
      "comm": { "offset": 56, "type": { "kind": "array", "count": 16, "subtype": { "kind": "base", "name": "char" } } },
      "parent": { "offset": 72, "type": { "kind": "pointer", "subtype": { "kind": "struct", "name": "task_struct" } } },
      "fn": { "offset": 80, "type": { "kind": "pointer", "subtype": { "kind": "function" } } } } }
  },
  "enums": {
    "task_state": { "size": 4, "base": "unsigned int", "constants": { "RUNNING": 0, "STOPPED": 4 } }
  },
  "symbols": {
    "init_task": { "address": 18446744071606217280, "type": { "kind": "struct", "name": "task_struct" } },
    "linux_banner": { "address": 18446744071596802016, "constant_data": "TGludXggdmVyc2lvbiA2LjEuMC10ZXN0CgA=" }
  }
})";

Profile load_sample()
{
    auto profile = Profile::from_isf_json(sample);
    INFO((profile ? std::string() : to_string(profile.error())));
    REQUIRE(profile);
    return *profile;
}

// The sample with one substring replaced (it must occur).
std::string with(std::string_view from, std::string_view to)
{
    std::string text { sample };
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return text;
}

void require_bad(std::string const& text)
{
    auto profile = Profile::from_isf_json(text);
    REQUIRE_FALSE(profile);
    INFO(to_string(profile.error()));
    CHECK((profile.error().code == Errc::BadImage));
}

} // namespace

TEST_CASE("ISF symbols, sizes and the banner", "[unit][isf]")
{
    auto profile = load_sample();
    CHECK(profile.symbol_address("init_task") == 0xffffffff82a1aa40);
    CHECK(profile.symbol_address("linux_banner") == 0xffffffff8211ffe0);
    CHECK_FALSE(profile.symbol_address("no_such_symbol"));
    CHECK(profile.type_size("task_struct") == 128);
    CHECK(profile.type_size("int") == 4);
    CHECK(profile.type_size("task_state") == 4);
    CHECK_FALSE(profile.type_size("mm_struct"));
    CHECK(profile.kernel_banner() == "Linux version 6.1.0-test");
    CHECK(profile.enum_value("task_state", "STOPPED") == 4);
    CHECK_FALSE(profile.enum_value("task_state", "ZOMBIE"));
    CHECK_FALSE(profile.enum_value("pid_type", "PIDTYPE_PID"));
    CHECK(profile.symbol_count() == 2);
    CHECK(profile.type_count() == 4);
}

TEST_CASE("ISF fields: nested paths, anonymous unions, bitfields, arrays, pointers", "[unit][isf]")
{
    auto profile = load_sample();
    auto runtime = profile.field("task_struct", "se.sum_exec_runtime");
    REQUIRE(runtime);
    CHECK(runtime->offset == 24 + 24);
    CHECK(runtime->size == 8);
    CHECK(runtime->type_name == "long long unsigned int");

    auto flags = profile.field("task_struct", "flags"); // inside the anonymous union at 4
    REQUIRE(flags);
    CHECK(flags->offset == 4);
    CHECK(flags->size == 4);
    CHECK(flags->bit_size == 0);

    auto low = profile.field("task_struct", "low");
    REQUIRE(low);
    CHECK(low->offset == 4);
    CHECK(low->size == 4);
    CHECK(low->bit_offset == 3);
    CHECK(low->bit_size == 5);

    auto comm = profile.field("task_struct", "comm");
    REQUIRE(comm);
    CHECK(comm->offset == 56);
    CHECK(comm->size == 16);
    CHECK(comm->type_name == "char [16]");

    auto next = profile.field("task_struct", "tasks.next");
    REQUIRE(next);
    CHECK(next->offset == 8);
    CHECK(next->size == 8);
    CHECK(next->type_name == "struct list_head *");

    CHECK(profile.field("task_struct", "state")->type_name == "enum task_state");
    CHECK(profile.field("task_struct", "state")->size == 4);
    CHECK_FALSE(profile.field("task_struct", "parent.comm")); // not through pointers
    CHECK_FALSE(profile.field("task_struct", "se.nothing"));
    CHECK_FALSE(profile.field("task_struct", ""));
    CHECK_FALSE(profile.field("no_such_type", "x"));
}

TEST_CASE("ISF bitfield positions counted past the storage unit are normalised", "[unit][isf]")
{
    auto text = with(R"("flags": { "offset": 0, "type": { "kind": "base", "name": "unsigned int" } },)",
        R"("flags": { "offset": 0, "type": { "kind": "base", "name": "unsigned int" } },
           "far": { "offset": 0, "type": { "kind": "bitfield", "bit_position": 17, "bit_length": 3,
                                           "type": { "kind": "base", "name": "char" } } },)");
    auto profile = Profile::from_isf_json(text);
    REQUIRE(profile);
    auto far = profile->field("task_struct", "far");
    REQUIRE(far);
    CHECK(far->offset == 4 + 2);
    CHECK(far->size == 1);
    CHECK(far->bit_offset == 1);
    CHECK(far->bit_size == 3);
}

TEST_CASE("ISF round trip keeps every lookup", "[unit][isf]")
{
    auto original = load_sample();
    auto again = Profile::from_isf_json(original.to_isf_json());
    REQUIRE(again);
    CHECK(again->symbol_address("init_task") == original.symbol_address("init_task"));
    CHECK(again->kernel_banner() == original.kernel_banner());
    CHECK(again->symbol_count() == original.symbol_count());
    CHECK(again->type_count() == original.type_count());
    for (auto path : { "se.sum_exec_runtime", "flags", "low", "comm", "tasks.prev", "state", "fn" }) {
        auto a = original.field("task_struct", path);
        auto b = again->field("task_struct", path);
        INFO(path);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->offset == b->offset);
        CHECK(a->size == b->size);
        CHECK(a->type_name == b->type_name);
        CHECK(a->bit_offset == b->bit_offset);
        CHECK(a->bit_size == b->bit_size);
    }
}

TEST_CASE("malformed ISF files are BadImage", "[unit][isf]")
{
    require_bad("");
    require_bad("[]");
    require_bad(std::string(sample.substr(0, sample.size() / 2))); // truncated
    require_bad(with(R"("metadata": { "format": "6.2.0",)", R"("metadata": {)"));
    require_bad(with(R"("base_types": {)", R"("base_typos": {)"));
    require_bad(with(R"("symbols": {)", R"("symbols": [], "x": {)"));
    require_bad(with(R"("size": 128)", R"("size": "128")"));
    require_bad(with(R"("size": 128)", R"("size": -128)"));
    require_bad(with(R"("comm": { "offset": 56)", R"("comm": { "offset": 129)")); // beyond the struct
    require_bad(with(R"("comm": { "offset": 56,)", R"("comm": {)"));
    require_bad(with(R"("kind": "array", "count": 16,)", R"("kind": "array",)"));
    require_bad(with(R"({ "kind": "function" })", R"({ "kind": "lambda" })"));
    require_bad(with(R"("bit_position": 3)", R"("bit_position": 28)")); // bits 28..32 of a 4-byte union
    require_bad(with(R"("bit_length": 5)", R"("bit_length": 0)"));
    require_bad(with(R"("address": 18446744071606217280)", R"("address": 1.5)"));
    require_bad(with(R"("TGludXggdmVyc2lvbiA2LjEuMC10ZXN0CgA=")", R"("not base64!")"));
    require_bad(with(R"("RUNNING": 0)", R"("RUNNING": "zero")"));
    require_bad(with(R"("signed": true, "kind": "int")", R"("signed": 1, "kind": "int")"));
    require_bad(with(R"("anonymous": true)", R"("anonymous": "yes")"));
    std::string deep = R"({ "kind": "base", "name": "int" })";
    for (int i = 0; i < 100; ++i)
        deep = R"({ "kind": "pointer", "subtype": )" + deep + " }";
    require_bad(with(R"({ "kind": "pointer", "subtype": { "kind": "function" } })", deep));
}

TEST_CASE("ISF files plain, gzip and xz", "[unit][isf]")
{
    char directory[] = "/tmp/monarch-isf-XXXXXX";
    REQUIRE(::mkdtemp(directory));
    std::string base = std::string(directory) + "/profile.json";
    std::ofstream(base) << sample;
    auto plain = Profile::from_isf_file(base);
    REQUIRE(plain);
    CHECK(plain->symbol_address("init_task") == 0xffffffff82a1aa40);
    auto missing = Profile::from_isf_file(base + ".missing");
    REQUIRE_FALSE(missing);
    CHECK((missing.error().code == Errc::Sys));
    for (auto const* program : { "gzip", "xz" }) {
        test::require_program(program);
        auto run = test::run_process({ program, "-k", base });
        INFO(test::describe(run));
        REQUIRE(run.exit_code == 0);
        auto packed = base + (std::string_view(program) == "gzip" ? ".gz" : ".xz");
        auto profile = Profile::from_isf_file(packed);
        INFO(program);
        REQUIRE(profile);
        CHECK(profile->field("task_struct", "se.sum_exec_runtime")->offset == 48);
        std::remove(packed.c_str());
    }
    std::remove(base.c_str());
    ::rmdir(directory);
}
