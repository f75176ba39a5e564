// SPDX-License-Identifier: Apache-2.0
// BTF to profile types, on a small BTF blob built with libbpf's btf__add_* API.
#include "dkom/profile/btf_reader.h"

#include <bpf/btf.h>
#include <catch2/catch.hpp>
#include <cstring>

using namespace monarch;
using namespace monarch::dkom;

namespace {

struct BtfDeleter {
    void operator()(struct btf* btf) const { btf__free(btf); }
};

// struct task_struct (128 bytes) with an enum, an anonymous union, nested structs, an array,
// a const member, bitfields (one in a 4-byte unit, one straddling bytes of a 1-byte unit),
// a self pointer and a function pointer; plus a variable of struct type.
std::vector<std::byte> build_btf()
{
    std::unique_ptr<struct btf, BtfDeleter> btf { btf__new_empty() };
    auto* b = btf.get();
    int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
    int uint_id = btf__add_int(b, "unsigned int", 4, 0);
    int uchar_id = btf__add_int(b, "unsigned char", 1, 0);
    int char_id = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
    int u64_id = btf__add_typedef(b, "u64", btf__add_int(b, "long long unsigned int", 8, 0));
    int list_ptr = btf__add_ptr(b, int(btf__type_cnt(b)) + 1); // to list_head, added next
    REQUIRE(btf__add_struct(b, "list_head", 16) == list_ptr + 1);
    REQUIRE(btf__add_field(b, "next", list_ptr, 0, 0) == 0);
    REQUIRE(btf__add_field(b, "prev", list_ptr, 64, 0) == 0);
    int se = btf__add_struct(b, "sched_entity", 32);
    REQUIRE(btf__add_field(b, "vruntime", u64_id, 128, 0) == 0);
    REQUIRE(btf__add_field(b, "sum_exec_runtime", u64_id, 192, 0) == 0);
    int state = btf__add_enum(b, "task_state", 4);
    REQUIRE(btf__add_enum_value(b, "RUNNING", 0) == 0);
    REQUIRE(btf__add_enum_value(b, "STOPPED", 4) == 0);
    int four_bytes = btf__add_array(b, int_id, uchar_id, 4);
    int anon = btf__add_union(b, nullptr, 4);
    REQUIRE(btf__add_field(b, "flags", uint_id, 0, 0) == 0);
    REQUIRE(btf__add_field(b, "bytes", four_bytes, 0, 0) == 0);
    int comm = btf__add_array(b, int_id, char_id, 16);
    int const_int = btf__add_const(b, int_id);
    int fn = btf__add_ptr(b, btf__add_func_proto(b, int_id));
    int task_ptr = btf__add_ptr(b, int(btf__type_cnt(b)) + 1);
    int task = btf__add_struct(b, "task_struct", 128);
    REQUIRE(task == task_ptr + 1);
    REQUIRE(btf__add_field(b, "state", state, 0, 0) == 0);
    REQUIRE(btf__add_field(b, nullptr, anon, 32, 0) == 0);
    REQUIRE(btf__add_field(b, "tasks", list_ptr + 1, 64, 0) == 0);
    REQUIRE(btf__add_field(b, "se", se, 192, 0) == 0);
    REQUIRE(btf__add_field(b, "comm", comm, 448, 0) == 0);
    REQUIRE(btf__add_field(b, "pid", const_int, 576, 0) == 0);
    REQUIRE(btf__add_field(b, "prio", uint_id, 803, 5) == 0);     // bits 3..7 of the unit at 100
    REQUIRE(btf__add_field(b, "straddle", uchar_id, 822, 5) == 0); // bits 6..10 from byte 102
    REQUIRE(btf__add_field(b, "high", uint_id, 850, 4) == 0);      // bits 18..21 of the unit at 104
    REQUIRE(btf__add_field(b, "parent", task_ptr, 896, 0) == 0);
    REQUIRE(btf__add_field(b, "fn", fn, 960, 0) == 0);
    REQUIRE(btf__add_var(b, "runqueues", BTF_VAR_GLOBAL_ALLOCATED, se) > 0);
    uint32_t size = 0;
    auto const* raw = static_cast<std::byte const*>(btf__raw_data(b, &size));
    REQUIRE(raw);
    return { raw, raw + size };
}

} // namespace

TEST_CASE("BTF structs, unions, bitfields and qualifiers become profile types", "[unit][btf]")
{
    auto raw = build_btf();
    auto data = std::make_shared<ProfileData>();
    auto summary = read_btf_types(raw, *data);
    INFO((summary ? std::string() : to_string(summary.error())));
    REQUIRE(summary);
    CHECK(summary->user_types == 4);
    REQUIRE(summary->variables.contains("runqueues"));
    CHECK(summary->variables.at("runqueues").name == "sched_entity");
    Profile profile { data };

    CHECK(profile.type_size("task_struct") == 128);
    CHECK(profile.type_size("task_state") == 4);
    CHECK(profile.enum_value("task_state", "STOPPED") == 4);
    auto field = [&](char const* path) {
        auto info = profile.field("task_struct", path);
        INFO(path);
        REQUIRE(info);
        return *info;
    };
    CHECK(field("se.sum_exec_runtime").offset == 24 + 24);
    CHECK(field("se.sum_exec_runtime").size == 8);
    CHECK(field("se.sum_exec_runtime").type_name == "long long unsigned int"); // typedef u64 resolved
    CHECK(field("flags").offset == 4);   // through the anonymous union
    CHECK(field("bytes").size == 4);
    CHECK(field("comm").offset == 56);
    CHECK(field("comm").type_name == "char [16]");
    CHECK(field("pid").offset == 72);
    CHECK(field("pid").type_name == "int"); // const dropped
    CHECK(field("tasks.prev").offset == 16);
    CHECK(field("tasks.prev").type_name == "struct list_head *");
    CHECK(field("parent").type_name == "struct task_struct *");
    CHECK(field("state").type_name == "enum task_state");

    auto prio = field("prio");
    CHECK(prio.offset == 100);
    CHECK(prio.size == 4);
    CHECK(prio.bit_offset == 3);
    CHECK(prio.bit_size == 5);
    auto straddle = field("straddle");
    CHECK(straddle.offset == 102);
    CHECK(straddle.bit_offset == 6);
    CHECK(straddle.bit_size == 5);
    auto high = field("high");
    CHECK(high.offset == 104);
    CHECK(high.bit_offset == 18);
    CHECK(high.bit_size == 4);
}

TEST_CASE("BTF: damaged blobs are rejected", "[unit][btf]")
{
    auto raw = build_btf();
    ProfileData data;
    CHECK_FALSE(read_btf_types({}, data));
    CHECK_FALSE(read_btf_types(std::span(raw).first(raw.size() / 2), data));
    auto garbage = raw;
    std::memset(garbage.data() + 24, 0xff, 64); // type records
    auto result = read_btf_types(garbage, data);
    REQUIRE_FALSE(result);
    CHECK((result.error().code == Errc::BadImage));
}
