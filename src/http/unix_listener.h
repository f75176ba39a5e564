// SPDX-License-Identifier: Apache-2.0
// The listening Unix socket behind an HttpServer: bound to a path (replacing only a stale
// socket file) or adopted from a descriptor that another process (libvirt) created.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <string>
#include <sys/types.h>

namespace monarch::http {

struct BoundListener {
    UniqueFd fd;
    dev_t device { 0 }; // identify the socket file we created, so that only it is removed
    ino_t inode { 0 };
};

// socket + bind + listen on `path`. A socket file nobody accepts on (ECONNREFUSED) is stale
// and replaced; one with a listener is Errc::Busy; a file of another type is refused.
[[nodiscard]] Result<BoundListener> bind_unix_listener(std::string const& path);

// Checks that `fd` is a listening AF_UNIX stream socket and marks it close-on-exec.
[[nodiscard]] Result<void> check_unix_listener(int fd);

// Removes `path` if it is still the socket file described by `bound`.
void remove_socket_file(std::string const& path, dev_t device, ino_t inode);

} // namespace monarch::http
