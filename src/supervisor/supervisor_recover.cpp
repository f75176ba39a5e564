// SPDX-License-Identifier: Apache-2.0
// Supervisor::recover: a new monarchd reads the state directory and adopts each VMM that a
// previous monarchd left running (the same process: pid and start time), so that nothing is
// started twice; a VMM that died meanwhile is restarted by its policy.
#include "common/log.h"
#include "supervisor/supervisor.h"
#include "supervisor/supervisor_vm.h"

namespace monarch::supervisor {

using nlohmann::json;

namespace {

std::optional<Desired> desired_from(json const& value)
{
    if (value == "stopped")
        return Desired::Stopped;
    if (value == "created")
        return Desired::Created;
    if (value == "running")
        return Desired::Running;
    return std::nullopt;
}

std::optional<VmState> state_from(json const& value)
{
    for (auto state : { VmState::Stopped, VmState::Created, VmState::Running, VmState::Paused, VmState::Shutdown, VmState::Crashed }) {
        if (value == to_string(state))
            return state;
    }
    return std::nullopt;
}

template<typename T>
T field_or(json const& object, char const* key, T fallback)
{
    if (!object.is_object() || !object.contains(key))
        return fallback;
    auto const& value = object[key];
    if constexpr (std::is_same_v<T, std::string>)
        return value.is_string() ? value.get<std::string>() : fallback;
    else
        return value.is_number_integer() ? value.get<T>() : fallback;
}

} // namespace

void Supervisor::recover()
{
    auto names = m_state_dir.list_vms();
    if (!names) {
        log::error("cannot list the state directory: {}", to_string(names.error()));
        return;
    }
    for (auto const& name : *names)
        recover_one(name);
}

void Supervisor::recover_one(std::string const& name)
{
    auto text = read_text_file(m_state_dir.definition_path(name));
    auto definition = text ? definition_from_text(*text) : std::unexpected(std::string("no definition.json"));
    if (!definition || definition->name != name) {
        m_log.write("vm.unreadable", { { "vm", name }, { "reason", definition ? "the name differs from the directory's" : definition.error() } });
        return;
    }
    auto& vm = *m_vms.emplace(name, std::make_unique<Vm>(m_io, std::move(*definition))).first->second;
    auto const state_text = read_text_file(m_state_dir.state_path(name));
    json const state = state_text ? json::parse(*state_text, nullptr, false) : json();
    vm.desired = desired_from(state.is_object() ? state.value("desired", json()) : json()).value_or(Desired::Stopped);
    vm.state = state_from(state.is_object() ? state.value("state", json()) : json()).value_or(VmState::Stopped);
    vm.started_at = field_or<int64_t>(state, "started_at", 0);
    vm.restarts = field_or<unsigned>(state, "restarts", 0);
    vm.last_exit = field_or<std::string>(state, "last_exit", {});
    ProcessIdentity const identity { field_or<pid_t>(state, "pid", 0), field_or<uint64_t>(state, "start_time", 0) };

    if (identity.pid > 0) {
        if (auto pidfd = open_process(identity)) {
            vm.process = identity;
            vm.is_child = false;
            vm.spawned_at = std::chrono::steady_clock::now();
            vm.pidfd = std::make_unique<boost::asio::posix::stream_descriptor>(m_io);
            boost::system::error_code error;
            vm.pidfd->assign(pidfd->release(), error);
            if (!error)
                watch(vm);
            refresh(vm);
            m_log.write("vm.adopted", { { "vm", name }, { "pid", identity.pid }, { "state", to_string(vm.state) } });
            if (vm.desired == Desired::Stopped) // monarchd died while stopping it: finish the stop
                begin_stop(vm, false, m_config.delete_stop_timeout);
            persist(vm);
            return;
        }
    }
    // No process of ours runs for this VM.
    bool const was_up = vm.desired != Desired::Stopped;
    vm.process.reset();
    if (!was_up) {
        if (vm.state != VmState::Crashed)
            vm.state = VmState::Stopped;
        m_log.write("vm.loaded", { { "vm", name }, { "state", to_string(vm.state) } });
        persist(vm);
        return;
    }
    vm.last_exit = "exited while monarchd was not running";
    m_log.write("vmm.exited", { { "vm", name }, { "pid", identity.pid }, { "how", vm.last_exit } });
    on_failure(vm);
}

} // namespace monarch::supervisor
