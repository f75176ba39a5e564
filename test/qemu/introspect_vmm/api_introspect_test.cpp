// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's introspection routes served over a real HttpServer, with the QEMU back end's
// GuestAccess standing in for VmmGuestAccess, against the Debian guest of test/qemu/introspect;
// `monarch-introspect --api-socket` drives them. The oracle is the guest's own ps and /proc.
#include "../introspect/session.h"
#include "http/http_server.h"
#include "support/subprocess.h"
#include "vmm/api/introspect_routes.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <future>
#include <sstream>
#include <thread>

using monarch::dkom::test::session;
using namespace monarch;

namespace {

// The routes on an io_context thread of their own, as api_mode.cpp composes them.
class RouteServer {
public:
    explicit RouteServer(std::unique_ptr<dkom::GuestAccess> access)
        : m_access(std::move(access))
        , m_work(boost::asio::make_work_guard(m_context))
        , m_routes(m_engine, [this](vmm::api::IntrospectCommand::Kind) {
            return vmm::introspect::Target { 1, [this] { return std::move(m_access); } };
        })
    {
        char pattern[] = "/tmp/monarch-introspect-api-XXXXXX";
        m_dir = ::mkdtemp(pattern) ? pattern : "/tmp";
        auto server = http::HttpServer::listen_path(m_context, path(),
            http::AsyncHttpHandler([this](http::HttpRequest const& request, http::HttpResponder respond) {
                if (!m_routes.handle(request, respond))
                    respond(http::HttpResponse::error(404, "not found"));
            }));
        if (server)
            m_server = std::move(*server);
        m_thread = std::thread([this] { m_context.run(); });
    }
    ~RouteServer()
    {
        std::promise<void> done;
        boost::asio::post(m_context, [&] { m_server.reset(); done.set_value(); });
        done.get_future().wait();
        m_work.reset();
        m_context.stop();
        m_thread.join();
        std::filesystem::remove_all(m_dir);
    }
    [[nodiscard]] std::string path() const { return m_dir + "/api.sock"; }
    [[nodiscard]] bool listening() const { return m_server != nullptr; }

private:
    std::unique_ptr<dkom::GuestAccess> m_access;
    std::string m_dir;
    boost::asio::io_context m_context;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_work;
    vmm::introspect::IntrospectEngine m_engine;
    vmm::api::IntrospectRoutes m_routes;
    std::unique_ptr<http::HttpServer> m_server;
    std::thread m_thread;
};

test::ProcessResult tool(std::string const& socket, std::vector<std::string> const& command)
{
    std::vector<std::string> argv { std::string(MONARCH_BINARY_DIR) + "/src/dkom/tools/monarch-introspect", "--api-socket", socket,
        "--timeout-ms", "60000" };
    argv.insert(argv.end(), command.begin(), command.end());
    return test::run_process(argv, { .timeout = std::chrono::seconds(180) });
}

// Field `index` (1-based, as proc(5) numbers them) of /proc/PID/stat, read by the guest.
std::string proc_stat_field(dkom::test::LinuxGuest& guest, int32_t pid, size_t index)
{
    auto const text = guest.shell("cat /proc/" + std::to_string(pid) + "/stat");
    REQUIRE(text.has_value());
    auto const close = text->rfind(')');
    REQUIRE(close != std::string::npos);
    std::istringstream fields { text->substr(close + 1) };
    std::string field;
    for (size_t i = 3; i <= index; ++i)
        fields >> field;
    return field;
}

} // namespace

TEST_CASE("monarch-introspect --api-socket: ps, suspend, resume and nice through the introspection routes", "[qemu][introspect]")
{
    auto& s = session();
    RouteServer server { std::move(s.access) };
    REQUIRE(server.listening());

    // No profile yet: the engine says so (exit status 4), and the guest is untouched.
    auto const no_profile = tool(server.path(), { "ps" });
    INFO(test::describe(no_profile));
    CHECK(no_profile.exit_code == 4);

    // The guest's own ps is the oracle: every spinner pid it shows is in our listing.
    auto const guest_ps = s.guest->shell("ps -o pid,comm | grep spinner");
    REQUIRE(guest_ps.has_value());
    auto const ps = tool(server.path(), { "--kernel-image", s.guest->kernel_image(), "ps" });
    INFO(test::describe(ps));
    REQUIRE(ps.exited);
    REQUIRE(ps.exit_code == 0);
    std::istringstream lines { *guest_ps };
    std::vector<int32_t> spinners;
    int32_t pid = 0;
    std::string comm;
    while (lines >> pid >> comm) {
        if (comm != "spinner")
            continue;
        spinners.push_back(pid);
        CHECK(ps.output.find(fmt::format("{:7} {:7}       1", pid, pid)) != std::string::npos);
    }
    REQUIRE(spinners.size() == 2);

    auto const suspended = tool(server.path(), { "suspend", std::to_string(spinners[0]) });
    INFO(test::describe(suspended));
    REQUIRE(suspended.exit_code == 0);
    REQUIRE(s.guest->shell("sleep 1").has_value());
    CHECK(proc_stat_field(*s.guest, spinners[0], 3) == "T");
    CHECK(proc_stat_field(*s.guest, spinners[1], 3) != "T");

    auto const resumed = tool(server.path(), { "resume", std::to_string(spinners[0]) });
    INFO(test::describe(resumed));
    REQUIRE(resumed.exit_code == 0);
    REQUIRE(s.guest->shell("sleep 1").has_value());
    CHECK(proc_stat_field(*s.guest, spinners[0], 3) != "T");

    auto const niced = tool(server.path(), { "nice", std::to_string(spinners[1]), "7" });
    INFO(test::describe(niced));
    REQUIRE(niced.exit_code == 0);
    CHECK(proc_stat_field(*s.guest, spinners[1], 19) == "7");

    // A pid that does not exist: 404, exit status 5.
    auto const missing = tool(server.path(), { "suspend", "3999999" });
    INFO(test::describe(missing));
    CHECK(missing.exit_code == 5);

    // The VMM's sampling sees the spinners that run.
    auto const top = tool(server.path(), { "top", "--rate", "50", "--interval", "1", "--count", "1" });
    INFO(test::describe(top));
    CHECK(top.exit_code == 0);
    CHECK(top.output.find("spinner") != std::string::npos);

    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}
