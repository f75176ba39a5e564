// SPDX-License-Identifier: Apache-2.0
// A VmBackend that records calls and can be told to fail its next boot.
#pragma once

#include "vmm/api/vm_backend.h"

#include <string>
#include <vector>

namespace monarch::test {

class FakeBackend final : public vmm::api::VmBackend {
public:
    std::expected<void, std::string> boot(vmm::machine::VmConfig const& config) override
    {
        calls.push_back("boot");
        if (fail_next_boot) {
            fail_next_boot = false;
            return std::unexpected(std::string("no /dev/kvm here"));
        }
        booted_kernel = config.kernel;
        running = true;
        return {};
    }
    void pause() override { calls.push_back("pause"); }
    void resume() override { calls.push_back("resume"); }
    void shutdown() override
    {
        calls.push_back("shutdown");
        running = false;
    }
    void power_button() override { calls.push_back("power_button"); }
    [[nodiscard]] vmm::api::BackendDetails details() const override { return { "/dev/pts/9", std::nullopt, 0 }; }
    [[nodiscard]] vmm::api::Counters counters() const override { return { { "vcpus", { { "exits", 42 } } } }; }

    std::vector<std::string> calls;
    bool fail_next_boot { false };
    bool running { false };
    std::string booted_kernel;
};

} // namespace monarch::test
