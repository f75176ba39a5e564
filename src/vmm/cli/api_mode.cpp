// SPDX-License-Identifier: Apache-2.0
// The API mode's composition: EventLoop, MachineBackend, VmController, ApiHandler and the
// HttpServer on it, and the order they are torn down in (VM first, then the server).
#include "vmm/cli/api_mode.h"

#include "common/log.h"
#include "http/http_server.h"
#include "dkom/profile/profile.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/introspect_routes.h"
#include "vmm/api/machine_backend.h"
#include "vmm/api/vm_controller.h"
#include "vmm/api/vmcrypt_routes.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/event/event_loop.h"
#include "vmm/exit_status.h"
#include "vmm/introspect/vmm_guest_access.h"

#include <boost/asio/post.hpp>
#include <cstdio>
#include <future>
#include <fmt/format.h>

namespace monarch::vmm::cli {

namespace {

int report_error(int status, std::string const& text)
{
    std::fprintf(stderr, "monarch-vmm: error: %s\n", text.c_str());
    return status;
}

// Which VM introspection sees, by a number that changes whenever the VM may have been replaced
// (a new Vmm object, or any lifecycle request: a new VM can reuse the old one's address). Used
// on the event-loop thread only.
class VmGeneration {
public:
    // Whether the request may replace or remove the VM (any VM action but pause and resume).
    static bool may_replace_vm(http::HttpRequest const& request)
    {
        std::string_view const path = request.path;
        return request.method == "PUT" && path.starts_with("/api/v1/vm.") && path != "/api/v1/vm.pause" && path != "/api/v1/vm.resume";
    }
    void on_request(http::HttpRequest const& request)
    {
        if (may_replace_vm(request))
            ++m_generation;
    }
    uint64_t of(machine::Vmm* vmm)
    {
        if (vmm != m_last) {
            m_last = vmm;
            ++m_generation;
        }
        return m_generation;
    }

private:
    uint64_t m_generation { 1 };
    machine::Vmm* m_last { nullptr };
};

// The VM introspection works on: the running (or paused) VM, never one the API paused when
// the operation would let it run (task control and sampling resume the vCPUs).
std::expected<introspect::Target, api::RouteError> introspection_target(api::MachineBackend& backend, api::VmController& controller,
    VmGeneration& generation, api::IntrospectCommand::Kind kind)
{
    auto* vmm = backend.vmm();
    auto const state = controller.state();
    if (!vmm || (state != api::VmState::Running && state != api::VmState::Paused))
        return std::unexpected(api::RouteError { 409, "no VM is running", "no_vm" });
    if (state == api::VmState::Paused && kind != api::IntrospectCommand::Kind::Ps)
        return std::unexpected(api::RouteError { 409, "the VM is paused (vm.pause): vm.resume it first", "paused" });
    return introspect::Target { generation.of(vmm), [vmm] {
        return std::unique_ptr<dkom::GuestAccess>(std::make_unique<introspect::VmmGuestAccess>(vmm->memory(), vmm->vcpus()));
    } };
}

// A request that may replace or remove the VM must not run while an introspection job uses
// that VM: it is queued behind the jobs on the engine's worker, which then has it handled on
// the event-loop thread (where all API requests run) and waits for that to finish, without
// blocking the event loop meanwhile.
void run_after_introspection(introspect::IntrospectEngine& engine, boost::asio::io_context& context,
    std::function<http::HttpResponse(http::HttpRequest const&)> const& dispatch, http::HttpRequest const& request,
    http::HttpResponder const& respond)
{
    engine.submit(std::nullopt, [&context, &dispatch, request, respond](introspect::EngineContext& engine_context) {
        engine_context.forget_target();
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        boost::asio::post(context, [&dispatch, request, respond, done] {
            respond(dispatch(request));
            done->set_value();
        });
        while (finished.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready && !engine_context.stop_requested()) { }
    });
}

} // namespace

std::optional<CliExit> check_api_socket(std::string const& spec)
{
    auto parsed = http::parse_socket_spec(spec);
    if (!parsed)
        return CliExit { exit_status::Usage, fmt::format("--api-socket: '{}': {}", spec, to_string(parsed.error())) };
    return std::nullopt;
}

int run_with_api(std::string const& api_socket, std::optional<machine::VmConfig> config, int signal_fd, bool reboot_on_reset, uint64_t host_total,
    vmcrypt::VmSealing* sealing, std::optional<api::RestoreRequest> restore, std::optional<std::string> const& introspect_profile)
{
    // The guest kernel's profile (--introspect profile=PATH), read before anything starts so
    // that a bad one is a usage error.
    std::optional<dkom::Profile> profile;
    if (introspect_profile) {
        auto loaded = dkom::Profile::from_isf_file(*introspect_profile);
        if (!loaded)
            return report_error(exit_status::Usage, fmt::format("--introspect profile={}: {}", *introspect_profile, to_string(loaded.error())));
        profile = std::move(*loaded);
    }
    event::EventLoop loop;
    api::VmController* controller_for_reset = nullptr;
    api::MachineBackend backend(
        loop,
        [host_total](machine::BuildError const& error, machine::VmConfig const& vm) {
            auto exit = describe_build_error(error, vm, host_total);
            return api::BuildFailure { exit.status, exit.text };
        },
        [&loop, &controller_for_reset, reboot_on_reset](int status) {
            if (status != exit_status::GuestReset) {
                loop.stop(status);
                return;
            }
            if (!reboot_on_reset) {
                log::info("the guest reset: ending (--no-reboot)");
                loop.stop(exit_status::Success);
                return;
            }
            // As vm.reboot does, but after this handler: the reboot replaces the VM whose exit
            // watch is calling us.
            loop.post([&loop, &controller_for_reset] {
                log::info("the guest reset: booting it again");
                if (auto rebooted = controller_for_reset->reboot(); !rebooted) {
                    std::fprintf(stderr, "monarch-vmm: error: %s\n", rebooted.error().message.c_str());
                    loop.stop(exit_status::HostError);
                }
            });
        },
        sealing);
    api::VmController controller(backend);
    controller_for_reset = &controller;
    api::ApiHandler handler(controller, [&loop] { loop.stop(exit_status::Success); });

    // Introspection runs on its engine's worker thread (it waits for the guest, whose devices
    // this thread serves); it is stopped before the VM (end of this function).
    std::optional<introspect::IntrospectEngine> engine;
    engine.emplace();
    if (profile)
        engine->submit(std::nullopt, [profile = std::move(*profile)](introspect::EngineContext& context) { context.set_profile(profile); });
    VmGeneration generation;
    api::IntrospectRoutes introspect_routes(*engine, [&backend, &controller, &generation](api::IntrospectCommand::Kind kind) {
        return introspection_target(backend, controller, generation, kind);
    });
    // Introspection's endpoints first (answered later), then VMCrypt's (sealed views,
    // vm.coredump, vm.snapshot), then the rest; requests that may replace the VM wait for the
    // introspection job in progress.
    api::VmcryptRoutes vmcrypt_routes(controller, [&backend] { return backend.vmm(); }, sealing);
    std::function<http::HttpResponse(http::HttpRequest const&)> const dispatch = [&handler, &vmcrypt_routes](http::HttpRequest const& request) {
        if (auto response = vmcrypt_routes.handle(request))
            return std::move(*response);
        return handler.handle(request);
    };
    auto server = http::HttpServer::create(loop.context(), api_socket,
        http::AsyncHttpHandler([&](http::HttpRequest const& request, http::HttpResponder respond) {
            generation.on_request(request);
            if (introspect_routes.handle(request, respond))
                return;
            if (VmGeneration::may_replace_vm(request))
                return run_after_introspection(*engine, loop.context(), dispatch, request, respond);
            respond(dispatch(request));
        }));
    if (!server) {
        // A descriptor that is not a listening socket is a bad value; a path that cannot be
        // bound is an output that cannot be created.
        bool const usage = api_socket.starts_with("fd=") || server.error().code == Errc::InvalidArgument;
        return report_error(usage ? exit_status::Usage : exit_status::CannotCreate,
                            fmt::format("--api-socket: '{}': {}", api_socket, to_string(server.error())));
    }
    auto signals = loop.watch_signals(signal_fd, [&loop](int signal_number) {
        log::info("signal {} received: stopping", signal_number);
        loop.stop(exit_status::Signalled);
    });
    if (!signals)
        return report_error(exit_status::HostError, to_string(signals.error()));
    log::info("api: serving on {}", (*server)->path().empty() ? api_socket : (*server)->path());

    if (restore) {
        if (auto restored = controller.restore(*restore); !restored)
            return report_error(backend.last_failure_status(), fmt::format("--restore: {}", restored.error().message));
    }
    if (config) {
        (void)controller.create(std::move(*config));
        if (auto booted = controller.boot(); !booted)
            return report_error(backend.last_failure_status(), booted.error().message);
    }
    int const status = loop.run();
    engine.reset(); // the job in progress ends (each has a timeout) before the VM goes
    controller.stop_for_exit();
    (*server)->close();
    return status;
}

} // namespace monarch::vmm::cli
