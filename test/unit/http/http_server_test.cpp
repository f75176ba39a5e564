// SPDX-License-Identifier: Apache-2.0
// HttpServer over a real Unix socket, driven with hand-written bytes: keep-alive, chunked
// bodies with Expect: 100-continue (libvirt's curl), malformed and oversized requests, slow
// clients, peer credentials, and the hook that runs after a response is sent.
#include "raw_unix_client.h"
#include "server_fixture.h"

#include <catch2/catch.hpp>
#include <unistd.h>

using namespace monarch;
using namespace monarch::test;
using namespace std::chrono_literals;

TEST_CASE("http: several requests on one keep-alive connection", "[unit][http]")
{
    ServerFixture server;
    REQUIRE(server.listening());
    RawUnixClient client(server.path());
    REQUIRE(client.connected());
    REQUIRE(client.send(make_request("GET", "/api/v1/vmm.ping")));
    REQUIRE(client.send(make_request("PUT", "/api/v1/vm.create?x=1", R"({"a":1})")));
    auto first = client.read_response(2s);
    auto second = client.read_response(2s);
    REQUIRE(client.send(make_request("GET", "/third")));
    auto third = client.read_response(2s);
    REQUIRE(first);
    REQUIRE(second);
    REQUIRE(third);
    CHECK(status_of(*first) == 200);
    CHECK(body_of(*third) == R"({"seen":3})");
    auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[0].method == "GET");
    CHECK(requests[1].method == "PUT");
    CHECK(requests[1].target == "/api/v1/vm.create?x=1");
    CHECK(requests[1].path == "/api/v1/vm.create");
    CHECK(requests[1].body == R"({"a":1})");
    CHECK(requests[1].content_type == "application/json");
    CHECK(server.connection_count() == 1);
}

TEST_CASE("http: a body-less chunked PUT with Expect: 100-continue is answered at once", "[unit][http]")
{
    ServerFixture server;
    RawUnixClient client(server.path());
    REQUIRE(client.connected());
    auto const start = std::chrono::steady_clock::now();
    // What libvirt 9.0's curl sends for vm.boot: no body, chunked, and it waits for 100.
    REQUIRE(client.send("PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
                        "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"));
    auto interim = client.read_until("\r\n\r\n", 500ms);
    REQUIRE(interim);
    CHECK(status_of(*interim) == 100);
    REQUIRE(client.send("0\r\n\r\n"));
    auto response = client.read_response(500ms);
    REQUIRE(response);
    CHECK(status_of(*response) == 200);
    CHECK(std::chrono::steady_clock::now() - start < 500ms);
    auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].body.empty());
}

TEST_CASE("http: a chunked body is de-chunked, and Expect is not answered when the body came with it",
          "[unit][http]")
{
    ServerFixture server;
    RawUnixClient client(server.path());
    REQUIRE(client.send("PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                        "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"));
    auto response = client.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 200);
    auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].body == R"({"a":1})");
}

TEST_CASE("http: a malformed request is answered 400 and the connection closed", "[unit][http]")
{
    ServerFixture server;
    RawUnixClient client(server.path());
    REQUIRE(client.send("THIS IS NOT HTTP\r\n\r\n"));
    auto response = client.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 400);
    CHECK(body_of(*response).find("\"error\"") != std::string::npos);
    CHECK(client.wait_closed(1s));
    CHECK(server.requests().empty());

    RawUnixClient bad_chunk(server.path());
    REQUIRE(bad_chunk.send("PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    auto chunk_response = bad_chunk.read_response(1s);
    REQUIRE(chunk_response);
    CHECK(status_of(*chunk_response) == 400);
}

TEST_CASE("http: a body over the limit is answered 413 without being read", "[unit][http]")
{
    http::HttpServerLimits limits;
    limits.max_body = 1024;
    ServerFixture server(limits);
    RawUnixClient declared(server.path());
    REQUIRE(declared.send("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"));
    auto response = declared.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 413);

    RawUnixClient chunked(server.path());
    std::string const chunk(1500, 'x');
    REQUIRE(chunked.send("PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto chunked_response = chunked.read_response(1s);
    REQUIRE(chunked_response);
    CHECK(status_of(*chunked_response) == 413);

    RawUnixClient fits(server.path());
    REQUIRE(fits.send(make_request("PUT", "/x", std::string(1024, 'y'))));
    auto fits_response = fits.read_response(1s);
    REQUIRE(fits_response);
    CHECK(status_of(*fits_response) == 200);
    CHECK(server.requests().size() == 1);
}

TEST_CASE("http: a client stuck in half a request neither blocks others nor stays forever", "[unit][http]")
{
    http::HttpServerLimits limits;
    limits.request_timeout = 300ms;
    ServerFixture server(limits);
    RawUnixClient slow(server.path());
    REQUIRE(slow.send("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"));
    RawUnixClient half_header(server.path());
    REQUIRE(half_header.send("GET /y HTTP/1.1\r\nHo"));

    RawUnixClient quick(server.path());
    auto const start = std::chrono::steady_clock::now();
    REQUIRE(quick.send(make_request("GET", "/z")));
    auto response = quick.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 200);
    CHECK(std::chrono::steady_clock::now() - start < 250ms);

    CHECK(slow.wait_closed(2s));
    CHECK(half_header.wait_closed(2s));
    // The idle keep-alive connection is kept (idle_timeout 0), the slow ones are gone (a
    // session is freed when its aborted read completes, just after the close).
    for (int i = 0; i < 100 && server.connection_count() != 1; ++i)
        std::this_thread::sleep_for(5ms);
    CHECK(server.connection_count() == 1);
    REQUIRE(quick.send(make_request("GET", "/again")));
    CHECK(quick.read_response(1s).has_value());
}

TEST_CASE("http: the handler sees the peer's SO_PEERCRED credentials", "[unit][http]")
{
    ServerFixture server;
    RawUnixClient client(server.path());
    REQUIRE(client.send(make_request("GET", "/who")));
    REQUIRE(client.read_response(1s));
    auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].peer.pid == ::getpid());
    CHECK(requests[0].peer.uid == ::getuid());
    CHECK(requests[0].peer.gid == ::getgid());
}

TEST_CASE("http: HTTP/1.0 and Connection: close end the connection after the response", "[unit][http]")
{
    ServerFixture server;
    RawUnixClient old(server.path());
    REQUIRE(old.send("GET /a HTTP/1.0\r\n\r\n"));
    auto response = old.read_response(1s);
    REQUIRE(response);
    CHECK(response->starts_with("HTTP/1.0 200"));
    CHECK(old.wait_closed(1s));

    RawUnixClient closing(server.path());
    REQUIRE(closing.send("GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    REQUIRE(closing.read_response(1s));
    CHECK(closing.wait_closed(1s));
}

TEST_CASE("http: after_send runs once the response is written", "[unit][http]")
{
    std::atomic<int> after_count { 0 };
    http::HttpHandler handler = [&](http::HttpRequest const&) {
        auto response = http::HttpResponse::no_content();
        response.after_send = [&] { ++after_count; };
        return response;
    };
    ServerFixture server({}, handler);
    RawUnixClient client(server.path());
    REQUIRE(client.send(make_request("PUT", "/api/v1/vmm.shutdown")));
    auto response = client.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 204);
    for (int i = 0; i < 100 && after_count == 0; ++i)
        std::this_thread::sleep_for(5ms);
    CHECK(after_count == 1);
}

TEST_CASE("http: error bodies are JSON objects naming the error", "[unit][http]")
{
    auto response = http::HttpResponse::error(404, "no such endpoint \"x\"");
    CHECK(response.status == 404);
    CHECK(response.body == R"({"error":"no such endpoint \"x\""})");
    CHECK(response.content_type == "application/json");
    auto invalid = http::HttpResponse::error(400, std::string("bad \xff byte"));
    CHECK(invalid.body.find("bad ") != std::string::npos);
}

TEST_CASE("http: a header over the limit is answered 431", "[unit][http]")
{
    http::HttpServerLimits limits;
    limits.max_header = 1024;
    ServerFixture server(limits);
    RawUnixClient client(server.path());
    REQUIRE(client.send("GET /x HTTP/1.1\r\nHost: h\r\nX-Padding: " + std::string(4096, 'p') + "\r\n\r\n"));
    auto response = client.read_response(1s);
    REQUIRE(response);
    CHECK(status_of(*response) == 431);
    CHECK(server.requests().empty());
}

TEST_CASE("http: connections beyond the limit are closed at once and the others served", "[unit][http]")
{
    http::HttpServerLimits limits;
    limits.max_connections = 2;
    ServerFixture server(limits);
    RawUnixClient first(server.path());
    RawUnixClient second(server.path());
    REQUIRE(first.send(make_request("GET", "/1")));
    REQUIRE(second.send(make_request("GET", "/2")));
    REQUIRE(first.read_response(1s));
    REQUIRE(second.read_response(1s));
    RawUnixClient third(server.path());
    CHECK(third.wait_closed(1s));
    REQUIRE(first.send(make_request("GET", "/again")));
    CHECK(first.read_response(1s).has_value());
}

TEST_CASE("http: an idle timeout, when set, closes a silent connection", "[unit][http]")
{
    http::HttpServerLimits limits;
    limits.idle_timeout = 200ms;
    ServerFixture server(limits);
    RawUnixClient silent(server.path());
    REQUIRE(silent.connected());
    auto const start = std::chrono::steady_clock::now();
    CHECK(silent.wait_closed(2s));
    CHECK(std::chrono::steady_clock::now() - start >= 150ms);
}
