// SPDX-License-Identifier: Apache-2.0
// VmDefinition: validation of monarchctl's and the state directory's JSON, and the Cloud
// Hypervisor VmConfig sent as vm.create.
#include "supervisor/vm_definition.h"

#include "common/size_parse.h"
#include "vmm/api/vm_config_json.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
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

TEST_CASE("memory is bytes as a number and a size as monarch-vmm reads it as a string", "[unit][supervisor]")
{
    auto memory_of = [](std::string const& value) -> std::optional<uint64_t> {
        auto definition = definition_from_text(R"({"name":"a","kernel":"/k","memory":)" + value + "}");
        return definition ? std::optional(definition->memory) : std::nullopt;
    };
    // The same strings mean the same as monarch-vmm's --memory (common/size_parse.h).
    for (char const* text : { "64M", "64MiB", "2g", "4096K", "256", "1G" }) {
        INFO(text);
        CHECK(memory_of(fmt::format("\"{}\"", text)) == monarch::parse_size(text).value());
    }
    CHECK(memory_of("\"256\"") == 256ULL << 20);     // a bare number in a string is MiB
    CHECK(memory_of("268435456") == 256ULL << 20);   // a JSON number is bytes (CH's memory.size)
    CHECK_FALSE(memory_of("\"M\""));
    CHECK_FALSE(memory_of("\"12X\""));
    CHECK_FALSE(memory_of("\"99999999999T\""));
    CHECK_FALSE(memory_of("\"4097K\""));           // not a multiple of 4 KiB
    CHECK_FALSE(memory_of("4096"));                // a number is bytes: below 1 MiB
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

TEST_CASE("what monarchd sends as vm.create is what monarch-vmm's parser reads back", "[unit][supervisor]")
{
    auto const text = GENERATE(
        R"({"name":"a","kernel":"/k"})",
        R"({"name":"b","cpus":4,"memory":"1G","kernel":"/boot/vmlinux","initrd":"/boot/initrd.img","cmdline":"console=ttyS0 quiet",
            "disks":[{"path":"/srv/a.img","readonly":true},{"path":"/srv/b.img"}],"restart":"on-failure"})",
        R"({"name":"c","cpus":254,"memory":4294967296,"kernel":"/k","cmdline":""})");
    INFO(text);
    auto definition = definition_from_text(text);
    REQUIRE(definition);
    // The body goes through text, as it does over the socket.
    auto parsed = monarch::vmm::api::vm_config_from_body(to_vm_config(*definition).dump());
    INFO((parsed ? std::string() : parsed.error()));
    REQUIRE(parsed);
    CHECK(parsed->cpus == definition->cpus);
    CHECK(parsed->memory == definition->memory);
    CHECK(parsed->kernel == definition->kernel.value());
    CHECK(parsed->initrd == definition->initrd);
    CHECK(parsed->cmdline == definition->cmdline.value_or(""));
    CHECK(parsed->serial == "pty");
    CHECK(parsed->console.mode == "off");
    CHECK(parsed->nets.empty());
    CHECK_FALSE(parsed->rng);
    CHECK_FALSE(parsed->vsock);
    REQUIRE(parsed->disks.size() == definition->disks.size());
    for (size_t i = 0; i < parsed->disks.size(); ++i) {
        CHECK(parsed->disks[i].path == definition->disks[i].path);
        CHECK(parsed->disks[i].readonly == definition->disks[i].readonly);
        CHECK_FALSE(parsed->disks[i].direct);
    }
}
