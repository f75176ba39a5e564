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
#include <chrono>
#include <optional>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace monarch::vmm::machine {

// Guest-triggerable events, counted (STYLE.md section 8), summed over all vCPUs. Every vCPU
// thread bumps these: each counter has a cache line of its own so that they do not bounce one
// shared line between the vCPUs' cores.
struct VcpuCounters {
    alignas(64) std::atomic<uint64_t> exits { 0 };
    alignas(64) std::atomic<uint64_t> unclaimed_pio { 0 };   // no device at the port: reads 0xff, writes dropped
    alignas(64) std::atomic<uint64_t> unclaimed_mmio { 0 };  // no device at the address: reads 0, writes dropped
    alignas(64) std::atomic<uint64_t> user_hlt { 0 };        // HLT exits to user space (only without an in-kernel irqchip)
    alignas(64) std::atomic<uint64_t> stray_debug { 0 };     // KVM_EXIT_DEBUG with no debugger attached
};

// A KVM_EXIT_DEBUG that a debugger asked for: which vCPU stopped, and where.
struct DebugStop {
    size_t vcpu { 0 };
    uint32_t exception { 0 }; // 1: #DB (hardware breakpoint, single step)
    uint64_t pc { 0 };        // linear address of the instruction not yet executed
    uint64_t dr6 { 0 };       // bits 0-3: DR0-3 matched; bit 14 (BS): single step
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

    // Debugging (introspection, src/vmm/introspect). While a debugger is attached, a vCPU that
    // exits with KVM_EXIT_DEBUG records a DebugStop and pauses the whole VM (as pause() does);
    // without one, such an exit is counted and the vCPU runs on (the guest cannot stop the VM).
    void attach_debugger(bool attached);
    // Like resume(), but only vCPU `index` runs; the others stay parked. Clears the last stop.
    void resume_only(size_t index);
    // Waits until a DebugStop was recorded and every vCPU is parked; nullopt on timeout (the
    // vCPUs then run on as they did). The stop stays recorded until the next resume.
    [[nodiscard]] std::optional<DebugStop> wait_for_debug_stop(std::chrono::milliseconds timeout);
    // Whether pause() (or a debug stop) holds the vCPUs parked: resume() was not called since.
    [[nodiscard]] bool pause_requested() const { return m_pause_requested.load(std::memory_order_acquire); }

    [[nodiscard]] size_t vcpu_count() const { return m_vcpus.size(); }
    // A vCPU's fd for state calls (snapshot, restore, introspection). Only before start() or
    // while paused (pause() returned, resume() not called): KVM_RUN holds the vCPU otherwise.
    [[nodiscard]] kvm::VcpuFd const& vcpu(size_t index) const { return m_vcpus.at(index); }
    [[nodiscard]] VcpuCounters const& counters() const { return m_counters; }

private:
    enum class Next { Continue, Stop };

    void run_vcpu(std::stop_token, size_t index);
    void park_if_requested(std::stop_token const&, size_t index);
    [[nodiscard]] bool must_park(size_t index) const;
    void on_debug_exit(kvm::VcpuFd&, size_t index, kvm::exit::Debug const&);
    [[nodiscard]] Next handle_exit(kvm::VcpuFd&, size_t index, kvm::VcpuExit const&);
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
    // The one vCPU that resume_only() lets run, or NO_SOLO; written under m_mutex.
    static constexpr size_t NO_SOLO = SIZE_MAX;
    std::atomic<size_t> m_solo { NO_SOLO };
    std::atomic<bool> m_debugger { false };
    std::optional<DebugStop> m_debug_stop; // under m_mutex
    std::vector<std::jthread> m_threads;
};

} // namespace monarch::vmm::machine
