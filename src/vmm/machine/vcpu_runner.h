// SPDX-License-Identifier: Apache-2.0
// VcpuRunner: one std::jthread per vCPU ("vcpu0", "vcpu1"...) looping on KVM_RUN, dispatching
// port I/O and MMIO exits to the buses, and turning the guest's fatal exits into the VM's exit
// status. Pause, resume and stop reach a vCPU inside KVM_RUN promptly: kvm_run.immediate_exit
// plus a SIGRTMIN kick whose handler does nothing (STYLE.md section 5).
#pragma once

#include "common/result.h"
#include "vmm/devices/bus.h"
#include "vmm/kvm/vcpu_fd.h"
#include "vmm/machine/exit_latch.h"
#include "vmm/memory/guest_memory.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace monarch::vmm::machine {

// Guest-triggerable events, counted (STYLE.md section 8), summed over all vCPUs.
struct VcpuCounters {
    std::atomic<uint64_t> exits { 0 };
    std::atomic<uint64_t> unclaimed_pio { 0 };   // no device at the port: reads 0xff, writes dropped
    std::atomic<uint64_t> unclaimed_mmio { 0 };  // no device at the address: reads 0, writes dropped
    std::atomic<uint64_t> user_hlt { 0 };        // HLT exits to user space (only without an in-kernel irqchip)
};

class VcpuRunner {
public:
    VcpuRunner(std::vector<kvm::VcpuFd> vcpus, Bus& pio, Bus& mmio, GuestMemory& memory, ExitLatch& exit);
    ~VcpuRunner() { stop(); }
    VcpuRunner(VcpuRunner const&) = delete;
    VcpuRunner& operator=(VcpuRunner const&) = delete;

    // Installs the SIGRTMIN kick handler (process-wide, idempotent) and starts the threads. If a
    // thread cannot be created, stops (and joins) those already started and fails.
    [[nodiscard]] Result<void> start();
    // Returns once every vCPU is out of KVM_RUN and parked (or has finished).
    void pause();
    void resume();
    // Stops every vCPU and joins the threads. Idempotent.
    void stop();

    [[nodiscard]] size_t vcpu_count() const { return m_vcpus.size(); }
    // A vCPU's fd for state calls (snapshot, restore, introspection). Only before start() or
    // while paused (pause() returned, resume() not called): KVM_RUN holds the vCPU otherwise.
    [[nodiscard]] kvm::VcpuFd const& vcpu(size_t index) const { return m_vcpus.at(index); }
    [[nodiscard]] VcpuCounters const& counters() const { return m_counters; }

private:
    enum class Next { Continue, Stop };

    void run_vcpu(std::stop_token, size_t index);
    void park_if_requested(std::stop_token const&);
    [[nodiscard]] Next handle_exit(kvm::VcpuFd&, kvm::VcpuExit const&);
    void handle_io(kvm::exit::Io const&);
    void handle_mmio(kvm::exit::Mmio const&);
    void kick(size_t index);
    void kick_all();

    std::vector<kvm::VcpuFd> m_vcpus;
    Bus& m_pio;
    Bus& m_mmio;
    GuestMemory& m_memory;
    ExitLatch& m_exit;
    VcpuCounters m_counters;

    std::stop_source m_stop;
    std::mutex m_mutex;                 // guards the pause hand-shake below
    std::condition_variable m_changed;
    std::atomic<bool> m_pause_requested { false };
    size_t m_parked { 0 };              // vCPUs parked or finished, under m_mutex
    std::vector<std::jthread> m_threads;
};

} // namespace monarch::vmm::machine
