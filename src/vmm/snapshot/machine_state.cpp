// SPDX-License-Identifier: Apache-2.0
// Which records a VM has, and the order they are captured and applied in.
#include "vmm/snapshot/machine_state.h"

#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/vcpu_state.h"

#include <algorithm>
#include <fmt/format.h>

namespace monarch::vmm::snapshot {

namespace {

constexpr std::string_view UART_COM1 = "uart.com1";

std::string vcpu_record_name(size_t index) { return fmt::format("vcpu{}", index); }

Result<std::span<std::byte const>> find_record(std::span<NamedState const> records, std::string_view name)
{
    auto found = std::ranges::find(records, name, &NamedState::name);
    if (found == records.end())
        return fail(Errc::Corrupt, fmt::format("snapshot: the record '{}' is missing", name));
    return std::span<std::byte const>(found->bytes);
}

} // namespace

Result<std::vector<NamedState>> capture_machine_state(machine::Vmm& vmm)
{
    std::vector<NamedState> records;
    auto& vcpus = vmm.vcpus();
    for (size_t index = 0; index < vcpus.vcpu_count(); ++index)
        records.push_back({ vcpu_record_name(index), encode_vcpu(TRY(capture_vcpu(vcpus.vcpu(index)))) });
    if (auto* uart = vmm.com1())
        records.push_back({ std::string(UART_COM1), encode_uart(uart->state()) });
    return records;
}

Result<void> apply_machine_state(machine::Vmm& vmm, std::span<NamedState const> records)
{
    auto& vcpus = vmm.vcpus();
    for (size_t index = 0; index < vcpus.vcpu_count(); ++index) {
        auto state = TRY(decode_vcpu(TRY(find_record(records, vcpu_record_name(index)))));
        TRY_VOID(apply_vcpu(vcpus.vcpu(index), state));
    }
    if (auto* uart = vmm.com1())
        TRY_VOID(uart->restore(TRY(decode_uart(TRY(find_record(records, UART_COM1))))));
    return {};
}

} // namespace monarch::vmm::snapshot
