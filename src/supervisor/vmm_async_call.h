// SPDX-License-Identifier: Apache-2.0
// async_vmm_call: one request to a VMM's API socket as an asynchronous operation on monarchd's
// event loop, on a connection of its own with a deadline that closes it. The ordered stop uses
// it, so that a VMM that does not answer holds up no other request and no other VM.
#pragma once

#include "common/result.h"
#include "http/http_client.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace monarch::supervisor {

using VmmCallHandler = std::function<void(Result<http::ClientResponse>)>;

// Connects to `socket_path`, sends `method target` with an empty body and calls `done` exactly
// once, later, on the io_context's thread: with the answer (any status), or an error: Timeout
// when no whole answer came within `timeout`, Sys when the socket could not be reached or
// closed early, Corrupt when the answer is not HTTP or too large.
void async_vmm_call(boost::asio::io_context&, std::string const& socket_path, http::Method, std::string target,
    std::chrono::milliseconds timeout, VmmCallHandler done);

} // namespace monarch::supervisor
