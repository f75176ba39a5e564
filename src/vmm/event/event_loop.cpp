// SPDX-License-Identifier: Apache-2.0
// EventLoop over asio::posix::stream_descriptor waits (async_wait(wait_read)): only readiness
// is awaited, the owner of each fd does the reading itself, so any fd kind that poll() accepts
// works (eventfd, signalfd, sockets).
#include "vmm/event/event_loop.h"

#include "common/log.h"
#include "common/unique_fd.h"
#include "vmm/exit_status.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace monarch::vmm::event {

namespace asio = boost::asio;
using boost::system::error_code;

struct FdWatch::State {
    State(asio::io_context& context, int fd, std::function<void()> callback)
        : descriptor(context, fd)
        , on_readable(std::move(callback))
    {
    }
    asio::posix::stream_descriptor descriptor;
    std::function<void()> on_readable;
    bool active { true };
};

FdWatch::~FdWatch()
{
    m_state->active = false;
    error_code ignored;
    m_state->descriptor.cancel(ignored);
    m_state->descriptor.close(ignored);
}

namespace {

void arm(std::shared_ptr<FdWatch::State> const& state)
{
    state->descriptor.async_wait(asio::posix::stream_descriptor::wait_read, [state](error_code ec) {
        if (!state->active || ec == asio::error::operation_aborted)
            return;
        if (ec) {
            log::error("event loop: waiting on fd {} failed: {}", state->descriptor.native_handle(), ec.message());
            return;
        }
        state->on_readable();
        if (state->active)
            arm(state);
    });
}

} // namespace

EventLoop::EventLoop() = default;

Result<std::unique_ptr<FdWatch>> EventLoop::watch_readable(int fd, std::function<void()> on_readable)
{
    // The descriptor object closes what it holds: give it a duplicate of the caller's fd.
    UniqueFd duplicate { ::fcntl(fd, F_DUPFD_CLOEXEC, 0) };
    if (!duplicate)
        return fail_errno("event loop: duplicating a watched fd");
    auto state = std::make_shared<FdWatch::State>(m_context, duplicate.release(), std::move(on_readable));
    arm(state);
    return std::make_unique<FdWatch>(std::move(state));
}

Result<std::unique_ptr<FdWatch>> EventLoop::watch_signals(int signal_fd, std::function<void(int)> on_signal)
{
    return watch_readable(signal_fd, [signal_fd, on_signal = std::move(on_signal)] {
        signalfd_siginfo info {};
        // The signalfd is non-blocking (block_termination_signals): one record per read.
        while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
            on_signal(static_cast<int>(info.ssi_signo));
    });
}

int EventLoop::run()
{
    auto work = asio::make_work_guard(m_context);
    while (!m_status) {
        error_code ec;
        m_context.run_one(ec);
        if (ec) {
            log::error("event loop: {}", ec.message());
            stop(exit_status::Internal);
        }
    }
    return *m_status;
}

void EventLoop::stop(int status)
{
    if (!m_status)
        m_status = status;
}

void EventLoop::post(std::function<void()> task)
{
    asio::post(m_context, std::move(task));
}

} // namespace monarch::vmm::event
