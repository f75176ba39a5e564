// SPDX-License-Identifier: Apache-2.0
// One HTTP/1.1 connection: keep-alive, Expect: 100-continue, chunked bodies (Beast's
// parser de-chunks), a body limit (413), a header limit (431), malformed input (400) and a
// per-request timeout. Every Asio/Beast call uses its error_code form: nothing throws here.
#include "http/http_session.h"

#include "common/log.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>

namespace monarch::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

HttpSession::HttpSession(std::shared_ptr<HttpServer::State> state, UnixSocket socket, PeerCredentials peer)
    : m_state(std::move(state))
    , m_socket(std::move(socket))
    , m_peer(peer)
    , m_timer(m_state->io_context)
{
    m_state->sessions.insert(this);
}

HttpSession::~HttpSession()
{
    m_state->sessions.erase(this);
}

void HttpSession::close()
{
    error_code ignored;
    m_timer.cancel(ignored);
    m_socket.shutdown(asio::socket_base::shutdown_both, ignored);
    m_socket.close(ignored);
}

// A timer that closes the socket when it fires; re-arming or cancelling aborts the old wait.
void HttpSession::arm_timer(std::chrono::milliseconds timeout)
{
    error_code ignored;
    m_timer.cancel(ignored);
    if (timeout.count() == 0)
        return;
    m_timer.expires_after(timeout);
    m_timer.async_wait([weak = weak_from_this()](error_code ec) {
        if (ec)
            return; // cancelled: the awaited step finished
        if (auto self = weak.lock()) {
            log::debug("http: closing a connection that timed out");
            self->close();
        }
    });
}

// Between requests the connection may idle (idle_timeout); once bytes arrive, the whole
// request must come within request_timeout.
void HttpSession::wait_for_request()
{
    if (m_buffer.size() > 0) {
        read_header();
        return;
    }
    arm_timer(m_state->limits.idle_timeout);
    m_socket.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](error_code ec) {
        if (ec)
            return self->close();
        self->read_header();
    });
}

void HttpSession::read_header()
{
    arm_timer(m_state->limits.request_timeout);
    m_parser.emplace();
    m_parser->body_limit(m_state->limits.max_body);
    m_parser->header_limit(static_cast<std::uint32_t>(m_state->limits.max_header));
    bhttp::async_read_header(m_socket, m_buffer, *m_parser, [self = shared_from_this()](error_code ec, size_t) {
        self->on_header(ec);
    });
}

void HttpSession::on_header(error_code ec)
{
    if (ec)
        return fail_request(ec);
    auto const& request = m_parser->get();
    m_version = request.version() == 10 ? 10 : 11;
    bool const expects_continue = beast::iequals(request[bhttp::field::expect], "100-continue");
    if (!request[bhttp::field::expect].empty() && !expects_continue)
        return respond(HttpResponse::error(417, "unsupported Expect header"), false);
    // RFC 9110 section 10.1.1: a server that will read the body sends 100 (Continue) unless
    // it already has some of it; curl otherwise waits a second before sending a chunked body.
    if (expects_continue && m_version == 11 && !m_parser->is_done() && m_buffer.size() == 0)
        return send_continue();
    read_body();
}

void HttpSession::send_continue()
{
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(m_socket, asio::buffer(continue_line.data(), continue_line.size()),
        [self = shared_from_this()](error_code ec, size_t) {
            if (ec)
                return self->close();
            self->read_body();
        });
}

void HttpSession::read_body()
{
    if (m_parser->is_done())
        return dispatch();
    bhttp::async_read(m_socket, m_buffer, *m_parser, [self = shared_from_this()](error_code ec, size_t) {
        self->on_body(ec);
    });
}

void HttpSession::on_body(error_code ec)
{
    if (ec)
        return fail_request(ec);
    dispatch();
}

// A read failed: answer what can be answered, then close (the stream is out of step).
void HttpSession::fail_request(error_code ec)
{
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted
        || ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == bhttp::error::partial_message)
        return close();
    if (ec == bhttp::error::body_limit)
        return respond(HttpResponse::error(413, "request body too large"), false);
    if (ec == bhttp::error::header_limit)
        return respond(HttpResponse::error(431, "request header too large"), false);
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category())
        return respond(HttpResponse::error(400, "malformed request"), false);
    log::debug("http: read failed: {}", ec.message());
    close();
}

void HttpSession::dispatch()
{
    auto message = m_parser->release();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.path = request.target.substr(0, request.target.find('?'));
    request.content_type = std::string(message[bhttp::field::content_type]);
    request.body = std::move(message.body());
    request.peer = m_peer;
    bool const keep_alive = message.keep_alive();
    if (m_state->async_handler)
        return dispatch_async(request, keep_alive);
    HttpResponse response;
    try {
        response = m_state->handler(request);
    } catch (std::exception const& exception) {
        log::error("http: handler for {} {} threw: {}", request.method, request.path, exception.what());
        response = HttpResponse::error(500, "internal error");
    }
    respond(std::move(response), keep_alive);
}

// The answer may take long (the worker has its own timeouts): no request timer meanwhile.
// The Pending object keeps this session alive until the answer is posted back.
void HttpSession::dispatch_async(HttpRequest const& request, bool keep_alive)
{
    arm_timer(std::chrono::milliseconds(0));
    HttpResponder responder { std::make_shared<HttpResponder::Pending>(m_state->io_context, shared_from_this(), keep_alive) };
    try {
        m_state->async_handler(request, responder);
    } catch (std::exception const& exception) {
        log::error("http: handler for {} {} threw: {}", request.method, request.path, exception.what());
        responder(HttpResponse::error(500, "internal error"));
    }
}

void HttpSession::answer(HttpResponse response, bool keep_alive)
{
    if (!m_socket.is_open())
        return; // the server closed it, or a timer did: nobody to answer
    respond(std::move(response), keep_alive);
}

void HttpResponder::operator()(HttpResponse response) const
{
    m_pending->answer(std::move(response));
}

void HttpResponder::Pending::answer(HttpResponse response)
{
    std::shared_ptr<HttpSession> target;
    {
        std::lock_guard lock { mutex };
        if (answered)
            return;
        answered = true;
        target = std::move(session);
    }
    asio::post(context, [target = std::move(target), response = std::move(response), keep = keep_alive]() mutable {
        target->answer(std::move(response), keep);
    });
}

HttpResponder::Pending::~Pending()
{
    if (!answered && session)
        answer(HttpResponse::error(500, "the request was dropped without an answer"));
}

void HttpSession::respond(HttpResponse response, bool keep_alive)
{
    arm_timer(m_state->limits.request_timeout); // a peer that never reads must not pin us
    m_response = std::make_shared<Response>(static_cast<bhttp::status>(response.status), m_version);
    m_response->set(bhttp::field::server, "monarch");
    if (!response.body.empty())
        m_response->set(bhttp::field::content_type, response.content_type);
    m_response->body() = std::move(response.body);
    m_response->keep_alive(keep_alive);
    m_response->prepare_payload();
    bhttp::async_write(m_socket, *m_response,
        [self = shared_from_this(), keep_alive, after = std::move(response.after_send)](error_code ec, size_t) {
            self->m_response.reset();
            if (after)
                after();
            if (ec || !keep_alive || self->m_state->closed)
                return self->close();
            self->wait_for_request();
        });
}

} // namespace monarch::http
