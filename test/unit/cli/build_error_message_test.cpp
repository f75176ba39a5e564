// SPDX-License-Identifier: Apache-2.0
// From build failures to exit statuses and messages: each step and error kind maps to the
// status exit_status.h documents, and the message names the input.
#include "vmm/cli/build_error_message.h"
#include "vmm/exit_status.h"
#include "vmm/kvm/kvm.h"

#include <catch2/catch.hpp>
#include <cerrno>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::cli;
using machine::BuildError;
using machine::BuildStep;

namespace {

machine::VmConfig config()
{
    machine::VmConfig c;
    c.kernel = "/path/to/kernel";
    c.initrd = "/path/to/initrd";
    c.memory = 64ULL << 20;
    c.cpus = 8;
    c.serial = "socket:/nowhere/s";
    return c;
}

CliExit describe(BuildStep step, Error error, uint64_t limit = 0)
{
    return describe_build_error(BuildError { step, error, limit }, config(), 16ULL << 30);
}

bool mentions(CliExit const& exit, std::string_view text) { return exit.text.find(text) != std::string::npos; }

} // namespace

TEST_CASE("unreadable and malformed images map to NoInput and BadImage", "[unit][cli]")
{
    auto missing = describe(BuildStep::ReadKernel, Error::from_errno(ENOENT, "open kernel"));
    CHECK(missing.status == exit_status::NoInput);
    CHECK(mentions(missing, "/path/to/kernel"));
    CHECK(mentions(missing, "No such file"));
    auto empty = describe(BuildStep::ReadKernel, Error { Errc::BadImage, 0, "kernel image is empty" });
    CHECK(empty.status == exit_status::BadImage);
    auto bad = describe(BuildStep::LoadKernel, Error { Errc::BadImage, 0, "ELF: truncated" });
    CHECK(bad.status == exit_status::BadImage);
    CHECK(mentions(bad, "/path/to/kernel"));
    CHECK(mentions(bad, "ELF: truncated"));
    auto initrd = describe(BuildStep::ReadInitrd, Error::from_errno(EACCES, "open initrd"));
    CHECK(initrd.status == exit_status::NoInput);
    CHECK(mentions(initrd, "/path/to/initrd"));
}

TEST_CASE("what the host or the memory size cannot honour maps to Config", "[unit][cli]")
{
    auto fit = describe(BuildStep::LoadKernel, Error { Errc::OutOfRange, 0, "initrd does not fit below initrd_addr_max" });
    CHECK(fit.status == exit_status::Config);
    CHECK(mentions(fit, "--memory"));
    auto larger = describe(BuildStep::InitrdSize, Error { Errc::OutOfRange, 0, "initrd is larger than guest memory" });
    CHECK(larger.status == exit_status::Config);
    CHECK(mentions(larger, "/path/to/initrd"));
    auto host = describe(BuildStep::Memory, Error { Errc::OutOfRange, 0, "more than the host" });
    CHECK(host.status == exit_status::Config);
    CHECK(mentions(host, "64 MiB"));
    CHECK(mentions(host, "16 GiB"));
    auto cpus = describe(BuildStep::CpuCount, Error { Errc::OutOfRange, 0, "more vCPUs than KVM supports" }, 4);
    CHECK(cpus.status == exit_status::Config);
    CHECK(mentions(cpus, "--cpus 8"));
    CHECK(mentions(cpus, "(4)"));
}

TEST_CASE("a bad memory size or command line is a usage error", "[unit][cli]")
{
    CHECK(describe(BuildStep::Memory, Error { Errc::InvalidArgument, 0, "guest memory size is 0" }).status == exit_status::Usage);
    CHECK(describe(BuildStep::LoadKernel, Error { Errc::InvalidArgument, 0, "command line too long" }).status == exit_status::Usage);
    CHECK(describe(BuildStep::SerialSpec, Error { Errc::InvalidArgument, 0, "bad spec" }).status == exit_status::Usage);
}

TEST_CASE("/dev/kvm absent, forbidden or lacking maps to the KVM statuses", "[unit][cli]")
{
    auto absent = describe(BuildStep::OpenKvm, Error { Errc::NotFound, 0, kvm::NO_DEV_KVM_MESSAGE });
    CHECK(absent.status == exit_status::KvmUnavailable);
    CHECK(absent.text == kvm::NO_DEV_KVM_MESSAGE);
    auto denied = describe(BuildStep::OpenKvm, Error::from_errno(EACCES, kvm::DEV_KVM_PERMISSION_MESSAGE));
    CHECK(denied.status == exit_status::KvmPermission);
    CHECK(denied.text == kvm::DEV_KVM_PERMISSION_MESSAGE);
    auto capability = describe(BuildStep::OpenKvm, Error { Errc::Unsupported, 0, "KVM lacks a required capability: KVM_CAP_PIT2" });
    CHECK(capability.status == exit_status::KvmUnavailable);
    CHECK(mentions(capability, "KVM_CAP_PIT2"));
}

TEST_CASE("serial and host failures map to CannotCreate and HostError", "[unit][cli]")
{
    auto serial = describe(BuildStep::Serial, Error::from_errno(ENOENT, "bind"));
    CHECK(serial.status == exit_status::CannotCreate);
    CHECK(mentions(serial, "socket:/nowhere/s"));
    CHECK(describe(BuildStep::CreateVm, Error::from_errno(ENOMEM, "KVM_CREATE_VM")).status == exit_status::HostError);
    CHECK(describe(BuildStep::CreateVcpus, Error::from_errno(EINVAL, "KVM_SET_CPUID2")).status == exit_status::HostError);
}

TEST_CASE("sizes are shown in binary units", "[unit][cli]")
{
    CHECK(format_size(512) == "512 bytes");
    CHECK(format_size(64ULL << 20) == "64 MiB");
    CHECK(format_size((4ULL << 30) + (512ULL << 20)) == "4.5 GiB");
    CHECK(format_size(9999ULL << 40) == "9999 TiB");
}
