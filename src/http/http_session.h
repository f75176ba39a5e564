// SPDX-License-Identifier: Apache-2.0
// Internal to monarch_http: the state an HttpServer shares with its connections, and one
// connection (HttpSession) reading requests, calling the handler and writing responses.
#pragma once

#include "http/http_server.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <mutex>
#include <optional>
#include <unordered_set>

namespace monarch::http {

class HttpSession;
using UnixSocket = boost::asio::local::stream_protocol::socket;

struct HttpServer::State {
    State(boost::asio::io_context& context, HttpHandler request_handler, AsyncHttpHandler async_request_handler,
        HttpServerLimits server_limits)
        : io_context(context)
        , acceptor(context)
        , retry_timer(context)
        , handler(std::move(request_handler))
        , async_handler(std::move(async_request_handler))
        , limits(server_limits)
    {
    }

    boost::asio::io_context& io_context;
    boost::asio::local::stream_protocol::acceptor acceptor;
    boost::asio::steady_timer retry_timer; // after EMFILE and the like, accept again later
    HttpHandler handler;            // exactly one of the two is set
    AsyncHttpHandler async_handler;
    HttpServerLimits limits;
    std::unordered_set<HttpSession*> sessions; // touched only on the io_context thread
    bool closed { false };
};

class HttpSession final : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(std::shared_ptr<HttpServer::State>, UnixSocket, PeerCredentials);
    ~HttpSession();
    HttpSession(HttpSession const&) = delete;
    HttpSession& operator=(HttpSession const&) = delete;

    void start() { wait_for_request(); }
    void close();
    // The answer of an asynchronous handler, on the io_context thread.
    void answer(HttpResponse, bool keep_alive);

private:
    using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
    using Response = boost::beast::http::response<boost::beast::http::string_body>;

    void wait_for_request();
    void read_header();
    void on_header(boost::system::error_code);
    void send_continue();
    void read_body();
    void on_body(boost::system::error_code);
    void dispatch();
    void dispatch_async(HttpRequest const&, bool keep_alive);
    void fail_request(boost::system::error_code);
    void respond(HttpResponse, bool keep_alive);
    void arm_timer(std::chrono::milliseconds);

    std::shared_ptr<HttpServer::State> m_state;
    UnixSocket m_socket;
    PeerCredentials m_peer;
    boost::asio::steady_timer m_timer;
    boost::beast::flat_buffer m_buffer;
    std::optional<Parser> m_parser;
    std::shared_ptr<Response> m_response; // alive until its async_write completes
    unsigned m_version { 11 };
};

// What an HttpResponder shares among its copies: the session to answer (kept alive until
// then) and whether the answer was given.
struct HttpResponder::Pending {
    Pending(boost::asio::io_context& io_context, std::shared_ptr<HttpSession> waiting, bool keep)
        : context(io_context), session(std::move(waiting)), keep_alive(keep)
    {
    }
    ~Pending(); // answers 500 when nobody answered
    Pending(Pending const&) = delete;
    Pending& operator=(Pending const&) = delete;
    void answer(HttpResponse);

    boost::asio::io_context& context;
    std::shared_ptr<HttpSession> session; // moved into the posted answer: released on the io thread
    bool keep_alive;
    std::mutex mutex;
    bool answered { false };
};

} // namespace monarch::http
