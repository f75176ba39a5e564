// SPDX-License-Identifier: Apache-2.0
// EventLoop: monarch-vmm's one Boost.Asio io_context, run on the main thread (STYLE.md
// section 5). It watches host fds (the termination signalfd, a VM's ExitLatch eventfd, the API
// socket) and ends with an exit status when someone calls stop(status).
#pragma once

#include "common/result.h"

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>

namespace monarch::vmm::event {

// A registration made with EventLoop::watch_readable; destroying it ends the watch (the
// callback is never called after that, even for a readiness already queued).
class FdWatch {
public:
    struct State;
    explicit FdWatch(std::shared_ptr<State> state) : m_state(std::move(state)) {}
    ~FdWatch();
    FdWatch(FdWatch const&) = delete;
    FdWatch& operator=(FdWatch const&) = delete;

private:
    std::shared_ptr<State> m_state;
};

class EventLoop {
public:
    EventLoop();
    EventLoop(EventLoop const&) = delete;
    EventLoop& operator=(EventLoop const&) = delete;

    [[nodiscard]] boost::asio::io_context& context() { return m_context; }

    // Calls on_readable on the loop's thread each time `fd` is readable, until the returned
    // watch is destroyed. `fd` stays the caller's (the loop watches a duplicate); on_readable
    // must consume what made it readable (a level-triggered wait follows).
    [[nodiscard]] Result<std::unique_ptr<FdWatch>> watch_readable(int fd, std::function<void()> on_readable);
    // Reads signalfd_siginfo records from `signal_fd` and hands each signal number on.
    [[nodiscard]] Result<std::unique_ptr<FdWatch>> watch_signals(int signal_fd, std::function<void(int)> on_signal);

    // Runs handlers until stop(); returns the status given to the first stop() call.
    [[nodiscard]] int run();
    // Ends run() with `status`; later calls keep the first status. Loop thread only; other
    // threads use post().
    void stop(int status);
    [[nodiscard]] std::optional<int> stopped_with() const { return m_status; }
    // Forgets the stop, so that run() serves again: the next VM of a reboot runs on the loop
    // its back ends (the serial port's) are registered on.
    void rearm() { m_status.reset(); }
    // Runs `task` on the loop's thread; safe from any thread.
    void post(std::function<void()> task);

private:
    boost::asio::io_context m_context;
    std::optional<int> m_status;
};

} // namespace monarch::vmm::event
