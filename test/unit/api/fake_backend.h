// SPDX-License-Identifier: Apache-2.0
// A VmBackend that records calls and can be told to fail its next boot, a pause or a restore.
#pragma once

#include "vmm/api/vm_backend.h"

#include <optional>
#include <string>
#include <vector>

namespace monarch::test {

class FakeBackend final : public vmm::api::VmBackend {
public:
    std::expected<void, std::string> boot(vmm::machine::VmConfig const& config) override
    {
        calls.push_back("boot");
        return start(config);
    }
    std::expected<void, std::string> pause() override
    {
        calls.push_back("pause");
        if (fail_pause)
            return std::unexpected(std::string("the vCPUs did not stop"));
        return {};
    }
    void resume() override { calls.push_back("resume"); }
    void shutdown() override
    {
        calls.push_back("shutdown");
        running = false;
    }
    std::expected<void, std::string> reboot(vmm::machine::VmConfig const& config) override
    {
        calls.push_back("reboot");
        running = false;
        return start(config);
    }
    void power_button() override { calls.push_back("power_button"); }
    [[nodiscard]] vmm::api::BackendDetails details() const override { return { "/dev/pts/9", std::nullopt, 0 }; }
    [[nodiscard]] vmm::api::Counters counters() const override { return { { "vcpus", { { "exits", 42 } } } }; }
    std::expected<vmm::machine::VmConfig, vmm::api::BackendError> restore(vmm::api::RestoreRequest const& request) override
    {
        calls.push_back("restore " + request.directory);
        if (restore_refusal)
            return std::unexpected(vmm::api::BackendError { 400, *restore_refusal });
        vmm::machine::VmConfig config;
        config.kernel = "restored";
        config.memory = 64 << 20;
        config.platform.uuid = "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f";
        running = true;
        return config;
    }

    // What boot and reboot share: fail once when told to, else run `config`'s kernel.
    std::expected<void, std::string> start(vmm::machine::VmConfig const& config)
    {
        if (fail_next_boot) {
            fail_next_boot = false;
            return std::unexpected(std::string("no /dev/kvm here"));
        }
        booted_kernel = config.kernel;
        running = true;
        return {};
    }

    std::vector<std::string> calls;
    bool fail_next_boot { false };
    bool fail_pause { false };
    std::optional<std::string> restore_refusal;
    bool running { false };
    std::string booted_kernel;
};

} // namespace monarch::test
