// SPDX-License-Identifier: Apache-2.0
// An HttpServer on a real Unix socket in a fresh temporary directory, its io_context run on
// a thread of its own, and a handler that records what it saw.
#pragma once

#include "http/http_server.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace monarch::test {

inline std::string make_temp_dir()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "monarch-http-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    return made ? std::string(made) : std::string();
}

class ServerFixture {
public:
    explicit ServerFixture(http::HttpServerLimits limits = {}, http::HttpHandler handler = {})
        : m_dir(make_temp_dir())
        , m_path(m_dir + "/api.sock")
        , m_work(boost::asio::make_work_guard(m_context))
    {
        if (!handler)
            handler = [this](http::HttpRequest const& request) { return record(request); };
        auto server = http::HttpServer::listen_path(m_context, m_path, std::move(handler), limits);
        if (server)
            m_server = std::move(*server);
        m_thread = std::thread([this] { m_context.run(); });
    }
    ~ServerFixture()
    {
        std::promise<void> done;
        boost::asio::post(m_context, [&] { m_server.reset(); done.set_value(); });
        done.get_future().wait();
        m_work.reset();
        m_context.stop();
        m_thread.join();
        std::filesystem::remove_all(m_dir);
    }

    [[nodiscard]] bool listening() const { return m_server != nullptr; }
    [[nodiscard]] std::string const& path() const { return m_path; }
    [[nodiscard]] std::string const& dir() const { return m_dir; }
    [[nodiscard]] std::vector<http::HttpRequest> requests()
    {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }
    [[nodiscard]] size_t connection_count()
    {
        std::promise<size_t> count;
        boost::asio::post(m_context, [&] { count.set_value(m_server->connection_count()); });
        return count.get_future().get();
    }

private:
    http::HttpResponse record(http::HttpRequest const& request)
    {
        std::lock_guard lock(m_mutex);
        m_requests.push_back(request);
        return http::HttpResponse::json(200, "{\"seen\":" + std::to_string(m_requests.size()) + "}");
    }

    std::string m_dir;
    std::string m_path;
    boost::asio::io_context m_context;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work;
    std::unique_ptr<http::HttpServer> m_server;
    std::thread m_thread;
    std::mutex m_mutex;
    std::vector<http::HttpRequest> m_requests;
};

} // namespace monarch::test
