// SPDX-License-Identifier: Apache-2.0
// IntrospectEngine's worker loop and the per-target state of EngineContext.
#include "vmm/introspect/introspect_engine.h"

#include "common/log.h"

#include <fmt/format.h>
#include <pthread.h>

namespace monarch::vmm::introspect {

EngineError engine_error(Error const& error)
{
    Problem problem = Problem::Guest;
    switch (error.code) {
    case Errc::NotFound:
        problem = Problem::NotFound;
        break;
    case Errc::Timeout:
        problem = Problem::Timeout;
        break;
    case Errc::InvalidArgument:
    case Errc::OutOfRange:
        problem = Problem::BadRequest;
        break;
    default:
        break;
    }
    return { problem, to_string(error) };
}

void EngineContext::set_profile(dkom::Profile profile)
{
    m_kernel.reset();
    m_profile = std::move(profile);
}

void EngineContext::select(Target const& target)
{
    if (target.identity == m_identity && m_access)
        return;
    m_kernel.reset();
    m_access.reset();
    m_identity = target.identity;
    if (target.open)
        m_access = target.open();
}

EngineResult<dkom::LinuxKernel*> EngineContext::kernel()
{
    if (!m_access)
        return std::unexpected(EngineError { Problem::NoTarget, "no VM is running" });
    if (m_kernel)
        return &*m_kernel;
    if (!m_profile)
        return std::unexpected(EngineError { Problem::NoProfile,
            "no profile of the guest kernel: start monarch-vmm with --introspect profile=PATH or PUT /api/v1/monarch/introspect/profile" });
    auto layout = dkom::LinuxLayout::from_profile(*m_profile);
    if (!layout)
        return std::unexpected(EngineError { Problem::NoProfile, fmt::format("the profile lacks what introspection needs: {}", to_string(layout.error())) });
    auto kernel = dkom::LinuxKernel::attach(*m_access, std::move(*layout));
    if (!kernel)
        return std::unexpected(EngineError { Problem::NotBooted,
            fmt::format("the guest kernel was not found (not booted yet, or the profile is of another kernel): {}", to_string(kernel.error())) });
    m_kernel.emplace(std::move(*kernel));
    return &*m_kernel;
}

IntrospectEngine::IntrospectEngine()
    : m_worker([this](std::stop_token token) { work(std::move(token)); })
{
    ::pthread_setname_np(m_worker.native_handle(), "introspect");
}

IntrospectEngine::~IntrospectEngine()
{
    m_worker.request_stop();
    m_worker.join();
    // Queued jobs are dropped with their responders, which answer on their own (http_server.h).
    m_jobs.clear();
    m_context.m_kernel.reset();
}

void IntrospectEngine::submit(std::optional<Target> target, Job job)
{
    {
        std::lock_guard lock { m_mutex };
        m_jobs.emplace_back(std::move(target), std::move(job));
    }
    m_queued.notify_one();
}

void IntrospectEngine::work(std::stop_token token)
{
    m_context.m_token = token;
    while (true) {
        std::pair<std::optional<Target>, Job> next;
        {
            std::unique_lock lock { m_mutex };
            if (!m_queued.wait(lock, token, [&] { return !m_jobs.empty(); }))
                return; // stop requested
            next = std::move(m_jobs.front());
            m_jobs.pop_front();
        }
        if (next.first)
            m_context.select(*next.first);
        next.second(m_context);
    }
}

} // namespace monarch::vmm::introspect
