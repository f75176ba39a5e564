// SPDX-License-Identifier: Apache-2.0
// The API mode's composition: EventLoop, MachineBackend, VmController, ApiHandler and the
// HttpServer on it, and the order they are torn down in (VM first, then the server).
#include "vmm/cli/api_mode.h"

#include "common/log.h"
#include "http/http_server.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/machine_backend.h"
#include "vmm/api/vm_controller.h"
#include "vmm/api/vmcrypt_routes.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/event/event_loop.h"
#include "vmm/exit_status.h"

#include <cstdio>
#include <fmt/format.h>

namespace monarch::vmm::cli {

namespace {

int report_error(int status, std::string const& text)
{
    std::fprintf(stderr, "monarch-vmm: error: %s\n", text.c_str());
    return status;
}

} // namespace

std::optional<CliExit> check_api_socket(std::string const& spec)
{
    auto parsed = http::parse_socket_spec(spec);
    if (!parsed)
        return CliExit { exit_status::Usage, fmt::format("--api-socket: '{}': {}", spec, to_string(parsed.error())) };
    return std::nullopt;
}

int run_with_api(std::string const& api_socket, std::optional<machine::VmConfig> config, int signal_fd, uint64_t host_total,
    vmcrypt::VmSealing* sealing, std::optional<api::RestoreRequest> restore)
{
    event::EventLoop loop;
    api::MachineBackend backend(
        loop,
        [host_total](machine::BuildError const& error, machine::VmConfig const& vm) {
            auto exit = describe_build_error(error, vm, host_total);
            return api::BuildFailure { exit.status, exit.text };
        },
        [&loop](int status) { loop.stop(status); }, sealing);
    api::VmController controller(backend);
    api::ApiHandler handler(controller, [&loop] { loop.stop(exit_status::Success); });

    // VMCrypt's endpoints (sealed views, vm.coredump, vm.snapshot) first, then the rest.
    api::VmcryptRoutes vmcrypt_routes(controller, [&backend] { return backend.vmm(); }, sealing);
    auto server = http::HttpServer::create(loop.context(), api_socket,
        [&handler, &vmcrypt_routes](http::HttpRequest const& request) {
            if (auto response = vmcrypt_routes.handle(request))
                return std::move(*response);
            return handler.handle(request);
        });
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
    controller.stop_for_exit();
    (*server)->close();
    return status;
}

} // namespace monarch::vmm::cli
