// SPDX-License-Identifier: Apache-2.0
// Skipping a test that cannot run on this host. ctest runs each Catch2 test case in its own
// process; this prints why and exits with the skip code, which ctest reports as "Skipped"
// (never as passed). Only for missing host facilities, never to hide a failure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace monarch::test {

[[noreturn]] inline void skip(std::string const& reason)
{
    std::fprintf(stdout, "SKIP: %s\n", reason.c_str());
    std::fflush(stdout);
    std::_Exit(MONARCH_SKIP_RETURN_CODE);
}

// Why /dev/kvm cannot be used here, or empty if it can.
std::string kvm_unavailable_reason();
// Why hardware virtualization (kvm_intel/kvm_amd) is absent, or empty if present.
std::string hardware_kvm_unavailable_reason();
// Why `program` cannot be found on PATH, or empty if it can.
std::string program_unavailable_reason(char const* program);

inline void require_kvm()
{
    if (auto reason = kvm_unavailable_reason(); !reason.empty())
        skip(reason);
}
inline void require_hardware_kvm()
{
    if (auto reason = hardware_kvm_unavailable_reason(); !reason.empty())
        skip(reason);
}
// For tests labelled nested-limit (README, "Tests"): they need a KVM feature that the nested
// KVM of scripts/with-kvm (kvm_amd under QEMU TCG) does not provide, shown with evidence there.
// scripts/with-kvm sets MONARCH_NESTED=1 inside its L1; the test runs everywhere else. Empty
// where `what` can be tested.
inline std::string nested_limit_reason(std::string const& what)
{
    char const* nested = std::getenv("MONARCH_NESTED");
    if (!nested || std::string(nested) != "1")
        return {};
    return "nested-limit: " + what + " does not work on the nested KVM of scripts/with-kvm (see README, Tests); it runs on hardware KVM";
}
inline void require_program(char const* program)
{
    if (auto reason = program_unavailable_reason(program); !reason.empty())
        skip(reason);
}

} // namespace monarch::test
