// SPDX-License-Identifier: Apache-2.0
// Supervisor: the management operations (list, info, define, start, stop, pause, resume,
// reboot, remove, logs), the VM's JSON description and its persisted state.
#include "supervisor/supervisor.h"

#include "common/json_text.h"
#include "common/log.h"
#include "supervisor/supervisor_vm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::supervisor {

using nlohmann::json;
using http::Method;

std::string_view to_string(VmState state)
{
    switch (state) {
    case VmState::Stopped: return "stopped";
    case VmState::Starting: return "starting";
    case VmState::Created: return "created";
    case VmState::Running: return "running";
    case VmState::Paused: return "paused";
    case VmState::Shutdown: return "shutdown";
    case VmState::Stopping: return "stopping";
    case VmState::Restarting: return "restarting";
    case VmState::Crashed: return "crashed";
    }
    return "unknown";
}

std::string_view to_string(Desired desired)
{
    switch (desired) {
    case Desired::Stopped: return "stopped";
    case Desired::Created: return "created";
    case Desired::Running: return "running";
    }
    return "stopped";
}

Supervisor::Supervisor(boost::asio::io_context& io, StateDir state_dir, EventLog& log, SupervisorConfig config)
    : m_io(io)
    , m_state_dir(std::move(state_dir))
    , m_log(log)
    , m_config(std::move(config))
{
}

// VMMs are left running: a new monarchd adopts them.
Supervisor::~Supervisor() = default;

Supervisor::Vm* Supervisor::find(std::string const& name)
{
    auto it = m_vms.find(name);
    return it == m_vms.end() ? nullptr : it->second.get();
}

ApiResult<Supervisor::Vm*> Supervisor::find_or_404(std::string const& name, bool deleting)
{
    if (Vm* vm = find(name); vm && (deleting || !vm->deleting))
        return vm;
    return std::unexpected(ApiError { 404, "no VM named '" + name + "'" });
}

json Supervisor::describe(Vm const& vm) const
{
    json object = {
        { "name", vm.definition.name },
        { "state", to_string(vm.state) },
        { "desired", to_string(vm.desired) },
        { "cpus", vm.definition.cpus },
        { "memory", vm.definition.memory },
        { "restart", to_string(vm.definition.restart) },
        { "restarts", vm.restarts },
        { "definition", to_json(vm.definition) },
        { "api_socket", m_state_dir.api_socket_path(vm.definition.name) },
        { "log", m_state_dir.log_path(vm.definition.name) },
    };
    object["pid"] = vm.process ? json(vm.process->pid) : json(nullptr);
    object["console"] = vm.console.empty() ? json(nullptr) : json(vm.console);
    object["last_exit"] = vm.last_exit.empty() ? json(nullptr) : json(vm.last_exit);
    bool const up = vm.state == VmState::Running || vm.state == VmState::Paused;
    object["started_at"] = vm.started_at ? json(vm.started_at) : json(nullptr);
    object["uptime"] = up && vm.started_at ? json(std::max<int64_t>(0, ::time(nullptr) - vm.started_at)) : json(nullptr);
    return object;
}

void Supervisor::set_state(Vm& vm, VmState state)
{
    if (vm.state == state)
        return;
    m_log.write("vm.state", { { "vm", vm.definition.name }, { "from", to_string(vm.state) }, { "to", to_string(state) } });
    vm.state = state;
}

void Supervisor::persist(Vm& vm)
{
    if (vm.deleting)
        return;
    json state = {
        { "desired", to_string(vm.desired) },
        { "state", to_string(vm.state) },
        { "started_at", vm.started_at },
        { "restarts", vm.restarts },
        { "last_exit", vm.last_exit },
    };
    if (vm.process) {
        state["pid"] = vm.process->pid;
        state["start_time"] = vm.process->start_time;
    }
    auto const written = write_file_atomically(m_state_dir.state_path(vm.definition.name), to_json_text(state, 2) + "\n");
    if (!written)
        log::error("{}: cannot write state.json: {}", vm.definition.name, to_string(written.error()));
}

// The VMM's own view (vm.info): its state and the pty of its serial port.
void Supervisor::refresh(Vm& vm)
{
    if (!vm.process || vm.state == VmState::Stopping || vm.state == VmState::Starting)
        return;
    auto info = vmm_call(vm, Method::Get, "vm.info");
    if (!info || !info->is_object())
        return;
    auto const& vmm_state = (*info)["state"];
    if (vmm_state == "Created")
        set_state(vm, VmState::Created);
    else if (vmm_state == "Running")
        set_state(vm, VmState::Running);
    else if (vmm_state == "Paused")
        set_state(vm, VmState::Paused);
    else if (vmm_state == "Shutdown")
        set_state(vm, VmState::Shutdown);
    auto const& config = (*info)["config"];
    if (config.is_object() && config.contains("serial") && config["serial"].is_object()) {
        auto const& file = config["serial"]["file"];
        vm.console = file.is_string() ? file.get<std::string>() : std::string();
    }
}

json Supervisor::list()
{
    json vms = json::array();
    for (auto& [name, vm] : m_vms)
        vms.push_back(describe(*vm));
    return { { "vms", std::move(vms) } };
}

ApiResult<json> Supervisor::info(std::string const& name)
{
    Vm* vm = TRY_EXPECTED(find_or_404(name, true));
    refresh(*vm);
    return describe(*vm);
}

ApiResult<json> Supervisor::define(std::string_view body)
{
    auto definition = definition_from_text(body);
    if (!definition)
        return std::unexpected(ApiError { 400, definition.error() });
    std::string const name = definition->name;
    if (find(name))
        return std::unexpected(ApiError { 409, "a VM named '" + name + "' exists" });
    if (auto made = m_state_dir.create_vm_dir(name); !made)
        return std::unexpected(ApiError { 500, "cannot create the VM's directory: " + to_string(made.error()) });
    auto written = write_file_atomically(m_state_dir.definition_path(name), to_json_text(to_json(*definition), 2) + "\n");
    if (!written) {
        (void)m_state_dir.remove_vm_dir(name);
        return std::unexpected(ApiError { 500, "cannot write the definition: " + to_string(written.error()) });
    }
    auto& vm = *m_vms.emplace(name, std::make_unique<Vm>(m_io, std::move(*definition))).first->second;
    m_log.write("vm.defined", { { "vm", name }, { "definition", to_json(vm.definition) } });
    vm.desired = Desired::Created;
    if (auto launched = launch(vm); !launched) {
        // Nothing of a VM that could not be created is kept: no process, no directory.
        kill_now(vm);
        (void)m_state_dir.remove_vm_dir(name);
        m_log.write("vm.removed", { { "vm", name }, { "reason", launched.error().message } });
        m_vms.erase(name);
        return std::unexpected(launched.error());
    }
    persist(vm);
    return describe(vm);
}

ApiResult<json> Supervisor::start(std::string const& name)
{
    Vm* vm = TRY_EXPECTED(find_or_404(name));
    switch (vm->state) {
    case VmState::Running: return std::unexpected(ApiError { 409, name + " is already running" });
    case VmState::Paused: return std::unexpected(ApiError { 409, name + " is paused (resume it)" });
    case VmState::Stopping:
    case VmState::Starting: return std::unexpected(ApiError { 409, name + " is " + std::string(to_string(vm->state)) });
    default: break;
    }
    if (!vm->process) {
        vm->timer.cancel(); // a pending restart: this start replaces it
        vm->desired = Desired::Created;
        if (auto launched = launch(*vm); !launched) {
            kill_now(*vm);
            vm->desired = Desired::Stopped;
            set_state(*vm, VmState::Stopped);
            persist(*vm);
            return std::unexpected(launched.error());
        }
    }
    auto booted = boot(*vm);
    persist(*vm);
    if (!booted)
        return std::unexpected(booted.error());
    return describe(*vm);
}

ApiResult<json> Supervisor::stop(std::string const& name, bool force, std::chrono::milliseconds timeout)
{
    Vm* vm = TRY_EXPECTED(find_or_404(name));
    if (!vm->process) {
        if (vm->state != VmState::Restarting)
            return std::unexpected(ApiError { 409, name + " is not running (" + std::string(to_string(vm->state)) + ")" });
        vm->timer.cancel();
        vm->desired = Desired::Stopped;
        set_state(*vm, VmState::Stopped);
        persist(*vm);
        return describe(*vm);
    }
    vm->desired = Desired::Stopped;
    begin_stop(*vm, force, timeout);
    persist(*vm);
    return describe(*vm);
}

// A change the VMM makes at once (pause, resume, reboot): allowed only from `required` (reboot
// also from paused), refused with 409 otherwise, and 409/502 with the VMM's message when the
// VMM refuses or fails.
ApiResult<json> Supervisor::transition(std::string const& name, std::string_view endpoint, VmState required, VmState reached)
{
    Vm* vm = TRY_EXPECTED(find_or_404(name));
    refresh(*vm);
    bool const allowed = vm->state == required || (endpoint == "vm.reboot" && vm->state == VmState::Paused);
    if (!allowed) {
        return std::unexpected(ApiError { 409,
            name + " is " + std::string(to_string(vm->state)) + ", not " + std::string(to_string(required)) });
    }
    TRY_EXPECTED(vmm_call(*vm, Method::Put, std::string(endpoint)));
    set_state(*vm, reached);
    persist(*vm);
    return describe(*vm);
}

ApiResult<json> Supervisor::pause(std::string const& name) { return transition(name, "vm.pause", VmState::Running, VmState::Paused); }
ApiResult<json> Supervisor::resume(std::string const& name) { return transition(name, "vm.resume", VmState::Paused, VmState::Running); }
ApiResult<json> Supervisor::reboot(std::string const& name) { return transition(name, "vm.reboot", VmState::Running, VmState::Running); }
// The guest decides what the button means (systemd powers off); the VM stays running until it
// does, and its VMM's exit is then seen as any other.
ApiResult<json> Supervisor::power_button(std::string const& name) { return transition(name, "vm.power-button", VmState::Running, VmState::Running); }

ApiResult<std::pair<unsigned, json>> Supervisor::remove(std::string const& name)
{
    Vm* vm = TRY_EXPECTED(find_or_404(name));
    vm->timer.cancel();
    vm->desired = Desired::Stopped;
    persist(*vm);
    vm->deleting = true;
    m_log.write("vm.deleting", { { "vm", name } });
    if (vm->process) {
        begin_stop(*vm, false, m_config.delete_stop_timeout);
        return std::pair { 202u, json { { "name", name }, { "state", "deleting" } } };
    }
    finish_delete(*vm);
    return std::pair { 200u, json { { "name", name }, { "state", "deleted" } } };
}

void Supervisor::finish_delete(Vm& vm)
{
    std::string const name = vm.definition.name;
    if (auto removed = m_state_dir.remove_vm_dir(name); !removed)
        log::error("{}: cannot remove the VM's directory: {}", name, to_string(removed.error()));
    m_log.write("vm.removed", { { "vm", name } });
    m_vms.erase(name);
}

ApiResult<std::string> Supervisor::log_tail(std::string const& name, size_t bytes)
{
    TRY_EXPECTED(find_or_404(name));
    UniqueFd fd { ::open(m_state_dir.log_path(name).c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return std::string();
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return std::unexpected(ApiError { 500, "cannot read the VMM's log" });
    auto const size = static_cast<uint64_t>(info.st_size);
    auto const offset = size > bytes ? size - bytes : 0;
    std::string text(size - offset, '\0');
    ssize_t const n = ::pread(fd.get(), text.data(), text.size(), static_cast<off_t>(offset));
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return text;
}

} // namespace monarch::supervisor
