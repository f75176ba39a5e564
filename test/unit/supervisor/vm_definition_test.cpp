// SPDX-License-Identifier: Apache-2.0
// VmDefinition: validation of monarchctl's and the state directory's JSON, and the Cloud
// Hypervisor VmConfig sent as vm.create.
#include "supervisor/vm_definition.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace monarch::supervisor;
using nlohmann::json;

TEST_CASE("a full definition is accepted and round-trips through JSON", "[unit][supervisor]")
{
    auto const text = R"({"name":"web-1","cpus":2,"memory":"64M","kernel":"/boot/k","initrd":"/boot/i",
        "cmdline":"console=ttyS0","disks":[{"path":"/d.img","readonly":true}],"restart":"on-failure"})";
    auto definition = definition_from_text(text);
    REQUIRE(definition);
    CHECK(definition->name == "web-1");
    CHECK(definition->cpus == 2);
    CHECK(definition->memory == 64ULL << 20);
    CHECK(definition->restart == RestartPolicy::OnFailure);
    REQUIRE(definition->disks.size() == 1);
    CHECK(definition->disks[0].readonly);
    auto again = definition_from_json(to_json(*definition));
    REQUIRE(again);
    CHECK(to_json(*again) == to_json(*definition));
}

TEST_CASE("unknown and mistyped and out-of-range fields are refused with their name", "[unit][supervisor]")
{
    struct Case {
        char const* text;
        char const* names;
    };
    for (auto const& c : { Case { R"({"name":"a","kernel":"/k","colour":"red"})", "colour" },
             Case { R"({"name":"a","cpus":0})", "cpus" },
             Case { R"({"name":"a","cpus":255})", "cpus" },
             Case { R"({"name":"a","cpus":"2"})", "cpus" },
             Case { R"({"name":"a","memory":"12X"})", "memory" },
             Case { R"({"name":"a","memory":4097})", "memory" },
             Case { R"({"name":"a","kernel":"relative/k"})", "kernel" },
             Case { R"({"name":"a","restart":"always"})", "restart" },
             Case { R"({"name":"a","disks":[{"path":"/x","cache":true}]})", "cache" },
             Case { R"({"name":"../etc"})", "name" },
             Case { R"({"cpus":1})", "name" },
             Case { R"({"name":"a","initrd":"/i"})", "kernel" } }) {
        auto definition = definition_from_text(c.text);
        INFO(c.text);
        REQUIRE_FALSE(definition);
        CHECK(definition.error().find(c.names) != std::string::npos);
    }
    CHECK_FALSE(definition_from_text("{not json"));
    CHECK_FALSE(definition_from_text("[1,2]"));
}

TEST_CASE("VM names are safe as file names and URL segments", "[unit][supervisor]")
{
    CHECK(is_valid_vm_name("vm-1.test_A"));
    CHECK(is_valid_vm_name(std::string(64, 'a')));
    CHECK_FALSE(is_valid_vm_name(std::string(65, 'a')));
    for (auto name : { "", ".", "..", ".hidden", "-x", "a/b", "a b", "a?b", "a%2f" })
        CHECK_FALSE(is_valid_vm_name(name));
}

TEST_CASE("sizes parse with binary suffixes and refuse overflow", "[unit][supervisor]")
{
    CHECK(parse_size("4096") == 4096u);
    CHECK(parse_size("64M") == 64ULL << 20);
    CHECK(parse_size("64MiB") == 64ULL << 20);
    CHECK(parse_size("2g") == 2ULL << 30);
    CHECK(parse_size("1KB") == 1024u);
    CHECK_FALSE(parse_size("M"));
    CHECK_FALSE(parse_size("12X"));
    CHECK_FALSE(parse_size("99999999999T"));
}

TEST_CASE("vm.create gets Cloud Hypervisor's VmConfig with a pty serial port", "[unit][supervisor]")
{
    auto definition = definition_from_text(R"({"name":"a","cpus":3,"memory":"128M","kernel":"/k","cmdline":"x=1","disks":[{"path":"/d"}]})");
    REQUIRE(definition);
    json const config = to_vm_config(*definition);
    CHECK(config["cpus"]["boot_vcpus"] == 3);
    CHECK(config["memory"]["size"] == 128ULL << 20);
    CHECK(config["payload"]["kernel"] == "/k");
    CHECK(config["payload"]["cmdline"] == "x=1");
    CHECK_FALSE(config["payload"].contains("initramfs"));
    CHECK(config["disks"][0]["path"] == "/d");
    CHECK(config["serial"]["mode"] == "Pty");
}
