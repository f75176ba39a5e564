// SPDX-License-Identifier: Apache-2.0
// HttpServer: the accept loop over a listening Unix socket, connection bookkeeping and the
// response helpers. Connections themselves are HttpSession (http_session.cpp).
#include "http/http_server.h"

#include "common/log.h"
#include "http/http_session.h"
#include "http/unix_listener.h"

#include <nlohmann/json.hpp>
#include <sys/socket.h>

namespace monarch::http {

namespace asio = boost::asio;
using boost::system::error_code;
using Protocol = asio::local::stream_protocol;

HttpResponse HttpResponse::json(unsigned status, std::string body)
{
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

HttpResponse HttpResponse::no_content()
{
    HttpResponse response;
    response.status = 204;
    return response;
}

HttpResponse HttpResponse::error(unsigned status, std::string_view message)
{
    nlohmann::json body = nlohmann::json::object();
    // dump() with replace: a message quoting client input must not make dump() throw on
    // invalid UTF-8.
    body["error"] = std::string(message);
    return json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

PeerCredentials peer_credentials(int fd)
{
    ucred credentials {};
    socklen_t length = sizeof(credentials);
    // SAFETY: SO_PEERCRED writes one struct ucred of at most `length` bytes.
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
        return {};
    return { credentials.pid, credentials.uid, credentials.gid };
}

void accept_next(std::shared_ptr<HttpServer::State> const& state);

void on_accept(std::shared_ptr<HttpServer::State> const& state, error_code ec, UnixSocket socket)
{
    if (state->closed || ec == asio::error::operation_aborted)
        return;
    if (ec) {
        // EMFILE, ENFILE, ENOBUFS: the pending connection stays queued; try again shortly
        // instead of spinning on the same error.
        log::warn("http: accept failed: {}", ec.message());
        state->retry_timer.expires_after(std::chrono::milliseconds(100));
        state->retry_timer.async_wait([state](error_code timer_ec) {
            if (!timer_ec)
                accept_next(state);
        });
        return;
    }
    if (state->sessions.size() >= state->limits.max_connections) {
        log::warn("http: {} connections open, refusing another", state->sessions.size());
        error_code ignored;
        socket.close(ignored);
    } else {
        auto const peer = peer_credentials(socket.native_handle());
        std::make_shared<HttpSession>(state, std::move(socket), peer)->start();
    }
    accept_next(state);
}

void accept_next(std::shared_ptr<HttpServer::State> const& state)
{
    state->acceptor.async_accept([state](error_code ec, UnixSocket socket) {
        on_accept(state, ec, std::move(socket));
    });
}

Result<std::shared_ptr<HttpServer::State>> start_state(asio::io_context& context, UniqueFd fd, HttpHandler sync, AsyncHttpHandler async,
                                                       HttpServerLimits limits)
{
    auto state = std::make_shared<HttpServer::State>(context, std::move(sync), std::move(async), limits);
    error_code ec;
    state->acceptor.assign(Protocol(), fd.get(), ec);
    if (ec)
        return Failure(Error::from_errno(ec.value(), "api socket: assigning the listener"));
    (void)fd.release(); // the acceptor owns it now
    state->acceptor.non_blocking(true, ec);
    accept_next(state);
    return state;
}

} // namespace

HttpServer::HttpServer(std::shared_ptr<State> state, std::string path, bool owns_path)
    : m_state(std::move(state))
    , m_path(std::move(path))
    , m_owns_path(owns_path)
{
}

Result<std::unique_ptr<HttpServer>> HttpServer::create_with(asio::io_context& context, std::string_view spec,
                                                            Handlers handlers, HttpServerLimits limits)
{
    auto parsed = TRY(parse_socket_spec(spec));
    if (parsed.fd >= 0)
        return adopt_with(context, parsed.fd, std::move(handlers), limits);
    return listen_with(context, std::move(parsed.path), std::move(handlers), limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::listen_path(asio::io_context& context, std::string path,
                                                            HttpHandler handler, HttpServerLimits limits)
{
    return listen_with(context, std::move(path), { std::move(handler), {} }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::listen_path(asio::io_context& context, std::string path,
                                                            AsyncHttpHandler handler, HttpServerLimits limits)
{
    return listen_with(context, std::move(path), { {}, std::move(handler) }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::adopt_fd(asio::io_context& context, int fd, HttpHandler handler,
                                                         HttpServerLimits limits)
{
    return adopt_with(context, fd, { std::move(handler), {} }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::adopt_fd(asio::io_context& context, int fd, AsyncHttpHandler handler,
                                                         HttpServerLimits limits)
{
    return adopt_with(context, fd, { {}, std::move(handler) }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::io_context& context, std::string_view spec,
                                                       HttpHandler handler, HttpServerLimits limits)
{
    return create_with(context, spec, { std::move(handler), {} }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::io_context& context, std::string_view spec,
                                                       AsyncHttpHandler handler, HttpServerLimits limits)
{
    return create_with(context, spec, { {}, std::move(handler) }, limits);
}

Result<std::unique_ptr<HttpServer>> HttpServer::listen_with(asio::io_context& context, std::string path,
                                                            Handlers handlers, HttpServerLimits limits)
{
    auto bound = TRY(bind_unix_listener(path));
    auto const device = bound.device;
    auto const inode = bound.inode;
    auto state = start_state(context, std::move(bound.fd), std::move(handlers.sync), std::move(handlers.async), limits);
    if (!state) {
        remove_socket_file(path, device, inode);
        return Failure(state.error());
    }
    auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(*state), std::move(path), true));
    server->m_device = device;
    server->m_inode = inode;
    return server;
}

Result<std::unique_ptr<HttpServer>> HttpServer::adopt_with(asio::io_context& context, int fd, Handlers handlers,
                                                           HttpServerLimits limits)
{
    // Checked before it is owned: a wrong fd (stderr, say) is refused and left open.
    TRY_VOID(check_unix_listener(fd));
    auto state = TRY(start_state(context, UniqueFd { fd }, std::move(handlers.sync), std::move(handlers.async), limits));
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(state), {}, false));
}

HttpServer::~HttpServer()
{
    close();
}

void HttpServer::close()
{
    if (m_state->closed)
        return;
    m_state->closed = true;
    error_code ignored;
    m_state->acceptor.close(ignored);
    m_state->retry_timer.cancel(ignored);
    // close() only cancels; each session is freed when its aborted handler has run.
    for (auto* session : std::vector<HttpSession*>(m_state->sessions.begin(), m_state->sessions.end()))
        session->close();
    if (m_owns_path)
        remove_socket_file(m_path, m_device, m_inode);
}

size_t HttpServer::connection_count() const
{
    return m_state->sessions.size();
}

} // namespace monarch::http
