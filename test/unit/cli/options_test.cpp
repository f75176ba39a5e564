// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's command line through its parsing functions: sizes, CPU counts, every option,
// and every bad-option path with its exit status.
#include "vmm/cli/options.h"
#include "vmm/exit_status.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::cli;

namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

std::expected<Options, CliExit> parse(std::vector<std::string> args)
{
    args.insert(args.begin(), "monarch-vmm");
    std::vector<char const*> argv;
    for (auto const& arg : args)
        argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    return parse_command_line(static_cast<int>(args.size()), argv.data());
}

int usage_status(std::vector<std::string> args)
{
    auto result = parse(std::move(args));
    REQUIRE_FALSE(result);
    INFO(result.error().text);
    CHECK(result.error().text.find('\n') == std::string::npos); // one line
    return result.error().status;
}

} // namespace

TEST_CASE("memory sizes take binary units, and a bare number is MiB", "[unit][cli]")
{
    CHECK(parse_memory_size("512M").value() == 512 * MiB);
    CHECK(parse_memory_size("1G").value() == GiB);
    CHECK(parse_memory_size("1024K").value() == MiB);
    CHECK(parse_memory_size("2T").value() == 2048 * GiB);
    CHECK(parse_memory_size("256").value() == 256 * MiB);
    CHECK(parse_memory_size("1g").value() == GiB);
    CHECK(parse_memory_size("1GiB").value() == GiB);
    CHECK(parse_memory_size("64MB").value() == 64 * MiB);
    CHECK(parse_memory_size("size=512M").value() == 512 * MiB); // Cloud Hypervisor's form
    CHECK(parse_memory_size("0").value() == 0);                 // refused by the caller, not here
}

TEST_CASE("unparsable memory sizes are refused", "[unit][cli]")
{
    for (char const* text : { "", "banana", "12X", "M", "-1G", " 1G", "1.5G", "1G,shared=on", "size=", "1GG", "0x10M" }) {
        INFO(text);
        auto size = parse_memory_size(text);
        REQUIRE_FALSE(size);
        CHECK(size.error().code == Errc::InvalidArgument);
    }
    for (char const* text : { "99999999999T", "18446744073709551616", "17179869184G" }) {
        INFO(text);
        auto size = parse_memory_size(text);
        REQUIRE_FALSE(size);
        CHECK(size.error().code == Errc::OutOfRange);
    }
}

TEST_CASE("cpu counts are 1 to the maximum", "[unit][cli]")
{
    CHECK(parse_cpu_count("1").value() == 1);
    CHECK(parse_cpu_count("4").value() == 4);
    CHECK(parse_cpu_count("boot=2").value() == 2); // Cloud Hypervisor's form
    CHECK(parse_cpu_count(std::to_string(MAX_CPUS)).value() == MAX_CPUS);
    CHECK(parse_cpu_count("0").error().code == Errc::InvalidArgument);
    CHECK(parse_cpu_count(std::to_string(MAX_CPUS + 1)).error().code == Errc::OutOfRange);
    CHECK(parse_cpu_count("100000").error().code == Errc::OutOfRange);
    CHECK(parse_cpu_count("99999999999999999999999").error().code == Errc::OutOfRange);
    for (char const* text : { "", "two", "2x", "-1", "boot=", "1,max=4" })
        CHECK(parse_cpu_count(text).error().code == Errc::InvalidArgument);
}

TEST_CASE("no options means testos defaults", "[unit][cli]")
{
    auto options = parse({});
    REQUIRE(options);
    CHECK_FALSE(options->kernel);
    CHECK_FALSE(options->initrd);
    CHECK_FALSE(options->cmdline);
    CHECK(options->memory == DEFAULT_MEMORY);
    CHECK(options->cpus == 1);
    CHECK(options->serial == "stdio");
    CHECK(options->log_level == log::Level::Warn);
}

TEST_CASE("every option is parsed into Options", "[unit][cli]")
{
    auto options = parse({ "--kernel", "/k", "--initrd", "/i", "--cmdline", "console=ttyS0 x=1", "--memory", "1G",
        "--cpus", "boot=3", "--serial", "file:/tmp/out", "--log-level", "debug" });
    REQUIRE(options);
    CHECK(options->kernel == "/k");
    CHECK(options->initrd == "/i");
    CHECK(options->cmdline == "console=ttyS0 x=1");
    CHECK(options->memory == GiB);
    CHECK(options->cpus == 3);
    CHECK(options->serial == "file:/tmp/out");
    CHECK(options->log_level == log::Level::Debug);
    // The --opt=value form too.
    auto equals = parse({ "--memory=size=64M", "--cpus=2" });
    REQUIRE(equals);
    CHECK(equals->memory == 64 * MiB);
    CHECK(equals->cpus == 2);
}

TEST_CASE("help and version exit 0 with text for stdout", "[unit][cli]")
{
    auto help = parse({ "--help" });
    REQUIRE_FALSE(help);
    CHECK(help.error().status == exit_status::Success);
    for (char const* option : { "--kernel", "--initrd", "--cmdline", "--memory", "--cpus", "--serial", "--log-level", "--version", "Examples:" })
        CHECK(help.error().text.find(option) != std::string::npos);
    auto version = parse({ "--version" });
    REQUIRE_FALSE(version);
    CHECK(version.error().status == exit_status::Success);
    CHECK(version.error().text.starts_with("monarch-vmm "));
    CHECK(version.error().text.ends_with("\n"));
}

TEST_CASE("bad options and values are usage errors", "[unit][cli]")
{
    CHECK(usage_status({ "--bogus" }) == exit_status::Usage);
    CHECK(usage_status({ "stray-argument" }) == exit_status::Usage);
    CHECK(usage_status({ "--kernel" }) == exit_status::Usage);      // missing value
    CHECK(usage_status({ "--memory", "banana" }) == exit_status::Usage);
    CHECK(usage_status({ "--memory", "0" }) == exit_status::Usage);
    CHECK(usage_status({ "--memory", "0M" }) == exit_status::Usage);
    CHECK(usage_status({ "--memory", "99999999999T" }) == exit_status::Usage);
    CHECK(usage_status({ "--cpus", "0" }) == exit_status::Usage);
    CHECK(usage_status({ "--cpus", "100000" }) == exit_status::Usage);
    CHECK(usage_status({ "--cpus", "many" }) == exit_status::Usage);
    CHECK(usage_status({ "--log-level", "loud" }) == exit_status::Usage);
    CHECK(usage_status({ "--log-level", "off" }) == exit_status::Usage);
    CHECK(usage_status({ "--initrd", "/i" }) == exit_status::Usage); // an initrd without a kernel
}

TEST_CASE("usage errors name the option and the value", "[unit][cli]")
{
    auto memory = parse({ "--memory", "banana" });
    REQUIRE_FALSE(memory);
    CHECK(memory.error().text.find("--memory") != std::string::npos);
    CHECK(memory.error().text.find("banana") != std::string::npos);
    auto cpus = parse({ "--cpus", "100000" });
    REQUIRE_FALSE(cpus);
    CHECK(cpus.error().text.find("--cpus") != std::string::npos);
    CHECK(cpus.error().text.find("100000") != std::string::npos);
    CHECK(cpus.error().text.find(std::to_string(MAX_CPUS)) != std::string::npos);
}
