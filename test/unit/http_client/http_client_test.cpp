// SPDX-License-Identifier: Apache-2.0
// HttpClient against the real HttpServer (and raw sockets for misbehaving servers): requests,
// keep-alive, reopening a connection closed while idle, timeouts, refused and garbled answers.
#include "http/http_client.h"
#include "unit/http/server_fixture.h"

#include <catch2/catch.hpp>
#include <optional>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>

using namespace monarch;
using namespace monarch::http;
using namespace std::chrono_literals;

namespace {

// A listening socket that nobody serves, or that answers every connection with `reply`.
class RawServer {
public:
    explicit RawServer(std::string path, std::optional<std::string> reply = std::nullopt)
        : m_path(std::move(path))
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address {};
        address.sun_family = AF_UNIX;
        m_path.copy(address.sun_path, sizeof(address.sun_path) - 1);
        // SAFETY: sockaddr_un is AF_UNIX's sockaddr.
        REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr const*>(&address), sizeof(address)) == 0);
        REQUIRE(::listen(m_fd, 4) == 0);
        if (reply) {
            m_thread = std::thread([this, text = *reply] {
                int const client = ::accept(m_fd, nullptr, nullptr);
                if (client < 0)
                    return;
                char buffer[4096];
                (void)::read(client, buffer, sizeof(buffer));
                (void)::write(client, text.data(), text.size());
                ::close(client);
            });
        }
    }
    ~RawServer()
    {
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        if (m_thread.joinable())
            m_thread.join();
    }

private:
    std::string m_path;
    int m_fd { -1 };
    std::thread m_thread;
};

} // namespace

TEST_CASE("requests go through one kept-alive connection", "[unit][http_client]")
{
    test::ServerFixture server;
    REQUIRE(server.listening());
    auto client = HttpClient::connect(server.path(), 5s);
    REQUIRE(client);
    auto first = client->request(Method::Get, "/api/v1/vmm.ping");
    REQUIRE(first);
    CHECK(first->status == 200);
    CHECK(first->ok());
    CHECK(first->content_type == "application/json");
    CHECK(first->body == "{\"seen\":1}");
    auto second = client->request(Method::Put, "/api/v1/vm.create", "{\"a\":1}");
    REQUIRE(second);
    CHECK(second->body == "{\"seen\":2}");
    auto third = client->request(Method::Put, "/api/v1/vm.boot"); // body-less PUT
    REQUIRE(third);
    auto const requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[0].method == "GET");
    CHECK(requests[1].method == "PUT");
    CHECK(requests[1].body == "{\"a\":1}");
    CHECK(requests[1].content_type == "application/json");
    CHECK(requests[2].path == "/api/v1/vm.boot");
    CHECK(requests[2].body.empty());
    CHECK(server.connection_count() == 1);
}

TEST_CASE("a connection the server closed while idle is reopened once", "[unit][http_client]")
{
    HttpServerLimits limits;
    limits.idle_timeout = 100ms;
    test::ServerFixture server(limits);
    auto client = HttpClient::connect(server.path(), 5s);
    REQUIRE(client);
    REQUIRE(client->request(Method::Get, "/x"));
    std::this_thread::sleep_for(500ms); // the server closes the idle connection meanwhile
    auto again = client->request(Method::Get, "/y");
    REQUIRE(again);
    CHECK(again->body == "{\"seen\":2}"); // sent once, not twice
}

TEST_CASE("a server that never answers times out within the timeout", "[unit][http_client]")
{
    auto const dir = test::make_temp_dir();
    RawServer silent(dir + "/silent.sock");
    auto client = HttpClient::connect(dir + "/silent.sock", 300ms); // the backlog accepts
    REQUIRE(client);
    auto const begin = std::chrono::steady_clock::now();
    auto answer = client->request(Method::Get, "/api/v1/vmm.ping");
    auto const elapsed = std::chrono::steady_clock::now() - begin;
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == Errc::Timeout);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 5s);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a missing socket is refused at connect with the errno", "[unit][http_client]")
{
    auto const dir = test::make_temp_dir();
    auto client = HttpClient::connect(dir + "/none.sock", 1s);
    REQUIRE_FALSE(client);
    CHECK(client.error().code == Errc::Sys);
    CHECK(client.error().sys_errno == ENOENT);
    CHECK_FALSE(HttpClient::connect(std::string(200, 'x'), 1s));
    std::filesystem::remove_all(dir);
}

TEST_CASE("an answer that is not HTTP is an error and not a crash", "[unit][http_client]")
{
    auto const dir = test::make_temp_dir();
    RawServer garbage(dir + "/garbage.sock", std::string("SSH-2.0-OpenSSH\r\n\r\n"));
    auto client = HttpClient::connect(dir + "/garbage.sock", 2s);
    REQUIRE(client);
    auto answer = client->request(Method::Get, "/");
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == Errc::Corrupt);
    std::filesystem::remove_all(dir);
}

TEST_CASE("an error status is an answer with the server's body", "[unit][http_client]")
{
    test::ServerFixture server({}, [](HttpRequest const&) { return HttpResponse::error(409, "busy"); });
    auto client = HttpClient::connect(server.path(), 2s);
    REQUIRE(client);
    auto answer = client->request(Method::Put, "/api/v1/vm.pause");
    REQUIRE(answer);
    CHECK(answer->status == 409);
    CHECK_FALSE(answer->ok());
    CHECK(answer->body.find("busy") != std::string::npos);
}
