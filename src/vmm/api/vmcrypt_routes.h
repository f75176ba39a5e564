// SPDX-License-Identifier: Apache-2.0
// VMCrypt's REST endpoints (docs/vmcrypt.md, "monarch-vmm endpoints"): the clear-region list,
// sealed memory views, the sealed vm.coredump and vm.snapshot. Consulted before ApiHandler;
// handle() answers only its own paths.
#pragma once

#include "http/http_server.h"
#include "vmm/api/vm_controller.h"
#include "vmm/machine/vmm.h"
#include "vmm/snapshot/snapshot_file.h"
#include "vmm/vmcrypt/sealed_view.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <functional>
#include <optional>

namespace monarch::vmm::api {

class VmcryptRoutes {
public:
    // `vmm` returns the running VM or null; `sealing` is null when monarch-vmm has no owner key.
    VmcryptRoutes(VmController& controller, std::function<machine::Vmm*()> vmm, vmcrypt::VmSealing* sealing)
        : m_controller(controller)
        , m_vmm(std::move(vmm))
        , m_sealing(sealing)
    {
    }

    // The response for a VMCrypt path, or nullopt for any other path.
    [[nodiscard]] std::optional<http::HttpResponse> handle(http::HttpRequest const&);

private:
    [[nodiscard]] http::HttpResponse clear_regions(machine::Vmm&) const;
    [[nodiscard]] http::HttpResponse memory(http::HttpRequest const&, machine::Vmm&);
    [[nodiscard]] http::HttpResponse coredump(http::HttpRequest const&, machine::Vmm&);
    [[nodiscard]] http::HttpResponse snapshot(http::HttpRequest const&, machine::Vmm&);
    [[nodiscard]] Result<snapshot::SnapshotWritten> write_snapshot(std::string const& path, machine::Vmm&, bool incremental,
        std::span<NamedState const> states, nlohmann::json const& config);

    VmController& m_controller;
    std::function<machine::Vmm*()> m_vmm;
    vmcrypt::VmSealing* m_sealing;
    // The last snapshot this VMM wrote (an incremental vm.snapshot's parent), of the VM whose
    // guest RAM memfd has inode `m_last_ram` (a VM deleted and created again, even at the same
    // address, has another); forgotten when a snapshot fails, since its dirty pages were taken.
    std::optional<snapshot::SnapshotLink> m_last;
    uint64_t m_last_ram { 0 };
};

// The Monarch extension of vm.snapshot's body: "incremental": true (absent: false).
[[nodiscard]] Result<bool> incremental_from_body(std::string_view body);

// "gpa=0x1000&length=4096" -> the range; absent both -> all RAM. Numbers are decimal or 0x hex.
[[nodiscard]] Result<std::optional<vmcrypt::ViewRange>> parse_view_query(std::string_view target);
// {"destination_url": "file:///..."} (or source_url) -> the path.
[[nodiscard]] Result<std::string> url_path_from_body(std::string_view body, char const* key);

} // namespace monarch::vmm::api
