// SPDX-License-Identifier: Apache-2.0
// Supervisor: monarchd's core. It owns the table of VMs, starts one monarch-vmm per VM and
// drives it through the VMM's REST API, watches each VMM through a pidfd, restarts it by
// policy with back-off, stops it in order (vm.shutdown and vmm.shutdown, then SIGTERM, then
// SIGKILL), and adopts the VMMs a previous monarchd left running. Everything runs on one
// Asio io_context thread (the management API's), so no lock is needed. The stop sequence
// (vm.shutdown, vmm.shutdown, signals) and killing a VMM never wait on the loop; the other
// calls to a VMM are synchronous with a short timeout.
#pragma once

#include "common/result.h"
#include "common/try_expected.h"
#include "http/http_client.h"
#include "supervisor/event_log.h"
#include "supervisor/state_dir.h"
#include "supervisor/vm_definition.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monarch::supervisor {

// The state monarchd reports; "created", "running", "paused" and "shutdown" are the VMM's own.
enum class VmState { Stopped, Starting, Created, Running, Paused, Shutdown, Stopping, Restarting, Crashed };
[[nodiscard]] std::string_view to_string(VmState);

// What monarchd keeps up for a VM across VMM crashes and its own restarts.
enum class Desired { Stopped, Created, Running };
[[nodiscard]] std::string_view to_string(Desired);

// An answer for the management API: the HTTP status and a message for the client.
struct ApiError {
    unsigned status { 500 };
    std::string message;
};
template<typename T>
using ApiResult = std::expected<T, ApiError>; // TRY_EXPECTED (common/try_expected.h) propagates it

struct SupervisorConfig {
    std::string vmm_path;
    std::vector<std::string> vmm_arguments;                   // appended to each monarch-vmm's
    std::chrono::milliseconds vmm_api_timeout { std::chrono::seconds(10) };
    std::chrono::milliseconds restart_delay { std::chrono::seconds(1) };   // doubled per failure
    std::chrono::milliseconds restart_delay_max { std::chrono::seconds(60) };
    std::chrono::seconds stable_after { 60 };                 // a VMM up this long resets the back-off
    std::chrono::milliseconds delete_stop_timeout { std::chrono::seconds(5) };
};

class Supervisor {
public:
    Supervisor(boost::asio::io_context&, StateDir, EventLog&, SupervisorConfig);
    ~Supervisor();
    Supervisor(Supervisor const&) = delete;
    Supervisor& operator=(Supervisor const&) = delete;

    // Reads the state directory: adopts every VMM still running (same process, checked by
    // pid and start time), and restarts by policy those that died while monarchd was away.
    void recover();

    [[nodiscard]] nlohmann::json list();
    [[nodiscard]] ApiResult<nlohmann::json> info(std::string const& name);
    [[nodiscard]] ApiResult<nlohmann::json> define(std::string_view body);
    [[nodiscard]] ApiResult<nlohmann::json> start(std::string const& name);
    // Returns at once with the state "stopping"; the stop goes on on the event loop.
    [[nodiscard]] ApiResult<nlohmann::json> stop(std::string const& name, bool force, std::chrono::milliseconds timeout);
    [[nodiscard]] ApiResult<nlohmann::json> pause(std::string const& name);
    [[nodiscard]] ApiResult<nlohmann::json> resume(std::string const& name);
    [[nodiscard]] ApiResult<nlohmann::json> reboot(std::string const& name);
    // The ACPI power button (the VMM's vm.power-button): the guest's orderly shutdown.
    [[nodiscard]] ApiResult<nlohmann::json> power_button(std::string const& name);
    // Stops the VMM if it runs (the answer is then 202 with "deleting"), then removes the VM.
    [[nodiscard]] ApiResult<std::pair<unsigned, nlohmann::json>> remove(std::string const& name);
    // The last `bytes` of the VMM's log.
    [[nodiscard]] ApiResult<std::string> log_tail(std::string const& name, size_t bytes);

    [[nodiscard]] size_t vm_count() const { return m_vms.size(); }

    struct Vm;

private:
    Vm* find(std::string const& name);
    // A VM being deleted is found only with `deleting` (GET shows it until it is gone).
    [[nodiscard]] ApiResult<Vm*> find_or_404(std::string const& name, bool deleting = false);
    nlohmann::json describe(Vm const&) const;
    void set_state(Vm&, VmState);
    void persist(Vm&);
    void refresh(Vm&);

    [[nodiscard]] ApiResult<nlohmann::json> transition(std::string const& name, std::string_view endpoint,
        VmState required, VmState reached);
    [[nodiscard]] ApiResult<void> launch(Vm&);
    [[nodiscard]] ApiResult<nlohmann::json> vmm_call(Vm&, http::Method, std::string const& endpoint,
        std::string const& body = {}, std::optional<std::chrono::milliseconds> timeout = {});
    [[nodiscard]] ApiResult<void> boot(Vm&);
    void watch(Vm&);
    void on_exit(std::string const& name);
    void on_failure(Vm&);
    void drop_process(Vm&);
    void kill_now(Vm&);
    void reap_later(std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd);
    void schedule_restart(Vm&, std::string const& reason);
    void begin_stop(Vm&, bool force, std::chrono::milliseconds timeout);
    void stop_step(Vm&, std::string const& endpoint, std::chrono::milliseconds timeout, std::function<void(Vm&)> next);
    void escalate(Vm&, int signal, std::chrono::milliseconds after);
    void finish_delete(Vm&);
    void recover_one(std::string const& name);

    boost::asio::io_context& m_io;
    StateDir m_state_dir;
    EventLog& m_log;
    SupervisorConfig m_config;
    std::map<std::string, std::unique_ptr<Vm>> m_vms;
    std::vector<std::unique_ptr<boost::asio::posix::stream_descriptor>> m_reaping; // killed children's pidfds
};

} // namespace monarch::supervisor
