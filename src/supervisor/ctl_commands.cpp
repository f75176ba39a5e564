// SPDX-License-Identifier: Apache-2.0
// monarchctl: the command line and each command's requests and output.
#include "supervisor/ctl_commands.h"

#include "common/json_text.h"
#include "supervisor/ctl_client.h"
#include "supervisor/ctl_console.h"
#include "supervisor/ctl_format.h"
#include "supervisor/state_dir.h"

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace monarch::supervisor::ctl {

using http::Method;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct CreateOptions {
    std::string name;
    std::optional<uint32_t> cpus;
    std::optional<std::string> memory, kernel, initrd, cmdline, restart, from_file;
    std::vector<std::string> disks;
};

struct Settings {
    std::string socket;
    bool json_output { false };
    std::string name;
    CreateOptions create;
    bool force { false };
    bool no_wait { false };
    double timeout { 30 };
    uint64_t bytes { 64 * 1024 };
};

// Paths on the command line are relative to the caller; the VMM runs elsewhere.
std::string absolute(std::string const& path)
{
    if (path.empty() || path[0] == '/')
        return path;
    char cwd[PATH_MAX] {};
    return ::getcwd(cwd, sizeof(cwd)) ? std::string(cwd) + "/" + path : path;
}

CtlResult<json> create_body(CreateOptions const& options)
{
    json body = json::object();
    if (options.from_file) {
        auto text = read_text_file(*options.from_file);
        if (!text)
            return std::unexpected(CtlError { exit_status::Usage, "--from-file " + *options.from_file + ": " + to_string(text.error()) });
        body = json::parse(*text, nullptr, false);
        if (!body.is_object())
            return std::unexpected(CtlError { exit_status::Usage, "--from-file " + *options.from_file + ": not a JSON object" });
    }
    if (!options.name.empty())
        body["name"] = options.name;
    if (options.cpus)
        body["cpus"] = *options.cpus;
    if (options.memory)
        body["memory"] = *options.memory;
    if (options.kernel)
        body["kernel"] = absolute(*options.kernel);
    if (options.initrd)
        body["initrd"] = absolute(*options.initrd);
    if (options.cmdline)
        body["cmdline"] = *options.cmdline;
    if (options.restart)
        body["restart"] = *options.restart;
    if (!options.disks.empty()) {
        json disks = json::array();
        for (auto const& disk : options.disks) {
            bool const readonly = disk.ends_with(",readonly") || disk.ends_with(",ro");
            std::string path = disk.substr(0, readonly ? disk.rfind(',') : disk.size());
            disks.push_back({ { "path", absolute(path) }, { "readonly", readonly } });
        }
        body["disks"] = std::move(disks);
    }
    return body;
}

std::string vm_target(std::string const& name, std::string const& action = {})
{
    return "/api/v1/vms/" + name + (action.empty() ? "" : "/" + action);
}

// Polls the VM until `done` says so or the deadline; a 404 ends the wait too (deleted).
CtlResult<json> wait_for(DaemonClient& client, std::string const& name, std::chrono::milliseconds limit,
    bool (*done)(json const&))
{
    auto const deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        auto answer = client.call(Method::Get, vm_target(name));
        if (!answer)
            return answer.error().exit_status == exit_status::NotFound ? CtlResult<json>(json { { "name", name }, { "state", "deleted" } })
                                                                     : std::unexpected(answer.error());
        if (done(answer->body))
            return answer->body;
        if (std::chrono::steady_clock::now() >= deadline)
            return std::unexpected(CtlError { exit_status::Timeout, name + " is still " + answer->body.value("state", std::string("?")) + " after the timeout" });
        std::this_thread::sleep_for(100ms);
    }
}

bool is_down(json const& vm)
{
    auto const state = vm.value("state", std::string());
    return state == "stopped" || state == "crashed";
}

bool never(json const&) { return false; }

void print_vm_line(Settings const& settings, json const& vm, std::string_view verb)
{
    if (settings.json_output)
        std::printf("%s\n", to_json_text(vm, 2).c_str());
    else
        std::printf("%s %.*s (state %s, pid %s)\n", vm.value("name", settings.name).c_str(), static_cast<int>(verb.size()), verb.data(),
            vm.value("state", std::string("?")).c_str(), vm.contains("pid") && vm["pid"].is_number() ? std::to_string(vm["pid"].get<int>()).c_str() : "-");
}

CtlResult<void> create(DaemonClient& client, Settings const& settings)
{
    auto body = TRY_EXPECTED(create_body(settings.create));
    auto answer = TRY_EXPECTED(client.call(Method::Post, "/api/v1/vms", to_json_text(body)));
    print_vm_line(settings, answer.body, "created");
    return {};
}

CtlResult<void> console(DaemonClient& client, std::string const& name)
{
    auto answer = TRY_EXPECTED(client.call(Method::Get, vm_target(name)));
    auto const& pty = answer.body.is_object() ? answer.body["console"] : json();
    if (!pty.is_string())
        return std::unexpected(CtlError { exit_status::Refused, name + " has no serial console now (state " + answer.body.value("state", std::string("?")) + ")" });
    std::fprintf(stderr, "Connected to %s (%s). Escape character is ^]\n", name.c_str(), pty.get<std::string>().c_str());
    std::string error;
    if (!attach_console(pty.get<std::string>(), error))
        return std::unexpected(CtlError { exit_status::Failure, error });
    std::fprintf(stderr, "\r\nDetached from %s.\n", name.c_str());
    return {};
}

CtlResult<void> run_command(std::string const& command, Settings const& settings)
{
    DaemonClient client(settings.socket);
    auto const& name = settings.name;
    auto const stop_limit = std::chrono::milliseconds(static_cast<int64_t>(settings.timeout * 2000)) + 10s;
    if (command == "create") {
        TRY_EXPECTED(create(client, settings));
    } else if (command == "start" || command == "pause" || command == "resume" || command == "reboot" || command == "power-button") {
        auto answer = TRY_EXPECTED(client.call(Method::Put, vm_target(name, command)));
        print_vm_line(settings, answer.body, command == "start" ? "started" : command == "pause" ? "paused" : command == "resume" ? "resumed"
            : command == "reboot" ? "rebooted" : "power button pressed");
    } else if (command == "stop") {
        json const body = { { "force", settings.force }, { "timeout", settings.timeout } };
        auto answer = TRY_EXPECTED(client.call(Method::Put, vm_target(name, "stop"), to_json_text(body)));
        auto vm = settings.no_wait ? answer.body : TRY_EXPECTED(wait_for(client, name, stop_limit, is_down));
        print_vm_line(settings, vm, settings.no_wait ? "stopping" : "stopped");
    } else if (command == "delete") {
        auto answer = TRY_EXPECTED(client.call(Method::Delete, vm_target(name)));
        if (answer.status == 202 && !settings.no_wait)
            answer.body = TRY_EXPECTED(wait_for(client, name, stop_limit, never));
        if (settings.json_output)
            std::printf("%s\n", to_json_text(answer.body, 2).c_str());
        else
            std::printf("%s %s\n", name.c_str(), answer.status == 202 && settings.no_wait ? "is being deleted" : "deleted");
    } else if (command == "list") {
        auto answer = TRY_EXPECTED(client.call(Method::Get, "/api/v1/vms"));
        auto const& vms = answer.body.is_object() ? answer.body["vms"] : json();
        std::fputs(settings.json_output ? (to_json_text(vms, 2) + "\n").c_str() : format_table(vms).c_str(), stdout);
    } else if (command == "info") {
        auto answer = TRY_EXPECTED(client.call(Method::Get, vm_target(name)));
        std::fputs(settings.json_output ? (to_json_text(answer.body, 2) + "\n").c_str() : format_info(answer.body).c_str(), stdout);
    } else if (command == "logs") {
        auto answer = TRY_EXPECTED(client.call(Method::Get, vm_target(name, "log") + "?bytes=" + std::to_string(settings.bytes)));
        std::string const text = answer.body.is_string() ? answer.body.get<std::string>() : std::string();
        std::fputs(settings.json_output ? (to_json_text(json({ { "name", name }, { "log", text } }), 2) + "\n").c_str() : text.c_str(), stdout);
    } else if (command == "console") {
        TRY_EXPECTED(console(client, name));
    }
    std::fflush(stdout);
    return {};
}

} // namespace

int run_monarchctl(int argc, char const* const* argv)
{
    Settings settings;
    CLI::App app { "monarchctl: manage Monarch VMs through monarchd (docs/monarchctl.md)", "monarchctl" };
    app.set_version_flag("--version", std::string("monarchctl ") + MONARCH_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    app.add_option("--socket", settings.socket, "monarchd's socket (default $MONARCH_SOCKET, else /var/lib/monarch/monarchd.sock)");
    app.add_flag("--json", settings.json_output, "Print JSON for scripts");

    auto* create = app.add_subcommand("create", "Define a VM and start its monarch-vmm (state created)");
    create->add_option("name", settings.create.name, "The VM's name");
    create->add_option("--cpus", settings.create.cpus, "vCPUs (1-254)");
    create->add_option("--memory", settings.create.memory, "Memory: 512M, 1G (a bare number is MiB, as monarch-vmm's --memory)");
    create->add_option("--kernel", settings.create.kernel, "Kernel (bzImage, ELF or PVH)");
    create->add_option("--initrd", settings.create.initrd, "Initial ramdisk");
    create->add_option("--cmdline", settings.create.cmdline, "Kernel command line");
    create->add_option("--disk", settings.create.disks, "Disk image, PATH or PATH,readonly (repeatable)")->allow_extra_args(false);
    create->add_option("--restart", settings.create.restart, "never or on-failure");
    create->add_option("--from-file", settings.create.from_file, "A JSON definition (options given too override it)");
    for (auto const* command : { "start", "pause", "resume", "reboot", "info", "console" })
        app.add_subcommand(command, std::string(command) + " a VM")->add_option("name", settings.name, "The VM's name")->required();
    app.add_subcommand("power-button", "Press a VM's ACPI power button: the guest shuts down in order (systemd powers off)")
        ->add_option("name", settings.name, "The VM's name")
        ->required();
    auto* stop = app.add_subcommand("stop", "Stop a VM's monarch-vmm: vm.shutdown, then SIGTERM, then SIGKILL");
    stop->add_option("name", settings.name, "The VM's name")->required();
    stop->add_flag("--force", settings.force, "SIGTERM at once, SIGKILL a second later");
    stop->add_option("--timeout", settings.timeout, "Seconds before each escalation (default 30)")->check(CLI::Range(0.0, 3600.0));
    stop->add_flag("--no-wait", settings.no_wait, "Return once the stop has begun");
    auto* remove = app.add_subcommand("delete", "Stop a VM if it runs and remove it");
    remove->add_option("name", settings.name, "The VM's name")->required();
    remove->add_flag("--no-wait", settings.no_wait, "Return once the deletion has begun");
    auto* logs = app.add_subcommand("logs", "Print the end of the VM's monarch-vmm log");
    logs->add_option("name", settings.name, "The VM's name")->required();
    logs->add_option("--bytes", settings.bytes, "How many bytes from the end (default 65536)");
    app.add_subcommand("list", "List the VMs: name, state, vCPUs, memory, uptime, pid");

    try {
        app.parse(argc, argv);
    } catch (CLI::ParseError const& error) {
        int const status = app.exit(error);
        return status == 0 ? exit_status::Success : exit_status::Usage;
    }
    if (settings.socket.empty())
        settings.socket = default_socket_path();
    std::string const command = app.get_subcommands().front()->get_name();
    if (command == "create" && settings.create.name.empty() && !settings.create.from_file) {
        std::fprintf(stderr, "monarchctl create: give a NAME or --from-file\n");
        return exit_status::Usage;
    }
    auto const result = run_command(command, settings);
    if (result)
        return exit_status::Success;
    if (settings.json_output)
        std::printf("%s\n", to_json_text(json({ { "error", result.error().message }, { "exit_status", result.error().exit_status } }), 2).c_str());
    std::fprintf(stderr, "monarchctl: %s\n", result.error().message.c_str());
    return result.error().exit_status;
}

} // namespace monarch::supervisor::ctl
