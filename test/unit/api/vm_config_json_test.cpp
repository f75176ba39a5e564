// SPDX-License-Identifier: Apache-2.0
// Cloud Hypervisor's VmConfig JSON to machine::VmConfig: the body libvirt 9.0 sends, the
// payload form of CH's own examples, unknown and unsupported fields, wrong types, bad sizes.
#include "vmm/api/vm_config_json.h"

#include <catch2/catch.hpp>

using namespace monarch::vmm;
using namespace monarch::vmm::api;

namespace {

// Fails the test with the parser's message when the body is refused.
machine::VmConfig accepted(std::string_view body)
{
    auto config = vm_config_from_body(body);
    INFO(body);
    if (!config)
        FAIL(config.error());
    return *config;
}

std::string refused(std::string_view body)
{
    auto config = vm_config_from_body(body);
    INFO(body);
    REQUIRE_FALSE(config.has_value());
    return config.error();
}

} // namespace

TEST_CASE("vm config json: libvirt 9.0's vm.create body for a domain", "[unit][api]")
{
    // As virCHMonitorBuildVMJson writes it for a domain with a pty serial, 2 vCPUs, 1 GiB, a
    // kernel, initrd and cmdline, one read-only disk and one tap with an address.
    auto config = accepted(R"({"serial":{"mode":"Pty"},"cpus":{"boot_vcpus":2,"max_vcpus":2},)"
                           R"("memory":{"size":1073741824},"kernel":{"path":"/var/lib/k/vmlinuz"},)"
                           R"("cmdline":{"args":"console=ttyS0 root=/dev/vda"},"initramfs":{"path":"/var/lib/k/initrd"},)"
                           R"("disks":[{"path":"/var/lib/img/root.raw","readonly":true}],)"
                           R"("net":[{"ip":"192.168.122.1","mask":"255.255.255.0","tap":"vnet0","mac":"52:54:00:AB:cd:01"}]})");
    CHECK(config.cpus == 2);
    CHECK(config.memory == 1073741824);
    CHECK(config.kernel == "/var/lib/k/vmlinuz");
    CHECK(config.cmdline == "console=ttyS0 root=/dev/vda");
    REQUIRE(config.initrd);
    CHECK(*config.initrd == "/var/lib/k/initrd");
    CHECK(config.serial == "pty");
    CHECK(config.console.mode == "off");
    REQUIRE(config.disks.size() == 1);
    CHECK(config.disks[0].path == "/var/lib/img/root.raw");
    CHECK(config.disks[0].readonly);
    CHECK_FALSE(config.disks[0].direct);
    REQUIRE(config.nets.size() == 1);
    CHECK(config.nets[0].tap == "vnet0");
    REQUIRE(config.nets[0].mac);
    CHECK(*config.nets[0].mac == machine::MacAddress { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 });
    CHECK(config.nets[0].host_ip == std::optional<std::string>("192.168.122.1"));
    CHECK(config.nets[0].netmask == std::optional<std::string>("255.255.255.0"));
}

TEST_CASE("vm config json: the payload form with every implemented device", "[unit][api]")
{
    auto config = accepted(R"({"payload":{"kernel":"/k","cmdline":"quiet","initramfs":"/i"},)"
                           R"("disks":[{"path":"/a","direct":true,"id":"disk0"},{"path":"/b"}],)"
                           R"("rng":{"src":"/dev/urandom"},"vsock":{"cid":3,"socket":"/run/v.sock"},)"
                           R"("serial":{"mode":"File","file":"/tmp/s.log"},"console":{"mode":"Socket","socket":"/tmp/c.sock"}})");
    CHECK(config.kernel == "/k");
    CHECK(config.cmdline == "quiet");
    CHECK(config.initrd == std::optional<std::string>("/i"));
    CHECK(config.cpus == CH_DEFAULT_VCPUS);
    CHECK(config.memory == CH_DEFAULT_MEMORY);
    REQUIRE(config.disks.size() == 2);
    CHECK(config.disks[0].direct);
    CHECK(config.disks[0].id == std::optional<std::string>("disk0"));
    REQUIRE(config.rng);
    CHECK(config.rng->source == "/dev/urandom");
    REQUIRE(config.vsock);
    CHECK(config.vsock->cid == 3);
    CHECK(config.vsock->socket == "/run/v.sock");
    CHECK(config.serial == "file:/tmp/s.log");
    CHECK(config.console.mode == "socket:/tmp/c.sock");
}

TEST_CASE("vm config json: console modes map onto serial specs", "[unit][api]")
{
    auto mode = [](std::string_view json_mode) {
        return accepted(std::string(R"({"payload":{"kernel":"/k"},"serial":)") + std::string(json_mode) + "}").serial;
    };
    CHECK(mode(R"({"mode":"Off"})") == "off");
    CHECK(mode(R"({"mode":"Null"})") == "off");
    CHECK(mode(R"({"mode":"Pty"})") == "pty");
    CHECK(mode(R"({"mode":"Tty"})") == "stdio");
    CHECK(refused(R"({"payload":{"kernel":"/k"},"serial":{"mode":"Carrier-Pigeon"}})").find("serial.mode") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"serial":{"mode":"File"}})").find("serial.file") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"console":{"mode":"Socket"}})").find("console.socket") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"serial":{}})").find("serial.mode") != std::string::npos);
}

TEST_CASE("vm config json: CH's defaults for unimplemented fields are accepted and other values refused", "[unit][api]")
{
    // What a CH client sends when it serializes a full VmConfig with defaults and nulls.
    accepted(R"({"payload":{"kernel":"/k","firmware":null},"cpus":{"boot_vcpus":1,"max_vcpus":1,"topology":null,)"
             R"("kvm_hyperv":false,"max_phys_bits":46,"affinity":null,"features":{"amx":false}},)"
             R"("memory":{"size":536870912,"mergeable":false,"hotplug_method":"Acpi","shared":false,"hugepages":false,)"
             R"("prefault":false,"thp":true,"zones":null},"balloon":null,"fs":null,"pmem":[],"iommu":false,)"
             R"("watchdog":false,"numa":null,"devices":[],"debug_console":{"mode":"Off"},)"
             R"("disks":[{"path":"/d","iommu":false,"num_queues":1,"queue_size":128,"vhost_user":false,"vhost_socket":null}],)"
             R"("net":[{"tap":"t0","iommu":false,"num_queues":2,"queue_size":256,"vhost_user":false,"offload_tso":true}]})");

    CHECK(refused(R"({"payload":{"kernel":"/k"},"iommu":true})").find("iommu") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"numa":[{"guest_numa_id":0}]})").find("numa") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":536870912,"hotplug_size":1073741824}})")
              .find("memory.hotplug_size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":536870912,"shared":true}})").find("memory.shared") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":2,"max_vcpus":4}})").find("hotplug") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"net":[{"tap":"t","vhost_user":true,"vhost_socket":"/s"}]})")
              .find("net[0].vhost_") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/d","num_queues":4}]})").find("disks[0].num_queues") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k","firmware":"/fw"}})").find("payload.firmware") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"devices":[{"path":"/sys/bus/pci/devices/0000:01:00.0"}]})")
              .find("devices") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"debug_console":{"mode":"Pty"}})").find("debug_console") != std::string::npos);
}

TEST_CASE("vm config json: unknown fields are named, never ignored", "[unit][api]")
{
    CHECK(refused(R"({"payload":{"kernel":"/k"},"flux_capacitor":1})").find("flux_capacitor") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":1,"turbo":true}})").find("cpus.turbo") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/d"},{"path":"/e","colour":"red"}]})")
              .find("disks[1].colour") != std::string::npos);
    CHECK(refused(R"({"kernel":{"path":"/k","sha":"x"}})").find("kernel.sha") != std::string::npos);
}

TEST_CASE("vm config json: wrong types are refused with the field's name", "[unit][api]")
{
    CHECK(refused(R"({"payload":{"kernel":42}})").find("payload.kernel") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":"2"}})").find("cpus.boot_vcpus") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":1.5}})").find("cpus.boot_vcpus") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":{"path":"/d"}})").find("disks") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/d","readonly":"yes"}]})").find("disks[0].readonly") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":[]})").find("memory") != std::string::npos);
    CHECK_FALSE(refused(R"([1,2,3])").empty());
    CHECK_FALSE(refused(R"("just a string")").empty());
}

TEST_CASE("vm config json: negative, zero, huge and unaligned sizes and counts", "[unit][api]")
{
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":-1}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":0}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":1000000001}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":1e30}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{"size":99999999999999999999999}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"memory":{}})").find("memory.size") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":0,"max_vcpus":0}})").find("cpus") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":100000,"max_vcpus":100000}})").find("cpus.boot_vcpus") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":-2,"max_vcpus":-2}})").find("cpus.boot_vcpus") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"vsock":{"cid":2,"socket":"/s"}})").find("vsock.cid") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"vsock":{"cid":4294967296,"socket":"/s"}})").find("vsock.cid") != std::string::npos);
}

TEST_CASE("vm config json: required fields and values that cannot be right", "[unit][api]")
{
    CHECK(refused(R"({})").find("payload.kernel") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":""}})").find("payload.kernel") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"kernel":{"path":"/k2"}})").find("not both") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":[{"readonly":true}]})").find("disks[0].path") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"disks":[{"path":"/d","id":"this-id-is-longer-than-twenty"}]})").find("disks[0].id") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"net":[{"mac":"52:54:00:zz:00:01"}]})").find("net[0].mac") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"net":[{"mac":"52:54:00:00:01"}]})").find("net[0].mac") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"net":[{"ip":"300.1.1.1"}]})").find("net[0].ip") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"net":[{"tap":"a-name-much-too-long"}]})").find("net[0].tap") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"rng":{"src":"/dev/hwrng"}})").find("rng.src") != std::string::npos);
    CHECK(refused(R"({"payload":{"kernel":"/k"},"vsock":{"cid":5}})").find("vsock.socket") != std::string::npos);
}

TEST_CASE("vm config json: malformed and hostile bodies", "[unit][api]")
{
    CHECK_FALSE(refused("").empty());
    CHECK_FALSE(refused("{").empty());
    CHECK_FALSE(refused(R"({"payload":{"kernel":"/k"},})").empty());
    CHECK(refused(std::string(100000, '[')).find("nested") != std::string::npos);
    CHECK(refused(std::string("{\"a\":") + std::string(5000, '{')).find("nested") != std::string::npos);
    // Brackets inside strings do not count as nesting.
    accepted(std::string(R"({"payload":{"kernel":"/k)") + std::string(100, '[') + R"("}})");
}

TEST_CASE("vm config json: the config written for vm.info reads back the same", "[unit][api]")
{
    auto config = accepted(R"({"payload":{"kernel":"/k","cmdline":"c","initramfs":"/i"},"cpus":{"boot_vcpus":3,"max_vcpus":3},)"
                           R"("memory":{"size":268435456},"disks":[{"path":"/d","readonly":true,"id":"x"}],)"
                           R"("net":[{"tap":"t","mac":"02:00:00:00:00:01","ip":"10.0.0.1","mask":"255.0.0.0"}],)"
                           R"("rng":{"src":"/dev/random"},"vsock":{"cid":7,"socket":"/v"},"serial":{"mode":"Pty"},"console":{"mode":"Tty"}})");
    auto written = vm_config_to_json(config, { "/dev/pts/7", std::nullopt });
    CHECK(written["serial"]["mode"] == "Pty");
    CHECK(written["serial"]["file"] == "/dev/pts/7");
    CHECK(written["console"]["mode"] == "Tty");
    CHECK(written["net"][0]["mac"] == "02:00:00:00:00:01");
    auto again = vm_config_from_body(dump_json(written));
    REQUIRE(again.has_value());
    CHECK(again->kernel == config.kernel);
    CHECK(again->cmdline == config.cmdline);
    CHECK(again->initrd == config.initrd);
    CHECK(again->cpus == config.cpus);
    CHECK(again->memory == config.memory);
    CHECK(again->disks.size() == 1);
    CHECK(again->disks[0].readonly);
    CHECK(again->disks[0].id == config.disks[0].id);
    CHECK(again->nets[0].mac == config.nets[0].mac);
    CHECK(again->nets[0].host_ip == config.nets[0].host_ip);
    CHECK(again->rng->source == "/dev/random");
    CHECK(again->vsock->cid == 7);
    CHECK(again->serial == "pty");
    CHECK(again->console.mode == "stdio");
}

TEST_CASE("vm config json: pvpanic is CH's boolean, default false, and vm.info shows it", "[unit][api][pvpanic]")
{
    CHECK(accepted(R"({"payload":{"kernel":"/k"},"pvpanic":true})").pvpanic);
    CHECK_FALSE(accepted(R"({"payload":{"kernel":"/k"},"pvpanic":false})").pvpanic);
    CHECK_FALSE(accepted(R"({"payload":{"kernel":"/k"},"pvpanic":null})").pvpanic);
    CHECK_FALSE(accepted(R"({"payload":{"kernel":"/k"}})").pvpanic);
    for (auto body : { R"({"payload":{"kernel":"/k"},"pvpanic":"true"})", R"({"payload":{"kernel":"/k"},"pvpanic":1})",
             R"({"payload":{"kernel":"/k"},"pvpanic":{}})" })
        CHECK(refused(body).find("pvpanic: expected a boolean") != std::string::npos);

    // vm.info always carries it, as CH's does; it reads back (a snapshot's manifest config too).
    auto on = accepted(R"({"payload":{"kernel":"/k"},"pvpanic":true})");
    auto written = vm_config_to_json(on);
    CHECK(written["pvpanic"] == true);
    auto again = vm_config_from_body(dump_json(written));
    REQUIRE(again.has_value());
    CHECK(again->pvpanic);
    auto off = vm_config_to_json(accepted(R"({"payload":{"kernel":"/k"}})"));
    CHECK(off["pvpanic"] == false);
    auto off_again = vm_config_from_body(dump_json(off));
    REQUIRE(off_again.has_value());
    CHECK_FALSE(off_again->pvpanic);
}
