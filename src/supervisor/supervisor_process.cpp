// SPDX-License-Identifier: Apache-2.0
// Supervisor: the VMM processes. Starting one (spawn, then vm.create over its API socket),
// booting it, watching its pidfd, what its exit means (stopped, powered off, crashed) and the
// restart policy with back-off, the ordered stop, and adoption after monarchd's own restart.
#include "common/json_text.h"
#include "common/log.h"
#include "supervisor/error_body.h"
#include "supervisor/supervisor.h"
#include "supervisor/supervisor_vm.h"
#include "supervisor/vmm_async_call.h"

#include <algorithm>
#include <csignal>
#include <ctime>
#include <sys/wait.h>
#include <unistd.h>

namespace monarch::supervisor {

using nlohmann::json;
using http::Method;
using namespace std::chrono_literals;

namespace {

// The VMM's error body: {"error":"..."} from monarch-vmm, plain text from others.
std::string vmm_message(std::string const& body)
{
    if (auto message = error_message_of(json::parse(body, nullptr, false)))
        return *message;
    std::string text = body.substr(0, 1024);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text.empty() ? std::string("(no message)") : text;
}

std::string describe_exit(std::optional<ExitStatus> const& status, bool is_child)
{
    if (!status)
        return is_child ? "exited (status not available)" : "exited (adopted: status not available)";
    if (status->exited)
        return "exit status " + std::to_string(status->code);
    return "killed by signal " + std::to_string(status->signal);
}

} // namespace

ApiResult<json> Supervisor::vmm_call(Vm& vm, Method method, std::string const& endpoint, std::string const& body,
    std::optional<std::chrono::milliseconds> timeout)
{
    std::string const& name = vm.definition.name;
    if (!vm.process)
        return std::unexpected(ApiError { 409, name + " has no running VMM" });
    if (!vm.api) {
        auto client = http::HttpClient::connect(m_state_dir.api_socket_path(name), m_config.vmm_api_timeout);
        if (!client)
            return std::unexpected(ApiError { 502, endpoint + ": the VMM of " + name + " does not answer: " + to_string(client.error()) });
        vm.api = std::move(*client);
    }
    vm.api->set_timeout(timeout.value_or(m_config.vmm_api_timeout));
    auto response = vm.api->request(method, "/api/v1/" + endpoint, body);
    if (!response) {
        vm.api.reset();
        return std::unexpected(ApiError { 502, endpoint + ": the VMM of " + name + " does not answer: " + to_string(response.error()) });
    }
    if (!response->ok()) {
        m_log.write("vmm.error", { { "vm", name }, { "endpoint", endpoint }, { "status", response->status },
                                     { "message", vmm_message(response->body) } });
        // The VMM refusing a request (4xx) is a refused transition; its failing (5xx) a VMM error.
        unsigned const status = response->status < 500 ? 409 : 502;
        std::string const what = status == 409 ? " refused by the VMM of " : " failed in the VMM of ";
        return std::unexpected(ApiError { status, endpoint + what + name + ": " + vmm_message(response->body) });
    }
    if (response->body.empty())
        return json();
    auto parsed = json::parse(response->body, nullptr, false);
    return parsed.is_discarded() ? json() : parsed;
}

ApiResult<void> Supervisor::launch(Vm& vm)
{
    std::string const& name = vm.definition.name;
    set_state(vm, VmState::Starting);
    SpawnRequest const request { m_config.vmm_path, m_state_dir.api_socket_path(name), m_state_dir.log_path(name), m_config.vmm_arguments };
    auto spawned = spawn_vmm(request);
    if (!spawned) {
        set_state(vm, VmState::Stopped);
        return std::unexpected(ApiError { 500, "cannot start " + m_config.vmm_path + ": " + to_string(spawned.error()) });
    }
    vm.process = spawned->identity;
    vm.is_child = true;
    vm.spawned_at = std::chrono::steady_clock::now();
    vm.pidfd = std::make_unique<boost::asio::posix::stream_descriptor>(m_io);
    boost::system::error_code error;
    vm.pidfd->assign(spawned->pidfd.release(), error);
    m_log.write("vmm.spawned", { { "vm", name }, { "pid", vm.process->pid } });
    persist(vm); // the pid is on disk before anything else can happen to it
    if (error)
        return std::unexpected(ApiError { 500, "cannot watch the VMM's pidfd: " + error.message() });
    watch(vm);
    TRY_EXPECTED(vmm_call(vm, Method::Put, "vm.create", to_json_text(to_vm_config(vm.definition))));
    set_state(vm, VmState::Created);
    refresh(vm);
    return {};
}

ApiResult<void> Supervisor::boot(Vm& vm)
{
    auto booted = vmm_call(vm, Method::Put, "vm.boot");
    refresh(vm);
    if (!booted)
        return std::unexpected(booted.error());
    vm.desired = Desired::Running;
    vm.started_at = ::time(nullptr);
    set_state(vm, VmState::Running);
    return {};
}

void Supervisor::watch(Vm& vm)
{
    auto* descriptor = vm.pidfd.get();
    std::string name = vm.definition.name;
    descriptor->async_wait(boost::asio::posix::stream_descriptor::wait_read,
        [this, name, descriptor](boost::system::error_code error) {
            if (error == boost::asio::error::operation_aborted)
                return;
            Vm* vm = find(name);
            if (vm && vm->pidfd.get() == descriptor)
                on_exit(name);
        });
}

void Supervisor::drop_process(Vm& vm)
{
    vm.pidfd.reset();
    vm.api.reset();
    vm.process.reset();
    vm.console.clear();
    ::unlink(m_state_dir.api_socket_path(vm.definition.name).c_str());
}

void Supervisor::on_exit(std::string const& name)
{
    Vm& vm = *find(name);
    auto const alive = process_start_time(vm.process->pid);
    if (alive && *alive == vm.process->start_time) {
        watch(vm); // a wake-up without an exit
        return;
    }
    // g++ 12 warns falsely on a std::optional<ExitStatus> read below; a flag keeps it quiet.
    ExitStatus status {};
    bool known = false;
    if (vm.is_child) {
        if (auto reaped = reap_child(vm.pidfd->native_handle())) {
            status = *reaped;
            known = true;
        }
    }
    vm.last_exit = describe_exit(known ? std::optional(status) : std::nullopt, vm.is_child);
    auto const ran_for = std::chrono::steady_clock::now() - vm.spawned_at;
    m_log.write("vmm.exited", { { "vm", name }, { "pid", vm.process->pid }, { "how", vm.last_exit } });
    drop_process(vm);
    vm.timer.cancel();
    if (vm.deleting) {
        finish_delete(vm);
        return;
    }
    bool const failure = !known || !status.exited || status.code != 0;
    if (vm.desired == Desired::Stopped || !failure) {
        vm.desired = Desired::Stopped; // stopped by us, or the guest powered off
        set_state(vm, VmState::Stopped);
        persist(vm);
        return;
    }
    if (ran_for >= m_config.stable_after)
        vm.failures_in_row = 0;
    on_failure(vm);
}

// A VMM that failed (vm.last_exit says how): restarted under on-failure, else crashed.
void Supervisor::on_failure(Vm& vm)
{
    if (vm.definition.restart == RestartPolicy::OnFailure) {
        schedule_restart(vm, vm.last_exit);
        return;
    }
    vm.desired = Desired::Stopped;
    set_state(vm, VmState::Crashed);
    persist(vm);
}

// SIGKILL and forget: the loop never waits for the process. A child is reaped when its pidfd
// says it exited (reap_later); the API socket file is removed at once, so a new VMM of this VM
// can bind the path while the old one is still dying.
void Supervisor::kill_now(Vm& vm)
{
    if (!vm.process)
        return;
    if (vm.pidfd) {
        (void)signal_process(vm.pidfd->native_handle(), SIGKILL);
        if (vm.is_child)
            reap_later(std::move(vm.pidfd));
    }
    m_log.write("vmm.killed", { { "vm", vm.definition.name }, { "pid", vm.process->pid } });
    drop_process(vm);
}

void Supervisor::reap_later(std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd)
{
    auto* descriptor = pidfd.get();
    m_reaping.push_back(std::move(pidfd));
    descriptor->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this, descriptor](boost::system::error_code error) {
        if (error == boost::asio::error::operation_aborted)
            return; // monarchd is going away; the VMM is not its child any more once it exits
        (void)reap_child(descriptor->native_handle());
        std::erase_if(m_reaping, [descriptor](auto const& entry) { return entry.get() == descriptor; });
    });
}

void Supervisor::schedule_restart(Vm& vm, std::string const& reason)
{
    auto const shift = std::min(vm.failures_in_row, 6u);
    auto const delay = std::min<std::chrono::milliseconds>(m_config.restart_delay * (1 << shift), m_config.restart_delay_max);
    ++vm.failures_in_row;
    set_state(vm, VmState::Restarting);
    persist(vm);
    m_log.write("vm.restart_scheduled", { { "vm", vm.definition.name }, { "delay_ms", delay.count() }, { "reason", reason } });
    std::string name = vm.definition.name;
    vm.timer.expires_after(delay);
    vm.timer.async_wait([this, name](boost::system::error_code error) {
        Vm* vm = find(name);
        if (error || !vm || vm->deleting || vm->state != VmState::Restarting)
            return;
        ++vm->restarts;
        m_log.write("vm.restarting", { { "vm", name }, { "restarts", vm->restarts } });
        if (auto launched = launch(*vm); !launched) {
            kill_now(*vm);
            schedule_restart(*vm, launched.error().message);
            return;
        }
        if (vm->desired == Desired::Running) {
            if (auto booted = boot(*vm); !booted)
                m_log.write("vm.boot_failed", { { "vm", name }, { "message", booted.error().message } });
        }
        persist(*vm);
    });
}

void Supervisor::begin_stop(Vm& vm, bool force, std::chrono::milliseconds timeout)
{
    set_state(vm, VmState::Stopping);
    m_log.write("vm.stopping", { { "vm", vm.definition.name }, { "force", force }, { "timeout_ms", timeout.count() } });
    vm.timer.cancel();
    ++vm.stop_sequence; // a stop begun earlier goes no further
    if (force) {
        escalate(vm, SIGTERM, 0ms);
        return;
    }
    // In order: the guest is asked to power off, then the VMM to exit; signals only after. Each
    // call is asynchronous, so a VMM that does not answer holds up nothing else on the loop.
    auto const call_timeout = std::min<std::chrono::milliseconds>(timeout, 2s);
    stop_step(vm, "vm.shutdown", call_timeout, [this, call_timeout, timeout](Vm& vm) {
        stop_step(vm, "vmm.shutdown", call_timeout, [this, timeout](Vm& vm) { escalate(vm, SIGTERM, timeout); });
    });
}

// PUT `endpoint` to the VMM without waiting; `next` runs once it answered or failed, if this
// stop is still the VM's current one and its VMM still runs (the same process).
void Supervisor::stop_step(Vm& vm, std::string const& endpoint, std::chrono::milliseconds timeout, std::function<void(Vm&)> next)
{
    std::string name = vm.definition.name;
    auto const process = *vm.process;
    auto const sequence = vm.stop_sequence;
    async_vmm_call(m_io, m_state_dir.api_socket_path(name), Method::Put, "/api/v1/" + endpoint, timeout,
        [this, name, endpoint, process, sequence, next = std::move(next)](Result<http::ClientResponse> answer) {
            Vm* vm = find(name);
            if (!vm || vm->process != process || vm->stop_sequence != sequence || vm->state != VmState::Stopping)
                return;
            if (!answer) {
                m_log.write("vmm.error", { { "vm", name }, { "endpoint", endpoint }, { "message", to_string(answer.error()) } });
            } else if (!answer->ok()) {
                m_log.write("vmm.error", { { "vm", name }, { "endpoint", endpoint }, { "status", answer->status },
                                             { "message", vmm_message(answer->body) } });
            }
            next(*vm);
        });
}

// Sends `signal` after `after` unless the VMM is gone by then; after SIGTERM, SIGKILL follows
// after the same delay (at least one second).
void Supervisor::escalate(Vm& vm, int signal, std::chrono::milliseconds after)
{
    std::string name = vm.definition.name;
    vm.timer.expires_after(after);
    auto const sequence = vm.stop_sequence;
    vm.timer.async_wait([this, name, signal, after, sequence](boost::system::error_code error) {
        Vm* vm = find(name);
        if (error || !vm || !vm->process || !vm->pidfd || vm->state != VmState::Stopping || vm->stop_sequence != sequence)
            return;
        m_log.write("vmm.signal", { { "vm", name }, { "pid", vm->process->pid }, { "signal", signal == SIGKILL ? "SIGKILL" : "SIGTERM" } });
        (void)signal_process(vm->pidfd->native_handle(), signal);
        if (signal == SIGTERM)
            escalate(*vm, SIGKILL, std::max<std::chrono::milliseconds>(after, 1s));
    });
}

} // namespace monarch::supervisor
