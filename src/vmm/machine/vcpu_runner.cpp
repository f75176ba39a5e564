// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/vcpu_runner.h"

#include "common/log.h"
#include "vmm/exit_status.h"
#include "vmm/machine/guest_fault_report.h"

#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <pthread.h>
#include <system_error>

namespace monarch::vmm::machine {
namespace {

// The kick only has to interrupt KVM_RUN (which then returns EINTR); the handler does nothing.
void kick_handler(int) { }

Result<void> install_kick_handler()
{
    struct sigaction action {};
    action.sa_handler = kick_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: KVM_RUN must return to us
    if (::sigaction(SIGRTMIN, &action, nullptr) < 0)
        return fail_errno("sigaction(SIGRTMIN)");
    return {};
}

// The mask survives execve and new threads inherit it: a parent that left SIGRTMIN blocked
// would make the kick undeliverable, and a vCPU halted or spinning inside KVM_RUN would then
// never return, so pause() and stop() would wait forever. Each vCPU thread unblocks it.
Result<void> unblock_kick_signal()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    if (int error = ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr); error != 0)
        return Failure(Error::from_errno(error, "pthread_sigmask(SIG_UNBLOCK, SIGRTMIN)"));
    return {};
}

} // namespace

VcpuRunner::VcpuRunner(std::vector<kvm::VcpuFd> vcpus, Bus& pio, Bus& mmio, GuestMemory& memory, ExitLatch& exit)
    : m_vcpus(std::move(vcpus)), m_pio(pio), m_mmio(mmio), m_memory(memory), m_exit(exit)
{
}

Result<void> VcpuRunner::start()
{
    TRY_VOID(install_kick_handler());
    m_threads.reserve(m_vcpus.size());
    for (size_t index = 0; index < m_vcpus.size(); ++index) {
        // std::jthread throws std::system_error when the thread cannot be created (EAGAIN at a
        // thread or memory limit); our code never throws, so stop the vCPUs already running
        // (the BSP may be executing the guest) and report it as a Result.
        try {
            m_threads.emplace_back([this, index, token = m_stop.get_token()] { run_vcpu(token, index); });
        } catch (std::system_error const& error) {
            stop();
            return Failure(Error::from_errno(error.code().value(), "cannot create a vCPU thread"));
        }
        // libvirt and top -H find vCPU threads by these names. Max 15 characters.
        auto name = fmt::format("vcpu{}", index);
        ::pthread_setname_np(m_threads.back().native_handle(), name.c_str());
    }
    return {};
}

void VcpuRunner::run_vcpu(std::stop_token token, size_t index)
{
    auto& vcpu = m_vcpus[index];
    if (auto unblocked = unblock_kick_signal(); !unblocked) {
        log::error("vcpu{}: {}", index, to_string(unblocked.error()));
        m_exit.request(exit_status::HostError);
    }
    while (!token.stop_requested() && !m_exit.requested()) {
        park_if_requested(token, index);
        if (token.stop_requested())
            break;
        auto exit = vcpu.run();
        if (!exit) {
            log::error("vcpu{}: {}", index, to_string(exit.error()));
            m_exit.request(exit_status::HostError);
            break;
        }
        m_counters.exits.fetch_add(1, std::memory_order_relaxed);
        if (handle_exit(vcpu, index, *exit) == Next::Stop)
            break;
    }
    std::lock_guard lock { m_mutex };
    ++m_parked; // a finished vCPU counts as parked, so pause() never waits for it
    m_changed.notify_all();
}

// A vCPU parks while a pause is requested, and while resume_only() lets another one run.
bool VcpuRunner::must_park(size_t index) const
{
    if (m_pause_requested.load(std::memory_order_acquire))
        return true;
    size_t const solo = m_solo.load(std::memory_order_acquire);
    return solo != NO_SOLO && solo != index;
}

void VcpuRunner::park_if_requested(std::stop_token const& token, size_t index)
{
    if (!must_park(index))
        return;
    std::unique_lock lock { m_mutex };
    ++m_parked;
    m_changed.notify_all();
    m_changed.wait(lock, [&] { return !must_park(index) || token.stop_requested(); });
    --m_parked;
}

// KVM exits with KVM_EXIT_DEBUG only while KVM_SET_GUEST_DEBUG enabled it (api.rst 4.59), so
// only a debugger causes one; still, a stop nobody waits for would hold the VM forever, so
// without a debugger the exit is counted, guest debugging switched off, and the vCPU runs on.
void VcpuRunner::on_debug_exit(kvm::VcpuFd& vcpu, size_t index, kvm::exit::Debug const& debug)
{
    if (!m_debugger.load(std::memory_order_acquire)) {
        if (m_counters.stray_debug.fetch_add(1, std::memory_order_relaxed) == 0)
            log::warn("vcpu{}: debug exit at {:#x} with no debugger attached: ignored", index, debug.pc);
        (void)vcpu.set_guest_debug(kvm_guest_debug {});
        return;
    }
    {
        std::lock_guard lock { m_mutex };
        // The first stop wins; a vCPU that hit a breakpoint at the same time re-executes the
        // faulting instruction when it runs again, and so stops again then.
        if (!m_debug_stop)
            m_debug_stop = DebugStop { index, debug.exception, debug.pc, debug.dr6 };
        m_pause_requested.store(true, std::memory_order_release);
    }
    m_changed.notify_all();
    kick_all(); // this vCPU parks at the top of its loop; the others leave KVM_RUN now
}

VcpuRunner::Next VcpuRunner::handle_exit(kvm::VcpuFd& vcpu, size_t index, kvm::VcpuExit const& exit)
{
    using namespace kvm::exit;
    if (auto const* debug = std::get_if<Debug>(&exit)) {
        on_debug_exit(vcpu, index, *debug);
        return Next::Continue;
    }
    if (auto const* io = std::get_if<Io>(&exit)) {
        handle_io(*io);
        return Next::Continue;
    }
    if (auto const* mmio = std::get_if<Mmio>(&exit)) {
        handle_mmio(*mmio);
        return Next::Continue;
    }
    if (std::holds_alternative<Interrupted>(exit)) {
        // Clear first, then look at the requests at the top of the loop: a kick that comes
        // after this store sets immediate_exit again, so no request is ever missed.
        vcpu.set_immediate_exit(false);
        return Next::Continue;
    }
    if (std::holds_alternative<Hlt>(exit)) {
        // With the in-kernel irqchip KVM handles HLT itself; a HLT exit here means the vCPU is
        // idle with nothing to wake it in user space. Yield rather than spin.
        m_counters.user_hlt.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return Next::Continue;
    }
    m_exit.request(report_fatal_exit(vcpu, m_memory, exit));
    return Next::Stop;
}

void VcpuRunner::handle_io(kvm::exit::Io const& io)
{
    // A rep ins/outs arrives as `count` accesses of `width` bytes to the same port: the device
    // is looked up once for all of them.
    auto all = io.data.first(size_t { io.count } * io.width);
    bool handled = io.direction == kvm::exit::Direction::In ? m_pio.read_each(io.port, all, io.width) : m_pio.write_each(io.port, all, io.width);
    if (handled)
        return;
    m_counters.unclaimed_pio.fetch_add(io.count, std::memory_order_relaxed);
    if (io.direction == kvm::exit::Direction::In)
        std::memset(all.data(), 0xff, all.size()); // an empty ISA bus floats high
}

void VcpuRunner::handle_mmio(kvm::exit::Mmio const& mmio)
{
    bool handled = mmio.direction == kvm::exit::Direction::In ? m_mmio.read(mmio.address, mmio.data) : m_mmio.write(mmio.address, mmio.data);
    if (handled)
        return;
    m_counters.unclaimed_mmio.fetch_add(1, std::memory_order_relaxed);
    if (mmio.direction == kvm::exit::Direction::In)
        std::memset(mmio.data.data(), 0, mmio.data.size());
}

void VcpuRunner::kick(size_t index)
{
    if (index >= m_threads.size())
        return;
    m_vcpus[index].set_immediate_exit(true);
    ::pthread_kill(m_threads[index].native_handle(), SIGRTMIN);
}

void VcpuRunner::kick_all()
{
    for (size_t index = 0; index < m_threads.size(); ++index)
        kick(index);
}

void VcpuRunner::pause()
{
    m_pause_requested.store(true, std::memory_order_release);
    kick_all();
    std::unique_lock lock { m_mutex };
    m_changed.wait(lock, [&] { return m_parked >= m_threads.size(); }); // also true once stopped (no threads)
}

void VcpuRunner::resume()
{
    {
        std::lock_guard lock { m_mutex };
        m_debug_stop.reset();
        m_solo.store(NO_SOLO, std::memory_order_release);
        m_pause_requested.store(false, std::memory_order_release);
    }
    m_changed.notify_all();
}

void VcpuRunner::resume_only(size_t index)
{
    {
        std::lock_guard lock { m_mutex };
        m_debug_stop.reset();
        m_solo.store(index, std::memory_order_release);
        m_pause_requested.store(false, std::memory_order_release);
    }
    m_changed.notify_all();
}

void VcpuRunner::attach_debugger(bool attached)
{
    m_debugger.store(attached, std::memory_order_release);
}

std::optional<DebugStop> VcpuRunner::wait_for_debug_stop(std::chrono::milliseconds timeout)
{
    std::unique_lock lock { m_mutex };
    bool const stopped = m_changed.wait_for(lock, timeout, [&] { return m_debug_stop && m_parked >= m_threads.size(); });
    if (!stopped)
        return std::nullopt;
    return m_debug_stop;
}

void VcpuRunner::stop()
{
    if (m_threads.empty())
        return;
    {
        std::lock_guard lock { m_mutex };
        m_stop.request_stop();
    }
    m_changed.notify_all();
    kick_all();
    for (auto& thread : m_threads)
        thread.join();
    m_threads.clear();
}

} // namespace monarch::vmm::machine
