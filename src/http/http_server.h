// SPDX-License-Identifier: Apache-2.0
// HttpServer: an HTTP/1.1 server (Boost.Beast) on a Unix stream socket, run on the caller's
// Boost.Asio io_context. Each complete request is handed to one handler on that thread; an
// asynchronous handler may answer later, from any thread, through an HttpResponder.
#pragma once

#include "common/result.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace monarch::http {

// The peer of a Unix socket connection as the kernel saw it at connect() (SO_PEERCRED):
// monarchd authorizes its clients with it, never with file modes alone.
struct PeerCredentials {
    pid_t pid { 0 };
    uid_t uid { static_cast<uid_t>(-1) };
    gid_t gid { static_cast<gid_t>(-1) };
};

struct HttpRequest {
    std::string method;       // "GET", "PUT", ... as sent
    std::string target;       // the request target as sent: "/api/v1/vm.info?x=1"
    std::string path;         // the target without its query string
    std::string content_type; // empty when absent
    std::string body;         // de-chunked; at most HttpServerLimits::max_body bytes
    PeerCredentials peer;
};

struct HttpResponse {
    unsigned status { 200 };
    std::string body;
    std::string content_type { "application/json" };
    // Runs on the io_context thread once the response has been written (or the write failed):
    // vmm.shutdown answers first and exits after.
    std::function<void()> after_send;

    [[nodiscard]] static HttpResponse json(unsigned status, std::string body);
    [[nodiscard]] static HttpResponse no_content(); // 204, no body
    // {"error":"<message>"}: the one error body shape of our servers.
    [[nodiscard]] static HttpResponse error(unsigned status, std::string_view message);
};

using HttpHandler = std::function<HttpResponse(HttpRequest const&)>;

// The answer to one request of an asynchronous handler. Call it once, from any thread: the
// response is posted to the server's io_context and written there. Copies share one answer;
// later calls are ignored. If every copy is dropped unanswered, the client gets a 500. The
// io_context must outlive the call (join the threads that answer before destroying it). A
// client that went away meanwhile, or a server closed meanwhile, drops the answer.
class HttpResponder {
public:
    struct Pending; // internal (http_session.h)
    explicit HttpResponder(std::shared_ptr<Pending> pending) : m_pending(std::move(pending)) {}
    void operator()(HttpResponse response) const;

private:
    std::shared_ptr<Pending> m_pending;
};

// A handler that answers through the responder, now or later (long operations hand the
// request to a worker thread instead of blocking the io_context). While a request waits for
// its answer, the connection reads nothing and its request timeout does not run.
using AsyncHttpHandler = std::function<void(HttpRequest const&, HttpResponder)>;

struct HttpServerLimits {
    size_t max_body { 1024 * 1024 };            // larger bodies are answered 413
    size_t max_header { 16 * 1024 };            // larger headers are answered 431
    size_t max_connections { 64 };              // more are accepted and closed at once
    // A request whose first byte has arrived must be complete within this time, or its
    // connection is closed: a slow or half-open client holds only its own connection.
    std::chrono::milliseconds request_timeout { std::chrono::seconds(10) };
    // An idle keep-alive connection is closed after this; zero keeps it (libvirt holds one
    // connection for a domain's whole life).
    std::chrono::milliseconds idle_timeout { 0 };
};

class HttpServer {
public:
    // Binds and listens on `path`. An existing socket file is replaced only when nobody
    // accepts on it (Errc::Busy otherwise); any other existing file is refused. The file
    // is removed again when the server is destroyed.
    static Result<std::unique_ptr<HttpServer>> listen_path(boost::asio::io_context&, std::string path,
                                                           HttpHandler, HttpServerLimits = {});
    // Takes ownership of `fd`, which must be a listening AF_UNIX stream socket (libvirt
    // creates the socket and passes it as --api-socket fd=N); any other fd is refused and
    // left open.
    static Result<std::unique_ptr<HttpServer>> adopt_fd(boost::asio::io_context&, int fd, HttpHandler,
                                                        HttpServerLimits = {});
    // "PATH", "path=PATH" or "fd=N", as --api-socket takes them.
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::io_context&, std::string_view spec,
                                                      HttpHandler, HttpServerLimits = {});
    // The same three with an asynchronous handler.
    static Result<std::unique_ptr<HttpServer>> listen_path(boost::asio::io_context&, std::string path,
                                                           AsyncHttpHandler, HttpServerLimits = {});
    static Result<std::unique_ptr<HttpServer>> adopt_fd(boost::asio::io_context&, int fd, AsyncHttpHandler,
                                                        HttpServerLimits = {});
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::io_context&, std::string_view spec,
                                                      AsyncHttpHandler, HttpServerLimits = {});

    ~HttpServer();
    HttpServer(HttpServer const&) = delete;
    HttpServer& operator=(HttpServer const&) = delete;

    // Stops accepting and closes every connection; idempotent.
    void close();
    [[nodiscard]] size_t connection_count() const;
    [[nodiscard]] std::string const& path() const { return m_path; } // empty for an adopted fd

    struct State;

private:
    struct Handlers {
        HttpHandler sync;
        AsyncHttpHandler async;
    };
    static Result<std::unique_ptr<HttpServer>> listen_with(boost::asio::io_context&, std::string path, Handlers, HttpServerLimits);
    static Result<std::unique_ptr<HttpServer>> adopt_with(boost::asio::io_context&, int fd, Handlers, HttpServerLimits);
    static Result<std::unique_ptr<HttpServer>> create_with(boost::asio::io_context&, std::string_view spec, Handlers, HttpServerLimits);
    HttpServer(std::shared_ptr<State>, std::string path, bool owns_path);

    std::shared_ptr<State> m_state;
    std::string m_path;
    bool m_owns_path { false };
    dev_t m_device { 0 }; // the socket file we created, removed on close() if still ours
    ino_t m_inode { 0 };
};

// The socket spec of --api-socket: exactly one of path or fd.
struct SocketSpec {
    std::string path;
    int fd { -1 };
};
[[nodiscard]] Result<SocketSpec> parse_socket_spec(std::string_view spec);

} // namespace monarch::http
