// SPDX-License-Identifier: Apache-2.0
// The command line (--disk/--net/--vsock/--rng/--console) and the API's device JSON accept and
// refuse the same values, because both run machine/device_checks.h; and transport=pci|mmio in
// both, with one-line errors naming the option or field.
#include "vmm/api/vm_config_json.h"
#include "vmm/cli/device_options.h"
#include "vmm/memory/virtio_mmio_layout.h"

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <string>

using namespace monarch::vmm;

namespace {

struct Case {
    std::string cli_option;  // "--net"
    std::string cli_value;   // "tap=t0,mac=01:00:5e:00:00:01"
    std::string json_member; // R"("net":[{"tap":"t0","mac":"01:00:5e:00:00:01"}])"
    std::string key;         // what both errors must name
};

std::expected<cli::DeviceOptions, std::string> from_cli(Case const& c)
{
    cli::RawDeviceOptions raw;
    if (c.cli_option == "--disk")
        raw.disks.push_back(c.cli_value);
    else if (c.cli_option == "--net")
        raw.nets.push_back(c.cli_value);
    else if (c.cli_option == "--vsock")
        raw.vsock.push_back(c.cli_value);
    else if (c.cli_option == "--rng")
        raw.rng.push_back(c.cli_value);
    else
        raw.console.push_back(c.cli_value);
    return cli::convert_device_options(raw);
}

auto from_api(Case const& c) { return api::vm_config_from_body(fmt::format(R"({{"payload":{{"kernel":"/k"}},{}}})", c.json_member)); }

} // namespace

TEST_CASE("device checks: the CLI and the API refuse the same values, naming the key", "[unit][virtio_mmio]")
{
    Case const refused[] = {
        { "--net", "tap=t0,mac=01:00:5e:00:00:01", R"("net":[{"tap":"t0","mac":"01:00:5e:00:00:01"}])", "mac" },
        { "--net", "tap=t0,mac=00:00:00:00:00:00", R"("net":[{"tap":"t0","mac":"00:00:00:00:00:00"}])", "mac" },
        { "--net", "tap=a/b", R"("net":[{"tap":"a/b"}])", "tap" },
        { "--net", "tap=a-name-much-too-long", R"("net":[{"tap":"a-name-much-too-long"}])", "tap" },
        { "--net", "tap=t0,ip=fe80::1", R"("net":[{"tap":"t0","ip":"fe80::1"}])", "ip" },
        { "--net", "tap=t0,mask=255.0.0.300", R"("net":[{"tap":"t0","mask":"255.0.0.300"}])", "mask" },
        { "--disk", "path=/d,id=this-id-is-longer-than-twenty", R"("disks":[{"path":"/d","id":"this-id-is-longer-than-twenty"}])", "id" },
        { "--vsock", "cid=2,socket=/s", R"("vsock":{"cid":2,"socket":"/s"})", "cid" },
        { "--vsock", "cid=4294967295,socket=/s", R"("vsock":{"cid":4294967295,"socket":"/s"})", "cid" },
        { "--rng", "src=/dev/hwrng", R"("rng":{"src":"/dev/hwrng"})", "src" },
        { "--disk", "path=/d,transport=virtio", R"("disks":[{"path":"/d","transport":"virtio"}])", "transport" },
        { "--net", "tap=t0,transport=MMIO", R"("net":[{"tap":"t0","transport":"MMIO"}])", "transport" },
        { "--vsock", "cid=3,socket=/s,transport=ccw", R"("vsock":{"cid":3,"socket":"/s","transport":"ccw"})", "transport" },
        { "--rng", "transport=", R"("rng":{"transport":""})", "transport" },
        { "--console", "pty,transport=isa", R"("console":{"mode":"Pty","transport":"isa"})", "transport" },
    };
    for (auto const& c : refused) {
        INFO(c.cli_option << " " << c.cli_value << " / " << c.json_member);
        auto cli_result = from_cli(c);
        auto api_result = from_api(c);
        REQUIRE_FALSE(cli_result);
        REQUIRE_FALSE(api_result);
        INFO("cli: " << cli_result.error() << "\napi: " << api_result.error());
        CHECK(cli_result.error().find('\n') == std::string::npos);
        CHECK(cli_result.error().starts_with(c.cli_option + ":"));
        CHECK(cli_result.error().find(c.key) != std::string::npos);
        CHECK(api_result.error().find("." + c.key) != std::string::npos);
    }
}

TEST_CASE("device checks: the CLI and the API accept the same values", "[unit][virtio_mmio]")
{
    Case const accepted[] = {
        { "--net", "tap=t0,mac=02:00:00:00:00:01,ip=10.0.0.1,mask=255.0.0.0", R"("net":[{"tap":"t0","mac":"02:00:00:00:00:01","ip":"10.0.0.1","mask":"255.0.0.0"}])", "" },
        { "--disk", "path=/d,id=exactly-twenty-bytes", R"("disks":[{"path":"/d","id":"exactly-twenty-bytes"}])", "" },
        { "--vsock", "cid=4294967294,socket=/s", R"("vsock":{"cid":4294967294,"socket":"/s"})", "" },
        { "--rng", "src=/dev/random", R"("rng":{"src":"/dev/random"})", "" },
    };
    for (auto const& c : accepted) {
        INFO(c.cli_option << " " << c.cli_value << " / " << c.json_member);
        auto cli_result = from_cli(c);
        auto api_result = from_api(c);
        INFO((cli_result ? std::string() : cli_result.error()) << (api_result ? std::string() : api_result.error()));
        CHECK(cli_result);
        CHECK(api_result);
    }
}

TEST_CASE("device checks: transport=mmio reaches every device entry from both front ends", "[unit][virtio_mmio]")
{
    cli::RawDeviceOptions raw;
    raw.disks = { "path=/a,transport=mmio", "path=/b,transport=pci", "path=/c" };
    raw.nets = { "tap=t0,transport=mmio" };
    raw.vsock = { "cid=3,socket=/s,transport=mmio" };
    raw.rng = { "transport=mmio" };
    raw.console = { "pty,transport=mmio" };
    auto cli_result = cli::convert_device_options(raw);
    INFO((cli_result ? std::string() : cli_result.error()));
    REQUIRE(cli_result);
    using enum machine::VirtioTransport;
    CHECK(cli_result->disks[0].transport == Mmio);
    CHECK(cli_result->disks[1].transport == Pci);
    CHECK(cli_result->disks[2].transport == Pci);
    CHECK(cli_result->nets[0].transport == Mmio);
    CHECK(cli_result->vsock->transport == Mmio);
    CHECK(cli_result->rng->transport == Mmio);
    CHECK(cli_result->console.transport == Mmio);
    CHECK(cli_result->console.mode == "pty");

    auto api_result = api::vm_config_from_body(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/a","transport":"mmio"},{"path":"/b"}],)"
                                               R"("net":[{"tap":"t0","transport":"mmio"}],"vsock":{"cid":3,"socket":"/s","transport":"mmio"},)"
                                               R"("rng":{"transport":"mmio"},"console":{"mode":"Pty","transport":"mmio"}})");
    INFO((api_result ? std::string() : api_result.error()));
    REQUIRE(api_result);
    CHECK(api_result->disks[0].transport == Mmio);
    CHECK(api_result->disks[1].transport == Pci);
    CHECK(api_result->nets[0].transport == Mmio);
    CHECK(api_result->vsock->transport == Mmio);
    CHECK(api_result->rng->transport == Mmio);
    CHECK(api_result->console.transport == Mmio);
    CHECK(api_result->console.mode == "pty");
}

TEST_CASE("device checks: more mmio devices than the window has slots are refused by both", "[unit][virtio_mmio]")
{
    cli::RawDeviceOptions raw;
    std::string disks;
    for (size_t index = 0; index <= layout::VIRTIO_MMIO_SLOTS; ++index) {
        raw.disks.push_back(fmt::format("path=/d{},transport=mmio", index));
        disks += fmt::format(R"({}{{"path":"/d{}","transport":"mmio"}})", index ? "," : "", index);
    }
    auto cli_result = cli::convert_device_options(raw);
    REQUIRE_FALSE(cli_result);
    INFO(cli_result.error());
    CHECK(cli_result.error().find("transport") != std::string::npos);
    CHECK(cli_result.error().find(std::to_string(layout::VIRTIO_MMIO_SLOTS) + " slots") != std::string::npos);
    auto api_result = api::vm_config_from_body(fmt::format(R"({{"payload":{{"kernel":"/k"}},"disks":[{}]}})", disks));
    REQUIRE_FALSE(api_result);
    INFO(api_result.error());
    CHECK(api_result.error().find("transport") != std::string::npos);

    raw.disks.pop_back(); // exactly the window: accepted
    CHECK(cli::convert_device_options(raw));
}

TEST_CASE("device checks: vm.info shows transport mmio and vm.create takes it back", "[unit][virtio_mmio]")
{
    auto config = api::vm_config_from_body(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/a","transport":"mmio"},{"path":"/b"}],)"
                                           R"("net":[{"tap":"t0","transport":"mmio"}],"rng":{"transport":"mmio"},)"
                                           R"("vsock":{"cid":3,"socket":"/s","transport":"mmio"},"console":{"mode":"Pty","transport":"mmio"}})");
    REQUIRE(config);
    auto written = api::vm_config_to_json(*config);
    CHECK(written["disks"][0]["transport"] == "mmio");
    CHECK_FALSE(written["disks"][1].contains("transport")); // pci: Cloud Hypervisor's shape
    CHECK(written["net"][0]["transport"] == "mmio");
    auto again = api::vm_config_from_body(written.dump());
    INFO((again ? std::string() : again.error()));
    REQUIRE(again);
    CHECK(again->disks[0].transport == machine::VirtioTransport::Mmio);
    CHECK(again->disks[1].transport == machine::VirtioTransport::Pci);
    CHECK(again->nets[0].transport == machine::VirtioTransport::Mmio);
    CHECK(again->rng->transport == machine::VirtioTransport::Mmio);
    CHECK(again->vsock->transport == machine::VirtioTransport::Mmio);
    CHECK(again->console.transport == machine::VirtioTransport::Mmio);
}
