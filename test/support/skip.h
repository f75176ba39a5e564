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
inline void require_program(char const* program)
{
    if (auto reason = program_unavailable_reason(program); !reason.empty())
        skip(reason);
}

} // namespace monarch::test
