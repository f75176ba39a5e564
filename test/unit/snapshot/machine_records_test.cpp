// SPDX-License-Identifier: Apache-2.0
// The record set of a machine's state: which names a VM of a given shape has, and refusal of
// a set with a record missing, repeated or unknown.
#include "vmm/snapshot/machine_state.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm::snapshot;

namespace {

std::vector<NamedState> records_of(std::vector<std::string> const& names)
{
    std::vector<NamedState> records;
    for (auto const& name : names)
        records.push_back({ name, { std::byte { 1 } } });
    return records;
}

} // namespace

TEST_CASE("a machine's records: vCPUs, the VM-wide KVM state and each legacy device", "[unit][snapshot][machine]")
{
    MachineShape const full { 2, true, true, true, true, false };
    CHECK(record_names(full)
        == std::vector<std::string> { "vm.clock", "vm.irqchip", "vm.pit", "vcpu0", "vcpu1", "uart.com1", "rtc", "i8042", "acpi.pm" });
    MachineShape const bare { 1, false, false, false, false, false };
    CHECK(record_names(bare) == std::vector<std::string> { "vm.clock", "vm.irqchip", "vm.pit", "vcpu0" });
}

TEST_CASE("a record set with a record missing, twice or unknown is refused", "[unit][snapshot][machine]")
{
    MachineShape shape { 2, true, true, true, true, false };
    auto const names = record_names(shape);
    CHECK(check_record_set(records_of(names), shape).has_value());

    for (size_t drop = 0; drop < names.size(); ++drop) {
        auto fewer = names;
        fewer.erase(fewer.begin() + static_cast<ptrdiff_t>(drop));
        INFO("without " << names[drop]);
        CHECK(check_record_set(records_of(fewer), shape).error().code == Errc::Corrupt);
    }
    auto twice = names;
    twice.push_back("vcpu1");
    CHECK(check_record_set(records_of(twice), shape).error().code == Errc::Corrupt);
    for (char const* stranger : { "vcpu2", "uart.com2", "virtio.03", "" }) {
        auto more = names;
        more.emplace_back(stranger);
        INFO("with '" << stranger << "'");
        CHECK(check_record_set(records_of(more), shape).error().code == Errc::Corrupt);
    }
    shape.virtio = true; // virtio records are the wiring's to check
    auto with_virtio = record_names(shape);
    with_virtio.emplace_back("virtio.03");
    CHECK(check_record_set(records_of(with_virtio), shape).has_value());
    shape.rtc = false; // a VM without an RTC refuses an RTC record
    CHECK(check_record_set(records_of(with_virtio), shape).error().code == Errc::Corrupt);
}

TEST_CASE("a VM with pvpanic has its record, a VM without refuses one", "[unit][snapshot][machine][pvpanic]")
{
    MachineShape shape { 1, true, true, true, true, false };
    shape.pvpanic = true;
    auto const names = record_names(shape);
    CHECK(names.back() == "pvpanic");
    CHECK(check_record_set(records_of(names), shape).has_value());
    auto without = names;
    without.pop_back();
    CHECK(check_record_set(records_of(without), shape).error().code == Errc::Corrupt);
    // A snapshot of a VM with the device into one without it (another config): refused.
    shape.pvpanic = false;
    CHECK(check_record_set(records_of(names), shape).error().code == Errc::Corrupt);
}
