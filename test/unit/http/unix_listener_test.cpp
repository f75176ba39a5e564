// SPDX-License-Identifier: Apache-2.0
// The listening socket: stale socket files are replaced, live ones and other files are not,
// an adopted fd must be a listening Unix stream socket, and --api-socket specs parse.
#include "http/unix_listener.h"
#include "raw_unix_client.h"
#include "server_fixture.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sys/socket.h>
#include <sys/un.h>

using namespace monarch;
using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

http::HttpResponse ok(http::HttpRequest const&) { return http::HttpResponse::json(200, "{}"); }

int make_socket(std::string const& path, bool do_listen)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    // SAFETY: a complete sockaddr_un and its size.
    if (::bind(fd, reinterpret_cast<sockaddr const*>(&address), sizeof(address)) != 0)
        return -1;
    if (do_listen && ::listen(fd, 4) != 0)
        return -1;
    return fd;
}

} // namespace

TEST_CASE("http listener: a stale socket file is replaced, a live one is Busy", "[unit][http]")
{
    auto const dir = make_temp_dir();
    auto const path = dir + "/api.sock";
    int stale = make_socket(path, true);
    REQUIRE(stale >= 0);
    ::close(stale); // the file stays, nobody listens
    boost::asio::io_context context;
    auto server = http::HttpServer::listen_path(context, path, ok);
    REQUIRE(server.has_value());

    auto second = http::HttpServer::listen_path(context, path, ok);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code == Errc::Busy);
    CHECK(std::filesystem::exists(path)); // the live socket was not removed

    (*server)->close();
    CHECK_FALSE(std::filesystem::exists(path));
    std::filesystem::remove_all(dir);
}

TEST_CASE("http listener: a file that is not a socket is never replaced", "[unit][http]")
{
    auto const dir = make_temp_dir();
    auto const path = dir + "/not-a-socket";
    std::ofstream(path) << "precious";
    boost::asio::io_context context;
    auto server = http::HttpServer::listen_path(context, path, ok);
    REQUIRE_FALSE(server.has_value());
    CHECK(server.error().code == Errc::Busy);
    CHECK(std::filesystem::file_size(path) == 8);

    auto too_long = http::HttpServer::listen_path(context, dir + "/" + std::string(120, 'a'), ok);
    REQUIRE_FALSE(too_long.has_value());
    CHECK(too_long.error().code == Errc::InvalidArgument);
    std::filesystem::remove_all(dir);
}

TEST_CASE("http listener: an adopted listening fd serves requests", "[unit][http]")
{
    auto const dir = make_temp_dir();
    auto const path = dir + "/libvirt.sock";
    int fd = make_socket(path, true);
    REQUIRE(fd >= 0);
    boost::asio::io_context context;
    auto server = http::HttpServer::create(context, "fd=" + std::to_string(fd), ok);
    REQUIRE(server.has_value());
    CHECK((*server)->path().empty());
    std::thread runner([&] { context.run_for(2s); });
    RawUnixClient client(path);
    REQUIRE(client.send(make_request("GET", "/api/v1/vmm.ping")));
    auto response = client.read_response(1s);
    context.stop();
    runner.join();
    REQUIRE(response);
    CHECK(status_of(*response) == 200);
    server->reset();
    CHECK(std::filesystem::exists(path)); // not ours to remove
    std::filesystem::remove_all(dir);
}

TEST_CASE("http listener: an fd that is not a listening Unix stream socket is refused", "[unit][http]")
{
    auto const dir = make_temp_dir();
    boost::asio::io_context context;
    int unlistened = make_socket(dir + "/quiet.sock", false);
    REQUIRE(unlistened >= 0);
    auto not_listening = http::HttpServer::adopt_fd(context, unlistened, ok);
    REQUIRE_FALSE(not_listening.has_value());
    CHECK(not_listening.error().code == Errc::InvalidArgument);

    int inet = ::socket(AF_INET, SOCK_STREAM, 0);
    auto wrong_family = http::HttpServer::adopt_fd(context, inet, ok);
    REQUIRE_FALSE(wrong_family.has_value());
    CHECK(wrong_family.error().code == Errc::InvalidArgument);

    auto closed = http::HttpServer::adopt_fd(context, 987, ok);
    REQUIRE_FALSE(closed.has_value());
    CHECK(closed.error().code == Errc::Sys);
    std::filesystem::remove_all(dir);
}

TEST_CASE("http listener: --api-socket specs", "[unit][http]")
{
    auto plain = http::parse_socket_spec("/run/vm.sock");
    REQUIRE(plain);
    CHECK(plain->path == "/run/vm.sock");
    CHECK(plain->fd == -1);
    auto keyed = http::parse_socket_spec("path=/run/vm.sock");
    REQUIRE(keyed);
    CHECK(keyed->path == "/run/vm.sock");
    auto fd = http::parse_socket_spec("fd=7");
    REQUIRE(fd);
    CHECK(fd->fd == 7);
    CHECK(fd->path.empty());
    for (auto bad : { "", "fd=", "fd=-1", "fd=3x", "fd=99999999999", "path=", "path=/a,fd=3" })
        CHECK_FALSE(http::parse_socket_spec(bad).has_value());
}
