// SPDX-License-Identifier: Apache-2.0
// HttpServer's asynchronous handlers: answered later from another thread, a client that goes
// away before the answer, a responder dropped unanswered, and a server closed meanwhile.
#include "../http/raw_unix_client.h"
#include "http/http_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

using namespace monarch;
using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

// A server whose handler queues each request's responder; the test answers from its own thread.
class AsyncFixture {
public:
    AsyncFixture()
        : m_work(boost::asio::make_work_guard(m_context))
    {
        char pattern[] = "/tmp/monarch-http-async-XXXXXX";
        m_dir = ::mkdtemp(pattern) ? pattern : "";
        auto server = http::HttpServer::listen_path(m_context, m_dir + "/api.sock",
            http::AsyncHttpHandler([this](http::HttpRequest const& request, http::HttpResponder respond) {
                std::lock_guard lock(m_mutex);
                m_waiting.emplace_back(request.path, std::move(respond));
                m_arrived.notify_all();
            }));
        if (server)
            m_server = std::move(*server);
        m_thread = std::thread([this] { m_context.run(); });
    }
    ~AsyncFixture()
    {
        close_server();
        m_waiting.clear();
        m_work.reset();
        m_context.stop();
        m_thread.join();
        std::filesystem::remove_all(m_dir);
    }
    void close_server()
    {
        std::promise<void> done;
        boost::asio::post(m_context, [&] { m_server.reset(); done.set_value(); });
        done.get_future().wait();
    }
    std::string path() const { return m_dir + "/api.sock"; }
    bool listening() const { return m_server != nullptr; }
    // The next request's path and responder, once it arrived.
    std::optional<std::pair<std::string, http::HttpResponder>> next(std::chrono::milliseconds timeout)
    {
        std::unique_lock lock(m_mutex);
        if (!m_arrived.wait_for(lock, timeout, [&] { return !m_waiting.empty(); }))
            return std::nullopt;
        auto front = std::move(m_waiting.front());
        m_waiting.pop_front();
        return front;
    }

private:
    std::string m_dir;
    boost::asio::io_context m_context;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work;
    std::unique_ptr<http::HttpServer> m_server;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_arrived;
    std::deque<std::pair<std::string, http::HttpResponder>> m_waiting;
};

} // namespace

TEST_CASE("http async: a request is answered later from another thread, and the connection stays usable", "[unit][http]")
{
    AsyncFixture server;
    REQUIRE(server.listening());
    RawUnixClient client(server.path());
    REQUIRE(client.connected());
    REQUIRE(client.send(make_request("GET", "/slow")));
    auto waiting = server.next(2s);
    REQUIRE(waiting);
    CHECK(waiting->first == "/slow");
    // Nothing is answered before the handler's answer; the request timer (10 s) is off, so
    // waiting past nothing here is only to show that no answer came by itself.
    CHECK_FALSE(client.read_response(200ms));
    std::thread worker([responder = waiting->second] { responder(http::HttpResponse::json(200, R"({"late":true})")); });
    worker.join();
    auto response = client.read_response(2s);
    REQUIRE(response);
    CHECK(status_of(*response) == 200);
    CHECK(body_of(*response) == R"({"late":true})");
    // A second answer through a copy is ignored; the next request works on the same connection.
    waiting->second(http::HttpResponse::json(500, "{}"));
    REQUIRE(client.send(make_request("GET", "/second")));
    auto second = server.next(2s);
    REQUIRE(second);
    second->second(http::HttpResponse::no_content());
    auto second_response = client.read_response(2s);
    REQUIRE(second_response);
    CHECK(status_of(*second_response) == 204);
}

TEST_CASE("http async: a client that disconnects before the answer does not disturb the server", "[unit][http]")
{
    AsyncFixture server;
    std::optional<std::pair<std::string, http::HttpResponder>> waiting;
    {
        RawUnixClient client(server.path());
        REQUIRE(client.connected());
        REQUIRE(client.send(make_request("GET", "/gone")));
        waiting = server.next(2s);
        REQUIRE(waiting);
    } // the client closes its socket here
    std::thread worker([responder = waiting->second] { responder(http::HttpResponse::json(200, "{}")); });
    worker.join();
    waiting.reset();
    RawUnixClient other(server.path());
    REQUIRE(other.connected());
    REQUIRE(other.send(make_request("GET", "/next")));
    auto next = server.next(2s);
    REQUIRE(next);
    CHECK(next->first == "/next");
    next->second(http::HttpResponse::json(200, R"({"ok":1})"));
    auto response = other.read_response(2s);
    REQUIRE(response);
    CHECK(body_of(*response) == R"({"ok":1})");
}

TEST_CASE("http async: a responder dropped unanswered answers 500, an answer after close is dropped", "[unit][http]")
{
    AsyncFixture server;
    RawUnixClient client(server.path());
    REQUIRE(client.send(make_request("GET", "/dropped")));
    {
        auto waiting = server.next(2s);
        REQUIRE(waiting);
    } // the only responder goes away unanswered
    auto response = client.read_response(2s);
    REQUIRE(response);
    CHECK(status_of(*response) == 500);

    REQUIRE(client.send(make_request("GET", "/after-close")));
    auto late = server.next(2s);
    REQUIRE(late);
    server.close_server();
    CHECK(client.wait_closed(2s));
    std::thread worker([responder = late->second] { responder(http::HttpResponse::json(200, "{}")); });
    worker.join();
}
