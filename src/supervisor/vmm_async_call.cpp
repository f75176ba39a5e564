// SPDX-License-Identifier: Apache-2.0
// async_vmm_call over Boost.Beast: connect, write, read, each step's handler holding the call's
// state; the deadline timer closes the socket, which ends whichever step is pending.
#include "supervisor/vmm_async_call.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <memory>

namespace monarch::supervisor {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

bhttp::verb to_verb(http::Method method)
{
    switch (method) {
    case http::Method::Get: return bhttp::verb::get;
    case http::Method::Put: return bhttp::verb::put;
    case http::Method::Post: return bhttp::verb::post;
    case http::Method::Delete: return bhttp::verb::delete_;
    }
    return bhttp::verb::get;
}

struct Call : std::enable_shared_from_this<Call> {
    explicit Call(asio::io_context& io)
        : socket(io)
        , timer(io)
    {
    }

    asio::local::stream_protocol::socket socket;
    asio::steady_timer timer;
    bhttp::request<bhttp::string_body> request;
    boost::beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    VmmCallHandler done;
    bool timed_out { false };

    void finish(Result<http::ClientResponse> result)
    {
        if (!done)
            return;
        timer.cancel();
        error_code ignored;
        socket.close(ignored);
        auto handler = std::move(done);
        done = nullptr;
        handler(std::move(result));
    }

    // A failed step: the deadline's doing, the peer's closing, a malformed answer, or errno.
    void fail_step(error_code error, std::string_view context)
    {
        if (timed_out)
            return finish(fail(Errc::Timeout, "vmm call: no answer within the timeout"));
        if (error.category() == boost::system::system_category())
            return finish(Failure(Error::from_errno(error.value(), context)));
        if (error == bhttp::error::end_of_stream || error == asio::error::eof)
            return finish(Failure(Error::from_errno(ECONNRESET, "vmm call: the VMM closed the connection")));
        if (error == bhttp::error::body_limit || error == bhttp::error::header_limit)
            return finish(fail(Errc::Corrupt, "vmm call: the answer is larger than the limit"));
        finish(fail(Errc::Corrupt, "vmm call: the answer is not HTTP/1.1"));
    }

    void start(std::string const& path, std::chrono::milliseconds timeout)
    {
        timer.expires_after(timeout);
        timer.async_wait([self = shared_from_this()](error_code error) {
            if (error)
                return;
            self->timed_out = true;
            error_code ignored;
            self->socket.close(ignored);
        });
        socket.async_connect(asio::local::stream_protocol::endpoint(path), [self = shared_from_this()](error_code error) {
            if (error)
                return self->fail_step(error, "vmm call: connecting to the API socket");
            self->write();
        });
    }

    void write()
    {
        bhttp::async_write(socket, request, [self = shared_from_this()](error_code error, size_t) {
            if (error)
                return self->fail_step(error, "vmm call: sending the request");
            self->read();
        });
    }

    void read()
    {
        parser.body_limit(http::HttpClient::MAX_RESPONSE_BODY);
        bhttp::async_read(socket, buffer, parser, [self = shared_from_this()](error_code error, size_t) {
            if (error)
                return self->fail_step(error, "vmm call: reading the answer");
            auto message = self->parser.release();
            http::ClientResponse response;
            response.status = message.result_int();
            response.content_type = std::string(message[bhttp::field::content_type]);
            response.body = std::move(message.body());
            self->finish(std::move(response));
        });
    }
};

} // namespace

void async_vmm_call(asio::io_context& io, std::string const& socket_path, http::Method method, std::string target,
    std::chrono::milliseconds timeout, VmmCallHandler done)
{
    auto call = std::make_shared<Call>(io);
    call->done = std::move(done);
    // sun_path holds 107 characters and a NUL; Asio's endpoint would throw on a longer path.
    if (socket_path.empty() || socket_path.size() > 107) {
        asio::post(io, [call] { call->finish(fail(Errc::InvalidArgument, "vmm call: socket path empty or longer than 107 bytes")); });
        return;
    }
    call->request.method(to_verb(method));
    call->request.target(target);
    call->request.version(11);
    call->request.set(bhttp::field::host, "localhost");
    call->request.set(bhttp::field::accept, "application/json");
    call->request.keep_alive(false);
    call->request.content_length(0); // Content-Length: 0 on a body-less PUT, as CH's clients send
    call->start(socket_path, timeout);
}

} // namespace monarch::supervisor
