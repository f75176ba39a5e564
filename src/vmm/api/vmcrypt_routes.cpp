// SPDX-License-Identifier: Apache-2.0
// VMCrypt's endpoints. Errors use the API's one shape, {"error": "..."}: 400 bad request, 404 no
// VM, 409 no owner key (nothing can be sealed), 500 the host failed.
#include "vmm/api/vmcrypt_routes.h"

#include "common/log.h"
#include "vmm/api/vm_config_json.h"
#include "vmm/snapshot/dirty_pages.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/snapshot_file.h"
#include "vmm/vmcrypt/clear_regions.h"
#include "vmm/vmcrypt/sealed_dump.h"
#include "vmm/vmcrypt/sealed_file.h"
#include "vmm/vmcrypt/sealed_view.h"

#include <charconv>
#include <sys/stat.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace monarch::vmm::api {

using http::HttpResponse;

namespace {

constexpr std::string_view CLEAR_REGIONS = "/api/v1/monarch/memory/clear-regions";
constexpr std::string_view MEMORY = "/api/v1/monarch/memory";
constexpr std::string_view COREDUMP = "/api/v1/vm.coredump";
constexpr std::string_view SNAPSHOT = "/api/v1/vm.snapshot";

std::optional<uint64_t> parse_number(std::string_view text)
{
    int base = 10;
    if (text.starts_with("0x") || text.starts_with("0X")) {
        text.remove_prefix(2);
        base = 16;
    }
    uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// Pauses a running VM for the life of the object, so that a dump or snapshot is one
// consistent image (VcpuRunner::pause returns once every vCPU is parked outside KVM_RUN); a VM
// already paused stays paused. A pause that fails fails the request: nothing is captured from
// vCPUs that may still run.
class PauseWhile {
public:
    explicit PauseWhile(VmController& controller) : m_controller(controller) {}
    ~PauseWhile()
    {
        if (m_paused_here)
            (void)m_controller.resume();
    }
    PauseWhile(PauseWhile const&) = delete;
    PauseWhile& operator=(PauseWhile const&) = delete;

    [[nodiscard]] ApiResult<void> pause()
    {
        if (m_controller.state() == VmState::Paused)
            return {};
        if (m_controller.state() != VmState::Running)
            return std::unexpected(ApiError { 500, fmt::format("the VM is neither running nor paused (state {})", to_string(m_controller.state())) });
        if (auto paused = m_controller.pause(); !paused)
            return std::unexpected(ApiError { 500, paused.error().message });
        m_paused_here = true;
        return {};
    }

private:
    VmController& m_controller;
    bool m_paused_here { false };
};

// The vCPU and device records, with the vCPUs paused; 500 when either fails.
std::expected<std::vector<NamedState>, HttpResponse> capture(std::string_view what, PauseWhile& paused, machine::Vmm& vmm)
{
    if (auto stopped = paused.pause(); !stopped)
        return std::unexpected(HttpResponse::error(500, fmt::format("{}: cannot pause the vCPUs: {}", what, stopped.error().message)));
    auto states = snapshot::capture_machine_state(vmm);
    if (!states) {
        log::warn("api: {}: capturing the machine state failed: {}", what, to_string(states.error()));
        return std::unexpected(HttpResponse::error(500, fmt::format("{}: cannot capture the machine state: {}", what, to_string(states.error()))));
    }
    return std::move(*states);
}

HttpResponse host_error(std::string_view what, Error const& error)
{
    log::warn("api: {} failed: {}", what, to_string(error));
    unsigned const status = error.code == Errc::Sys || error.code == Errc::Corrupt ? 500 : 400;
    return HttpResponse::error(status, fmt::format("{}: {}", what, to_string(error)));
}

} // namespace

Result<std::optional<vmcrypt::ViewRange>> parse_view_query(std::string_view target)
{
    auto question = target.find('?');
    if (question == std::string_view::npos)
        return std::optional<vmcrypt::ViewRange> {};
    std::optional<uint64_t> gpa, length;
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view {} : query.substr(amp + 1);
        auto equals = pair.find('=');
        if (equals == std::string_view::npos)
            return fail(Errc::InvalidArgument, "memory: query parameters are gpa=N&length=N");
        auto value = parse_number(pair.substr(equals + 1));
        if (!value)
            return fail(Errc::InvalidArgument, "memory: gpa and length are decimal or 0x-hex numbers");
        auto key = pair.substr(0, equals);
        if (key == "gpa")
            gpa = value;
        else if (key == "length")
            length = value;
        else
            return fail(Errc::InvalidArgument, "memory: query parameters are gpa=N&length=N");
    }
    if (!gpa && !length)
        return std::optional<vmcrypt::ViewRange> {};
    if (!gpa || !length)
        return fail(Errc::InvalidArgument, "memory: give both gpa and length, or neither (all RAM)");
    return std::optional<vmcrypt::ViewRange> { vmcrypt::ViewRange { GuestPhysAddr { *gpa }, *length } };
}

Result<std::string> url_path_from_body(std::string_view body, char const* key)
{
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains(key) || !json[key].is_string())
        return fail(Errc::InvalidArgument, "body must be a JSON object with a file:/// URL string");
    return vmcrypt::path_from_file_url(json[key].get<std::string>());
}

Result<bool> incremental_from_body(std::string_view body)
{
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return fail(Errc::InvalidArgument, "body must be a JSON object");
    if (!json.contains("incremental"))
        return false;
    if (!json["incremental"].is_boolean())
        return fail(Errc::InvalidArgument, "incremental must be true or false");
    return json["incremental"].get<bool>();
}

std::optional<HttpResponse> VmcryptRoutes::handle(http::HttpRequest const& request)
{
    std::string_view const path = request.path;
    bool const get = path == CLEAR_REGIONS || path == MEMORY;
    if (!get && path != COREDUMP && path != SNAPSHOT)
        return std::nullopt;
    if (request.method != (get ? "GET" : "PUT"))
        return HttpResponse::error(405, fmt::format("{} takes {}", path, get ? "GET" : "PUT"));
    machine::Vmm* vmm = m_vmm();
    if (!vmm)
        return HttpResponse::error(STATUS_NOT_CREATED, "VMCrypt: the VM is not booted");
    if (path == CLEAR_REGIONS)
        return clear_regions(*vmm);
    if (!m_sealing)
        return HttpResponse::error(409, "VMCrypt: monarch-vmm has no owner key (--owner-key): nothing can be sealed");
    if (path == MEMORY)
        return memory(request, *vmm);
    if (path == COREDUMP)
        return coredump(request, *vmm);
    return snapshot(request, *vmm);
}

HttpResponse VmcryptRoutes::clear_regions(machine::Vmm& vmm) const
{
    vmcrypt::ClearRegions regions(vmcrypt::supplied_regions(vmm.firmware_windows(), vmm.boot_regions()));
    nlohmann::json list = nlohmann::json::array();
    for (auto const& region : regions.list())
        list.push_back({ { "name", region.name }, { "gpa", region.base.raw() }, { "size", region.size } });
    nlohmann::json body = { { "regions", list }, { "total_size", regions.total_size() } };
    return HttpResponse::json(200, body.dump());
}

HttpResponse VmcryptRoutes::memory(http::HttpRequest const& request, machine::Vmm& vmm)
{
    auto range = parse_view_query(request.target);
    if (!range)
        return HttpResponse::error(400, to_string(range.error()));
    // Read only: through the untracked view, so a view does not dirty every page it seals.
    UntrackedGuestMemory view(vmm.memory());
    auto sealed = vmcrypt::seal_memory_view(view, *m_sealing, *range);
    if (!sealed)
        return host_error("memory view", sealed.error());
    HttpResponse response;
    response.status = 200;
    response.content_type = "application/octet-stream";
    // SAFETY: std::byte and char are both byte types; the span stays alive for the copy.
    response.body.assign(reinterpret_cast<char const*>(sealed->data()), sealed->size());
    return response;
}

HttpResponse VmcryptRoutes::coredump(http::HttpRequest const& request, machine::Vmm& vmm)
{
    auto path = url_path_from_body(request.body, "destination_url");
    if (!path)
        return HttpResponse::error(400, fmt::format("vm.coredump: {}", to_string(path.error())));
    vmcrypt::ClearRegions regions(vmcrypt::supplied_regions(vmm.firmware_windows(), vmm.boot_regions()));
    PauseWhile paused(m_controller);
    auto states = capture("vm.coredump", paused, vmm);
    if (!states)
        return std::move(states.error());
    vmcrypt::DumpContents contents { &regions, static_cast<uint32_t>(vmm.vcpus().vcpu_count()), {}, *states };
    UntrackedGuestMemory view(vmm.memory()); // read only: marks nothing dirty
    auto written = vmcrypt::write_sealed_dump(*path, view, *m_sealing, contents, vmcrypt::stderr_progress("vm.coredump"));
    if (!written)
        return host_error("vm.coredump", written.error());
    log::info("vm.coredump: sealed dump written, generation {}", written->raw());
    return HttpResponse::no_content();
}

// Cloud Hypervisor snapshots a paused VM and leaves it paused; a running VM is paused here
// for the snapshot and resumed after it (the API answers once the files are complete).
HttpResponse VmcryptRoutes::snapshot(http::HttpRequest const& request, machine::Vmm& vmm)
{
    auto path = url_path_from_body(request.body, "destination_url");
    if (!path)
        return HttpResponse::error(400, fmt::format("vm.snapshot: {}", to_string(path.error())));
    auto info = m_controller.info();
    nlohmann::json config = info ? vm_config_to_json(info->config) : nlohmann::json::object();
    // The UUID the pages are sealed for, also when vm.create gave none: a restore takes it.
    config["platform"] = { { "uuid", m_sealing->vm().to_string() } };
    auto incremental = incremental_from_body(request.body);
    if (!incremental)
        return HttpResponse::error(400, fmt::format("vm.snapshot: {}", to_string(incremental.error())));
    PauseWhile paused(m_controller);
    auto states = capture("vm.snapshot", paused, vmm);
    if (!states)
        return std::move(states.error());
    auto written = write_snapshot(*path, vmm, *incremental, *states, config);
    if (!written)
        return host_error("vm.snapshot", written.error());
    log::info("vm.snapshot: {} pages and {} state records sealed, generation {}", written->pages, states->size(),
        written->generation.raw());
    return HttpResponse::no_content();
}

// Incremental snapshots (docs/vmcrypt.md, "Incremental snapshots"). Every snapshot first
// takes the dirty pages (KVM's log merged into GuestMemoryMmap's bitmaps, then taken at once),
// then seals through a view that marks nothing: a page written after the take is in the next
// increment, never lost. A full snapshot starts KVM's dirty log, so increments can follow it;
// an increment needs the last snapshot of this same VM (else the snapshot is a full one).
Result<snapshot::SnapshotWritten> VmcryptRoutes::write_snapshot(std::string const& path, machine::Vmm& vmm, bool incremental,
    std::span<NamedState const> states, nlohmann::json const& config)
{
    auto& memory = vmm.memory();
    struct stat ram {};
    // SAFETY: fstat(2) fills `ram` for the memfd the VM's GuestMemoryMmap owns.
    if (::fstat(memory.memfd(), &ram) != 0)
        return fail_errno("fstat guest memory");
    bool const increment = incremental && m_last && m_last_ram == ram.st_ino;
    auto const last = m_last;
    m_last.reset(); // set again only once this snapshot is complete
    // Without a VmFd (a VM built without KVM) no vCPU ever ran: the bitmaps hold every write.
    if (auto const* vm = vmm.vm_fd(); vm && increment)
        TRY_VOID(snapshot::merge_kvm_dirty_log(*vm, memory));
    else if (vm)
        TRY_VOID(snapshot::start_kvm_dirty_log(*vm, memory));
    auto pieces = snapshot::take_dirty_pieces(memory);
    UntrackedGuestMemory view(memory);
    auto progress = vmcrypt::stderr_progress("vm.snapshot");
    auto written = increment
        ? snapshot::write_incremental_snapshot(path, view, *m_sealing, states, config, snapshot::Increment { *last, std::move(pieces) }, progress)
        : snapshot::write_snapshot(path, view, *m_sealing, states, config, progress);
    if (!written)
        return written;
    if (incremental && !increment)
        log::info("vm.snapshot: no earlier snapshot of this VM: a full snapshot instead of an increment");
    m_last = snapshot::SnapshotLink { path, snapshot::ParentRef { written->stream, written->generation } };
    m_last_ram = ram.st_ino;
    return written;
}

} // namespace monarch::vmm::api
