// SPDX-License-Identifier: Apache-2.0
// QemuGuest: GuestAccess for a VM that QEMU runs: RAM through its shared memory file, vCPUs
// through its gdbstub. QEMU stops the VM when a debugger attaches; QemuGuest lets it run on
// at once and pauses it only on request. On destruction it detaches, which lets the VM run.
#pragma once

#include "dkom/access/guest_access.h"
#include "dkom/qemu/gdb_client.h"
#include "dkom/qemu/memory_file.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace monarch::dkom {

struct QemuTarget {
    std::string gdb_address;   // "127.0.0.1:1234" or "unix:/path/to/socket"
    std::string memory_file;   // mem-path of the memory-backend-file (share=on)
    std::chrono::milliseconds timeout { std::chrono::seconds(5) };
};

class QemuGuest final : public GuestAccess {
public:
    static Result<std::unique_ptr<QemuGuest>> attach(QemuTarget const&);
    ~QemuGuest() override;
    QemuGuest(QemuGuest const&) = delete;
    QemuGuest& operator=(QemuGuest const&) = delete;

    Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) override { return m_memory.read_physical(gpa, out); }
    Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) override { return m_memory.write_physical(gpa, data); }

    Result<void> pause() override;
    Result<void> resume() override;
    bool paused() const override { return !m_running; }
    uint32_t vcpu_count() const override { return static_cast<uint32_t>(m_threads.size()); }
    Result<Registers> read_registers(VcpuId) override;
    Result<Registers> read_segment_bases(VcpuId) override;
    Result<void> write_registers(VcpuId, Registers const&) override;
    Result<void> set_breakpoint(GuestVirtAddr) override;
    Result<void> clear_breakpoint(GuestVirtAddr) override;
    Result<VcpuId> run_until_breakpoint(std::chrono::milliseconds timeout) override;
    Result<VcpuId> run_vcpu_until_breakpoint(VcpuId vcpu, std::chrono::milliseconds timeout) override;
    Result<void> step(VcpuId vcpu) override;

    // Register numbers by name, from the stub's target description.
    [[nodiscard]] std::map<std::string, gdb::RegisterDescription> const& register_map() const { return m_registers; }

private:
    QemuGuest(gdb::GdbClient client, QemuMemoryFile memory, std::chrono::milliseconds timeout)
        : m_client(std::move(client)), m_memory(std::move(memory)), m_timeout(timeout) {}
    Result<void> discover_threads();
    Result<VcpuId> wait_for_stop(std::chrono::milliseconds timeout);
    Result<void> discover_registers();
    Result<void> load_description(std::string const& annex, uint32_t& next_regnum, int depth);
    Result<std::string> read_annex(std::string const& annex);
    Result<void> select_thread(VcpuId);
    Result<uint64_t> read_register(std::string const& name);
    Result<void> write_register(std::string const& name, uint64_t value);
    Result<std::string> checked_request(std::string const& payload);
    // Sends a request whose only good reply is "OK"; any other reply fails with `context`.
    Result<void> request_ok(std::string const& payload, std::string_view context);

    gdb::GdbClient m_client;
    QemuMemoryFile m_memory;
    std::chrono::milliseconds m_timeout;
    std::vector<uint64_t> m_threads; // gdb thread id of vCPU i
    std::map<std::string, gdb::RegisterDescription> m_registers;
    std::set<uint64_t> m_breakpoints;
    std::optional<uint64_t> m_selected_thread;
    bool m_running { false };
};

} // namespace monarch::dkom
