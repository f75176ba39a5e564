// SPDX-License-Identifier: Apache-2.0
// One HTTP/1.1 GET over a Unix socket: how the virsh tests ask monarch-vmm itself for its
// state (GET /api/v1/vm.info on the socket libvirt created for it), to compare with virsh.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace monarch::test {

struct HttpAnswer {
    int status { 0 };
    std::string body;
};

// Empty when the socket cannot be reached or the answer is not HTTP.
[[nodiscard]] std::optional<HttpAnswer> http_get_unix(std::filesystem::path const& socket, std::string const& target);

// The "state" field of a vm.info answer's JSON ("Created", "Running", "Paused", "Shutdown"),
// or empty.
[[nodiscard]] std::string vm_info_state(std::filesystem::path const& socket);

} // namespace monarch::test
