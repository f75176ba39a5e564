// SPDX-License-Identifier: Apache-2.0
// The device options (--disk, --net, --vsock, --rng, --console, --pvpanic): each parser on valid
// input and on every error it reports, and the options through parse_command_line.
#include "vmm/cli/device_options.h"
#include "vmm/cli/options.h"
#include "vmm/exit_status.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::cli;

namespace {

std::expected<Options, CliExit> parse(std::vector<std::string> args)
{
    args.insert(args.begin(), "monarch-vmm");
    std::vector<char const*> argv;
    for (auto const& arg : args)
        argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    return parse_command_line(static_cast<int>(args.size()), argv.data());
}

// The error must be one line and mention every fragment (option, key, value).
template<typename T>
void require_error(std::expected<T, DeviceOptionError> const& result, std::vector<std::string> fragments)
{
    REQUIRE_FALSE(result);
    INFO(result.error());
    CHECK(result.error().find('\n') == std::string::npos);
    for (auto const& fragment : fragments)
        CHECK(result.error().find(fragment) != std::string::npos);
}

} // namespace

TEST_CASE("disk option: path, readonly, direct and id", "[unit][cli][devices]")
{
    auto disk = parse_disk_option("path=/var/img/a.raw,readonly=on,direct=true,id=disk0");
    REQUIRE(disk);
    CHECK(disk->path == "/var/img/a.raw");
    CHECK(disk->readonly);
    CHECK(disk->direct);
    CHECK(disk->id == "disk0");

    auto plain = parse_disk_option("path=b.img");
    REQUIRE(plain);
    CHECK(plain->path == "b.img");
    CHECK_FALSE(plain->readonly);
    CHECK_FALSE(plain->direct);
    CHECK_FALSE(plain->id);

    auto off = parse_disk_option("readonly=off,path=c.img,direct=false");
    REQUIRE(off);
    CHECK_FALSE(off->readonly);
    CHECK_FALSE(off->direct);
}

TEST_CASE("disk option errors name the option, key and value", "[unit][cli][devices]")
{
    require_error(parse_disk_option("path=a.img,readonly=maybe"), { "--disk", "readonly", "maybe" });
    require_error(parse_disk_option("path=a.img,size=1G"), { "--disk", "unknown key", "size" });
    require_error(parse_disk_option("readonly=on"), { "--disk", "missing path" });
    require_error(parse_disk_option(""), { "--disk", "empty" });
    require_error(parse_disk_option("path="), { "--disk", "path", "empty" });
    require_error(parse_disk_option("a.img"), { "--disk", "a.img", "key=value" });
    require_error(parse_disk_option("path=a,path=b"), { "--disk", "path", "twice" });
    require_error(parse_disk_option("path=a,id=123456789012345678901"), { "--disk", "id", "123456789012345678901", "20" });
    CHECK(parse_disk_option("path=a,id=12345678901234567890")); // exactly 20 bytes is fine
}

TEST_CASE("net option: tap, mac, ip, mask and id", "[unit][cli][devices]")
{
    auto net = parse_net_option("tap=tap0,mac=52:54:00:AB:cd:0f,ip=192.168.10.1,mask=255.255.255.0,id=net0");
    REQUIRE(net);
    CHECK(net->tap == "tap0");
    REQUIRE(net->mac);
    CHECK(*net->mac == machine::MacAddress { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f });
    CHECK(net->host_ip == "192.168.10.1");
    CHECK(net->netmask == "255.255.255.0");
    CHECK(net->id == "net0");

    auto only_mac = parse_net_option("mac=02:00:00:00:00:01");
    REQUIRE(only_mac);
    CHECK(only_mac->tap.empty());
}

TEST_CASE("net option errors name the option, key and value", "[unit][cli][devices]")
{
    require_error(parse_net_option("tap=tap0,mac=52:54:00:12:34"), { "--net", "mac", "52:54:00:12:34" });
    require_error(parse_net_option("mac=52-54-00-12-34-56"), { "--net", "mac", "52-54-00-12-34-56" });
    require_error(parse_net_option("mac=52:54:00:12:34:zz"), { "--net", "mac", "zz" });
    require_error(parse_net_option("mac=01:00:5e:00:00:01"), { "--net", "mac", "multicast" });
    require_error(parse_net_option("mac=00:00:00:00:00:00"), { "--net", "mac", "zeros" });
    require_error(parse_net_option("tap=a-name-much-too-long"), { "--net", "tap", "a-name-much-too-long" });
    require_error(parse_net_option("tap=a/b"), { "--net", "tap", "a/b" });
    require_error(parse_net_option("tap=t0,ip=300.1.1.1"), { "--net", "ip", "300.1.1.1" });
    require_error(parse_net_option("tap=t0,mask=x"), { "--net", "mask", "'x'" });
    require_error(parse_net_option("tap=t0,queues=4"), { "--net", "unknown key", "queues" });
}

TEST_CASE("vsock option: cid and socket, and its errors", "[unit][cli][devices]")
{
    auto vsock = parse_vsock_option("cid=3,socket=/tmp/v.sock");
    REQUIRE(vsock);
    CHECK(vsock->cid == 3);
    CHECK(vsock->socket == "/tmp/v.sock");
    CHECK(parse_vsock_option("socket=/s,cid=4294967294"));

    require_error(parse_vsock_option("cid=2,socket=/s"), { "--vsock", "cid", "'2'" });
    require_error(parse_vsock_option("cid=0,socket=/s"), { "--vsock", "cid", "'0'" });
    require_error(parse_vsock_option("cid=4294967295,socket=/s"), { "--vsock", "cid", "4294967295" });
    require_error(parse_vsock_option("cid=three,socket=/s"), { "--vsock", "cid", "three" });
    require_error(parse_vsock_option("cid=-3,socket=/s"), { "--vsock", "cid", "-3" });
    require_error(parse_vsock_option("cid=3"), { "--vsock", "missing socket" });
    require_error(parse_vsock_option("socket=/s"), { "--vsock", "missing cid" });
    require_error(parse_vsock_option("cid=3,socket=/s,id=v0"), { "--vsock", "unknown key", "id" });
}

TEST_CASE("rng option: default source, src= and its errors", "[unit][cli][devices]")
{
    auto plain = parse_rng_option("");
    REQUIRE(plain);
    CHECK(plain->source == "/dev/urandom");
    auto random = parse_rng_option("src=/dev/random");
    REQUIRE(random);
    CHECK(random->source == "/dev/random");
    require_error(parse_rng_option("src=/dev/hwrng"), { "--rng", "src", "/dev/hwrng" });
    require_error(parse_rng_option("source=/dev/random"), { "--rng", "unknown key", "source" });
}

TEST_CASE("console option: every mode and its errors", "[unit][cli][devices]")
{
    auto mode = [](std::string_view text) {
        auto console = parse_console_option(text);
        REQUIRE(console);
        return console->mode;
    };
    CHECK(mode("off") == "off");
    CHECK(mode("null") == "off");
    CHECK(mode("pty") == "pty");
    CHECK(mode("tty") == "stdio");
    CHECK(mode("stdio") == "stdio");
    CHECK(mode("file=/tmp/console.log") == "file:/tmp/console.log");
    CHECK(mode("file:/tmp/c.log") == "file:/tmp/c.log");
    CHECK(mode("socket=/run/c.sock") == "socket:/run/c.sock");
    require_error(parse_console_option("serial"), { "--console", "serial" });
    require_error(parse_console_option("file="), { "--console", "file", "empty path" });
    require_error(parse_console_option("socket:"), { "--console", "socket", "empty path" });
}

TEST_CASE("device options through the command line", "[unit][cli][devices]")
{
    auto options = parse({ "--disk", "path=a.img", "path=b.img,readonly=on", "--disk", "path=c.img", "--net",
        "tap=t0,mac=02:00:00:00:00:02", "--vsock", "cid=5,socket=/tmp/v", "--rng", "--console", "pty" });
    INFO((options ? std::string() : options.error().text));
    REQUIRE(options);
    auto const& devices = options->devices;
    REQUIRE(devices.disks.size() == 3);
    CHECK(devices.disks[0].path == "a.img");
    CHECK(devices.disks[1].readonly);
    CHECK(devices.disks[2].path == "c.img");
    REQUIRE(devices.nets.size() == 1);
    CHECK(devices.nets[0].tap == "t0");
    REQUIRE(devices.vsock);
    CHECK(devices.vsock->cid == 5);
    REQUIRE(devices.rng);
    CHECK(devices.rng->source == "/dev/urandom");
    CHECK(devices.console.mode == "pty");

    machine::VmConfig config;
    apply_device_options(devices, config);
    CHECK(config.disks.size() == 3);
    CHECK(config.nets.size() == 1);
    CHECK(config.rng);
    CHECK(config.vsock);
    CHECK(config.console.mode == "pty");

    auto none = parse({});
    REQUIRE(none);
    CHECK(none->devices.disks.empty());
    CHECK_FALSE(none->devices.rng);
    CHECK_FALSE(none->devices.vsock);
    CHECK(none->devices.console.mode == "off");

    auto rng_last = parse({ "--console", "off", "--rng" });
    REQUIRE(rng_last);
    CHECK(rng_last->devices.rng);
    auto rng_src = parse({ "--rng", "src=/dev/random" });
    REQUIRE(rng_src);
    REQUIRE(rng_src->devices.rng);
    CHECK(rng_src->devices.rng->source == "/dev/random");
}

TEST_CASE("a bad device option is a one-line usage error", "[unit][cli][devices]")
{
    for (auto const& args : std::vector<std::vector<std::string>> {
             { "--disk", "readonly=on" },
             { "--net", "mac=zz" },
             { "--vsock", "cid=1,socket=/s" },
             { "--rng", "src=/etc/passwd" },
             { "--console", "banana" },
         }) {
        auto result = parse(args);
        REQUIRE_FALSE(result);
        INFO(result.error().text);
        CHECK(result.error().status == exit_status::Usage);
        CHECK(result.error().text.find('\n') == std::string::npos);
        CHECK(result.error().text.find(args[0]) != std::string::npos);
    }
}

TEST_CASE("the --pvpanic flag puts the pvpanic device in the config", "[unit][cli][devices][pvpanic]")
{
    auto options = parse({ "--pvpanic" });
    INFO((options ? std::string() : options.error().text));
    REQUIRE(options);
    CHECK(options->devices.pvpanic);
    machine::VmConfig config;
    apply_device_options(options->devices, config);
    CHECK(config.pvpanic);

    auto none = parse({});
    REQUIRE(none);
    CHECK_FALSE(none->devices.pvpanic);
    machine::VmConfig plain;
    apply_device_options(none->devices, plain);
    CHECK_FALSE(plain.pvpanic);

    // A flag takes no value; the help says what it does and which status to expect.
    CHECK(parse({ "--pvpanic", "on" }).error().status == exit_status::Usage);
    auto help = parse({ "--help" });
    REQUIRE_FALSE(help);
    CHECK(help.error().text.find("--pvpanic") != std::string::npos);
    CHECK(help.error().text.find("83") != std::string::npos);
    CHECK(help.error().text.find("pvpanic_pci") != std::string::npos);
}

TEST_CASE("a --pvpanic given with --restore is refused (the snapshot's config has it or not)", "[unit][cli][devices][pvpanic]")
{
    auto result = parse({ "--owner-key", "file=/nonexistent.key", "--restore", "source_url=file:///nonexistent", "--pvpanic" });
    REQUIRE_FALSE(result);
    CHECK(result.error().status == exit_status::Usage);
    CHECK(result.error().text.find("--restore takes the VM's config from the snapshot") != std::string::npos);
}
