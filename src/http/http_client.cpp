// SPDX-License-Identifier: Apache-2.0
// HttpClient over Boost.Beast: every operation is asynchronous on a private io_context that
// is run until the operation completes or its deadline passes (Beast's synchronous calls have
// no timeout); on a timeout the socket is closed, which aborts the operation.
#include "http/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <exception>

namespace monarch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

struct HttpClient::Connection {
    asio::io_context io;
    asio::local::stream_protocol::socket socket { io };
    beast::flat_buffer buffer;
    bool used { false }; // a request went through it: the server may have closed it while idle
};

namespace {

// Runs the io_context until `done` or the deadline. A timed-out operation is aborted by closing
// the socket and draining its handler, so that no handler outlives this call.
[[nodiscard]] bool run_until_done(HttpClient::Connection& connection, Clock::time_point deadline, bool const& done)
{
    connection.io.restart();
    while (!done && Clock::now() < deadline && !connection.io.stopped())
        connection.io.run_one_until(deadline);
    if (done)
        return true;
    error_code ignored;
    connection.socket.close(ignored);
    connection.io.restart();
    connection.io.run();
    return false;
}

bhttp::verb to_verb(Method method)
{
    switch (method) {
    case Method::Get: return bhttp::verb::get;
    case Method::Put: return bhttp::verb::put;
    case Method::Post: return bhttp::verb::post;
    case Method::Delete: return bhttp::verb::delete_;
    }
    return bhttp::verb::get;
}

// What one attempt came to: an answer, or an error saying whether the request may be resent.
struct Attempt {
    Result<ClientResponse> result;
    bool retryable { false };
};

Attempt attempt_once(HttpClient::Connection& connection, bhttp::request<bhttp::string_body> const& request,
    Clock::time_point deadline)
{
    bool done = false;
    error_code write_error;
    bhttp::async_write(connection.socket, request, [&](error_code ec, size_t) {
        write_error = ec;
        done = true;
    });
    if (!run_until_done(connection, deadline, done))
        return { fail(Errc::Timeout, "http client: sending the request timed out") };
    bool const reused = connection.used;
    if (write_error) {
        // EPIPE/ECONNRESET on a kept connection: the server closed it while it was idle.
        return { Failure(Error::from_errno(write_error.value(), "http client: sending the request")), reused };
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(HttpClient::MAX_RESPONSE_BODY);
    done = false;
    error_code read_error;
    bhttp::async_read(connection.socket, connection.buffer, parser, [&](error_code ec, size_t) {
        read_error = ec;
        done = true;
    });
    if (!run_until_done(connection, deadline, done))
        return { fail(Errc::Timeout, "http client: no answer within the timeout") };
    if (read_error) {
        bool const nothing_read = !parser.got_some() && connection.buffer.size() == 0;
        bool const closed = read_error == bhttp::error::end_of_stream || read_error == asio::error::eof
            || read_error == asio::error::connection_reset;
        if (closed)
            return { fail(Errc::Sys, "http client: the server closed the connection"), reused && nothing_read };
        if (read_error == bhttp::error::body_limit || read_error == bhttp::error::header_limit)
            return { fail(Errc::Corrupt, "http client: the answer is larger than the limit") };
        if (read_error.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category())
            return { fail(Errc::Corrupt, "http client: the answer is not HTTP/1.1") };
        return { Failure(Error::from_errno(read_error.value(), "http client: reading the answer")) };
    }
    connection.used = true;
    auto message = parser.release();
    ClientResponse response;
    response.status = message.result_int();
    response.content_type = std::string(message[bhttp::field::content_type]);
    response.body = std::move(message.body());
    if (!message.keep_alive()) {
        error_code ignored;
        connection.socket.close(ignored);
    }
    return { std::move(response) };
}

} // namespace

HttpClient::HttpClient(std::string socket_path, std::chrono::milliseconds timeout)
    : m_socket_path(std::move(socket_path))
    , m_timeout(timeout)
{
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::connect(std::string socket_path, std::chrono::milliseconds timeout)
{
    HttpClient client(std::move(socket_path), timeout);
    TRY_VOID(client.open());
    return client;
}

Result<void> HttpClient::open()
{
    try {
        m_connection = std::make_unique<Connection>();
        // sun_path holds 107 characters and a NUL; Asio would throw on a longer path.
        if (m_socket_path.empty() || m_socket_path.size() > 107)
            return fail(Errc::InvalidArgument, "http client: socket path empty or longer than 107 bytes");
        bool done = false;
        error_code connect_error;
        m_connection->socket.async_connect(asio::local::stream_protocol::endpoint(m_socket_path), [&](error_code ec) {
            connect_error = ec;
            done = true;
        });
        if (!run_until_done(*m_connection, Clock::now() + m_timeout, done)) {
            m_connection.reset();
            return fail(Errc::Timeout, "http client: connecting timed out");
        }
        if (connect_error) {
            m_connection.reset();
            return Failure(Error::from_errno(connect_error.value(), "http client: connecting to the socket"));
        }
        return {};
    } catch (std::exception const&) {
        m_connection.reset();
        return fail(Errc::Sys, "http client: connecting failed");
    }
}

Result<ClientResponse> HttpClient::request(Method method, std::string_view target, std::string_view body,
    std::string_view content_type)
{
    try {
        bhttp::request<bhttp::string_body> request { to_verb(method), std::string(target), 11 };
        request.set(bhttp::field::host, "localhost");
        request.set(bhttp::field::accept, "application/json");
        request.keep_alive(true);
        if (!body.empty())
            request.set(bhttp::field::content_type, std::string(content_type));
        request.body() = std::string(body);
        // Content-Length always (also 0 on a body-less PUT): no chunked body, no Expect.
        request.content_length(body.size());

        auto const deadline = Clock::now() + m_timeout;
        for (int round = 0; round < 2; ++round) {
            if (!m_connection || !m_connection->socket.is_open())
                TRY_VOID(open());
            auto attempt = attempt_once(*m_connection, request, deadline);
            if (attempt.result)
                return std::move(attempt.result);
            m_connection.reset();
            if (!attempt.retryable)
                return std::move(attempt.result);
        }
        return fail(Errc::Sys, "http client: the server closed the connection");
    } catch (std::exception const&) {
        m_connection.reset();
        return fail(Errc::Sys, "http client: request failed");
    }
}

} // namespace monarch::http
