// SPDX-License-Identifier: Apache-2.0
// IntrospectEngine: one worker thread per VMM that runs introspection jobs one after another.
// Jobs wait for the guest (breakpoints, sampling), so they must not run on the event-loop
// thread, which serves the guest's virtio devices. The engine keeps, for the current target
// VM, the GuestAccess and the attached LinuxKernel, and the profile of the guest's kernel.
#pragma once

#include "dkom/access/guest_access.h"
#include "dkom/linux/linux_kernel.h"
#include "dkom/profile/profile.h"

#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

namespace monarch::vmm::introspect {

// Why a request failed, in the terms the API answers with (introspect_routes.cpp maps them).
enum class Problem : uint8_t {
    BadRequest, // a value the caller gave is wrong
    NotFound,   // no task with that pid
    NoTarget,   // no VM is running
    NoProfile,  // no profile of the guest kernel was given
    NotBooted,  // the guest kernel cannot be found in the VM (not booted yet, or another kernel)
    Timeout,    // the guest did not reach a safe point in time
    Guest,      // guest memory is inconsistent with the profile, or the host failed
};

struct EngineError {
    Problem problem { Problem::Guest };
    std::string message;
};
template<typename T>
using EngineResult = std::expected<T, EngineError>;

// A failure of the dkom library turned into a Problem (NotFound -> NotFound, Timeout ->
// Timeout, InvalidArgument/OutOfRange -> BadRequest, the rest -> Guest).
[[nodiscard]] EngineError engine_error(Error const&);

// The VM a job works on. A new identity drops what the engine knew of the previous VM (without
// touching that VM, which may be gone): the caller gives each VM it creates a new one.
struct Target {
    uint64_t identity { 0 };
    // Called on the worker thread, once per identity.
    std::function<std::unique_ptr<dkom::GuestAccess>()> open;
};

// The worker's state; jobs get it and use it on the worker thread only.
class EngineContext {
public:
    // The attached kernel of the current target (attached on first use).
    [[nodiscard]] EngineResult<dkom::LinuxKernel*> kernel();
    [[nodiscard]] dkom::Profile const* profile() const { return m_profile ? &*m_profile : nullptr; }
    void set_profile(dkom::Profile);
    // After the guest looked inconsistent (a reboot moves the kernel): attach again next time.
    void forget_kernel() { m_kernel.reset(); }
    // Drops the target's access (before its VM goes away); the next job opens it again.
    void forget_target()
    {
        m_kernel.reset();
        m_access.reset();
    }
    // The engine is being destroyed: a job that waits for something else gives up.
    [[nodiscard]] bool stop_requested() const { return m_token.stop_requested(); }

private:
    friend class IntrospectEngine;
    void select(Target const&);

    std::optional<dkom::Profile> m_profile;
    uint64_t m_identity { 0 };
    std::unique_ptr<dkom::GuestAccess> m_access;
    std::optional<dkom::LinuxKernel> m_kernel; // refers to *m_access: reset first
    std::stop_token m_token;
};

class IntrospectEngine {
public:
    using Job = std::function<void(EngineContext&)>;

    IntrospectEngine();
    // Runs the job in progress to its end (every job has a timeout), drops the queued ones and
    // joins the worker.
    ~IntrospectEngine();
    IntrospectEngine(IntrospectEngine const&) = delete;
    IntrospectEngine& operator=(IntrospectEngine const&) = delete;

    // Queues `job` to run on the worker after the jobs before it, with `target` selected
    // first (nullopt: the job needs no VM, e.g. loading a profile). Thread-safe.
    void submit(std::optional<Target> target, Job job);

private:
    void work(std::stop_token);

    std::mutex m_mutex;
    std::condition_variable_any m_queued;
    std::deque<std::pair<std::optional<Target>, Job>> m_jobs;
    EngineContext m_context; // the worker's alone
    std::jthread m_worker;   // last: started after everything it uses exists
};

} // namespace monarch::vmm::introspect
