// SPDX-License-Identifier: Apache-2.0
#include "vmm_api_process.h"

#include "kvm/vmm/vmm_process.h"
#include "unit/http/raw_unix_client.h"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace monarch::test {

using namespace std::chrono_literals;

VmmProcess::VmmProcess(std::vector<std::string> const& args, int inherit_fd, std::string program)
{
    m_output_path = scratch_directory() + "/vmm-output-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
    std::vector<std::string> argv { program.empty() ? vmm_path() : program };
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> pointers;
    for (auto& argument : argv)
        pointers.push_back(argument.data());
    pointers.push_back(nullptr);
    int output = ::open(m_output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    m_pid = ::fork();
    if (m_pid == 0) {
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(output, 1);
        ::dup2(output, 2);
        if (inherit_fd >= 0)
            ::fcntl(inherit_fd, F_SETFD, 0);
        ::execv(pointers[0], pointers.data());
        ::_exit(127);
    }
    ::close(output);
}

VmmProcess::~VmmProcess()
{
    if (running()) {
        ::kill(m_pid, SIGKILL);
        (void)wait_exit(5s);
    }
}

bool VmmProcess::running()
{
    if (m_status || m_pid <= 0)
        return false;
    return !wait_exit(0ms).has_value();
}

std::optional<int> VmmProcess::wait_exit(std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_status) {
        int status = 0;
        pid_t done = ::waitpid(m_pid, &status, WNOHANG);
        if (done == m_pid) {
            m_status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
    return m_status;
}

bool VmmProcess::wait_for_socket(std::string const& path, std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (RawUnixClient(path).connected())
            return true;
        if (!running())
            return false;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

void VmmProcess::send_signal(int signal)
{
    if (running())
        ::kill(m_pid, signal);
}

std::string VmmProcess::output() const
{
    std::ifstream file(m_output_path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

nlohmann::json ApiReply::json() const
{
    return nlohmann::json::parse(body, nullptr, false);
}

ApiReply api_call(std::string const& socket, std::string const& method, std::string const& endpoint, std::string const& body)
{
    RawUnixClient client(socket);
    if (!client.connected() || !client.send(make_request(method, "/api/v1/" + endpoint, body)))
        return {};
    // A guard against a VMM that never answers, not a performance bound: a snapshot of a
    // 128 MiB guest takes seconds under nested emulation (scripts/with-kvm).
    auto response = client.read_response(120s);
    if (!response)
        return {};
    return { status_of(*response), body_of(*response) };
}

} // namespace monarch::test
