// SPDX-License-Identifier: Apache-2.0
// async_vmm_call on one io_context: an answering server, a socket that listens but never
// answers (a hung VMM), a missing socket and an impossible path, all at once; each handler is
// called exactly once, and the silent socket delays none of the others.
#include "http/http_server.h"
#include "http/unix_listener.h"
#include "supervisor/vmm_async_call.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <optional>

using namespace monarch;
using namespace monarch::supervisor;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST_CASE("async_vmm_call answers, times out on silence and reports missing sockets, without waiting on the loop", "[unit][supervisor]")
{
    test::TempDir dir;
    boost::asio::io_context io;
    auto server = http::HttpServer::listen_path(io, dir.path + "/ok.sock", [](http::HttpRequest const& request) {
        bool const expected = request.method == "PUT" && request.path == "/api/v1/vm.shutdown" && request.body.empty();
        return http::HttpResponse::json(expected ? 200 : 400, R"({"done":true})");
    });
    REQUIRE(server);
    auto silent = http::bind_unix_listener(dir.path + "/silent.sock"); // listens, never accepts
    REQUIRE(silent);

    struct Outcome {
        std::optional<Result<http::ClientResponse>> result;
        int calls { 0 };
        double seconds { 0 };
    };
    Outcome ok, hung, missing, too_long;
    auto const began = Clock::now();
    auto record = [&](Outcome& outcome) {
        return [&outcome, began](Result<http::ClientResponse> result) {
            ++outcome.calls;
            outcome.seconds = std::chrono::duration<double>(Clock::now() - began).count();
            outcome.result = std::move(result);
        };
    };
    async_vmm_call(io, dir.path + "/silent.sock", http::Method::Put, "/api/v1/vm.shutdown", 800ms, record(hung));
    async_vmm_call(io, dir.path + "/ok.sock", http::Method::Put, "/api/v1/vm.shutdown", 10s, record(ok));
    async_vmm_call(io, dir.path + "/missing.sock", http::Method::Put, "/api/v1/vmm.shutdown", 10s, record(missing));
    async_vmm_call(io, "/" + std::string(200, 'x'), http::Method::Get, "/api/v1/vm.info", 10s, record(too_long));
    CHECK(ok.calls + hung.calls + missing.calls + too_long.calls == 0); // never from inside the call

    auto const deadline = Clock::now() + 20s;
    while ((!ok.calls || !hung.calls || !missing.calls || !too_long.calls) && Clock::now() < deadline)
        io.run_one_for(100ms);
    io.poll(); // a second call of any handler would come now

    REQUIRE(ok.calls == 1);
    REQUIRE(ok.result->has_value());
    CHECK((*ok.result)->status == 200);
    CHECK((*ok.result)->body == R"({"done":true})");
    CHECK(ok.seconds < hung.seconds); // the silent socket held nothing up

    REQUIRE(hung.calls == 1);
    REQUIRE_FALSE(hung.result->has_value());
    CHECK(hung.result->error().code == Errc::Timeout);
    CHECK(hung.seconds >= 0.75);

    REQUIRE(missing.calls == 1);
    REQUIRE_FALSE(missing.result->has_value());
    CHECK(missing.result->error().code == Errc::Sys);
    CHECK(missing.result->error().sys_errno == ENOENT);

    REQUIRE(too_long.calls == 1);
    REQUIRE_FALSE(too_long.result->has_value());
    CHECK(too_long.result->error().code == Errc::InvalidArgument);
}
