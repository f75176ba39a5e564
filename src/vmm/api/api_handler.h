// SPDX-License-Identifier: Apache-2.0
// ApiHandler: the routes of monarch-vmm's REST API (Cloud Hypervisor's /api/v1/vmm.* and
// /api/v1/vm.*), from an HttpRequest to VmController calls and back to an HttpResponse.
#pragma once

#include "http/http_server.h"
#include "vmm/api/vm_controller.h"

#include <functional>

namespace monarch::vmm::api {

class ApiHandler {
public:
    // on_vmm_shutdown runs after the vmm.shutdown response has been written.
    ApiHandler(VmController& controller, std::function<void()> on_vmm_shutdown)
        : m_controller(controller)
        , m_on_vmm_shutdown(std::move(on_vmm_shutdown))
    {
    }

    [[nodiscard]] http::HttpResponse handle(http::HttpRequest const&);

private:
    [[nodiscard]] http::HttpResponse ping() const;
    [[nodiscard]] http::HttpResponse vmm_shutdown();
    [[nodiscard]] http::HttpResponse create(http::HttpRequest const&);
    [[nodiscard]] http::HttpResponse restore(http::HttpRequest const&);
    [[nodiscard]] http::HttpResponse info() const;
    [[nodiscard]] http::HttpResponse counters() const;

    VmController& m_controller;
    std::function<void()> m_on_vmm_shutdown;
};

} // namespace monarch::vmm::api
