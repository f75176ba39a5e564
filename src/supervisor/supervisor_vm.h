// SPDX-License-Identifier: Apache-2.0
// Supervisor::Vm: one VM's entry in monarchd (internal to supervisor*.cpp): its definition,
// the state it is in and the one monarchd keeps up, and its VMM process while one runs.
#pragma once

#include "http/http_client.h"
#include "supervisor/supervisor.h"
#include "supervisor/vm_process.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

namespace monarch::supervisor {

struct Supervisor::Vm {
    Vm(boost::asio::io_context& io, VmDefinition vm_definition)
        : definition(std::move(vm_definition))
        , timer(io)
    {
    }

    VmDefinition definition;
    VmState state { VmState::Stopped };
    Desired desired { Desired::Stopped };

    // The VMM process, while there is one. `pidfd` is owned by the stream_descriptor, which
    // waits for it to become readable (the process exited).
    std::optional<ProcessIdentity> process;
    std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd;
    bool is_child { false }; // spawned by this monarchd: its exit status can be reaped
    std::optional<http::HttpClient> api;
    std::string console;     // the serial pty the VMM reported, if any
    std::chrono::steady_clock::time_point spawned_at {};

    int64_t started_at { 0 };   // Unix seconds when the guest last booted; 0: never
    unsigned restarts { 0 };    // restarts under on-failure since the VM was defined
    unsigned failures_in_row { 0 };
    std::string last_exit;      // "exit status 1", "signal 9", ...
    bool deleting { false };
    unsigned stop_sequence { 0 };    // counts begun stops: the steps of an older one stop
    boost::asio::steady_timer timer; // restart back-off, or the stop's next escalation
};

} // namespace monarch::supervisor
