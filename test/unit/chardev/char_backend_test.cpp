// SPDX-License-Identifier: Apache-2.0
// CharBackend with real host objects: files, a Unix socket and its client, a pty and its slave,
// and stdio redirected to files for the duration of a test.
#include "vmm/chardev/char_backend.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace std::chrono_literals;
using Kind = SerialSpec::Kind;

namespace {

// A fresh directory, removed with its contents at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "monarch-chardev-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// Collects what the input callback receives; wait_for() blocks until enough arrived.
struct Received {
    std::mutex mutex;
    std::condition_variable changed;
    std::string bytes;

    auto callback()
    {
        return [this](std::span<std::byte const> data) {
            std::lock_guard lock { mutex };
            bytes.append(reinterpret_cast<char const*>(data.data()), data.size());
            changed.notify_all();
        };
    }
    std::string wait_for(size_t count)
    {
        std::unique_lock lock { mutex };
        changed.wait_for(lock, 5s, [&] { return bytes.size() >= count; });
        return bytes;
    }
};

std::span<std::byte const> as_bytes(std::string_view text) { return std::as_bytes(std::span(text.data(), text.size())); }

std::string read_file(std::filesystem::path const& path)
{
    std::ifstream file { path, std::ios::binary };
    return std::string(std::istreambuf_iterator<char>(file), {});
}

// Reads from fd until count bytes arrived or 5 s passed.
std::string read_exactly(int fd, size_t count)
{
    std::string result;
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (result.size() < count && std::chrono::steady_clock::now() < deadline) {
        pollfd ready { fd, POLLIN, 0 };
        if (::poll(&ready, 1, 100) <= 0)
            continue;
        char buffer[256];
        ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, count - result.size()));
        if (n <= 0)
            break;
        result.append(buffer, static_cast<size_t>(n));
    }
    return result;
}

template<typename Predicate>
bool eventually(Predicate predicate)
{
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

int connect_to(std::string const& path)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr const*>(&address), sizeof address) == 0);
    return fd;
}

// Points fd 0 or 1 at another file for the lifetime of this object.
struct Redirect {
    int target;
    int saved;
    Redirect(int target_fd, char const* path, int flags)
        : target(target_fd)
        , saved(::dup(target_fd))
    {
        int fd = ::open(path, flags, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::dup2(fd, target) == target);
        ::close(fd);
    }
    ~Redirect()
    {
        ::dup2(saved, target);
        ::close(saved);
    }
};

} // namespace

TEST_CASE("file back end creates with mode 0640 and writes", "[unit][chardev]")
{
    TempDir dir;
    auto path = dir.path / "console.log";
    auto spec = parse_serial_spec("file:" + path.string());
    REQUIRE(spec);
    {
        auto backend = CharBackend::create(*spec);
        REQUIRE(backend);
        (*backend)->write(as_bytes("hello, "));
        (*backend)->write(as_bytes("world\n"));
        REQUIRE((*backend)->start_input([](std::span<std::byte const>) {})); // no input: a no-op
        CHECK((*backend)->counters().bytes_written == 13);
        CHECK((*backend)->counters().bytes_dropped == 0);
        CHECK_FALSE((*backend)->pty_path());
    }
    CHECK(read_file(path) == "hello, world\n");
    // 0640 as requested, less whatever the umask removes.
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    mode_t const mask = ::umask(0);
    ::umask(mask);
    CHECK((info.st_mode & 0777) == (0640 & ~mask));
}

TEST_CASE("file back end truncates an existing file", "[unit][chardev]")
{
    TempDir dir;
    auto path = dir.path / "console.log";
    { std::ofstream(path) << "old contents that must go"; }
    {
        auto backend = CharBackend::create(SerialSpec { Kind::File, path.string() });
        REQUIRE(backend);
        (*backend)->write(as_bytes("new"));
    }
    CHECK(read_file(path) == "new");
}

TEST_CASE("file back end reports a path it cannot create", "[unit][chardev]")
{
    auto backend = CharBackend::create(SerialSpec { Kind::File, "/nonexistent-directory/console.log" });
    REQUIRE_FALSE(backend);
    CHECK(backend.error().code == Errc::Sys);
    CHECK(backend.error().sys_errno == ENOENT);
}

TEST_CASE("off back end discards output", "[unit][chardev]")
{
    auto backend = CharBackend::create(SerialSpec { Kind::Off, {} });
    REQUIRE(backend);
    (*backend)->write(as_bytes("nothing"));
    REQUIRE((*backend)->start_input([](std::span<std::byte const>) {}));
    (*backend)->stop();
    CHECK((*backend)->counters().bytes_written == 0);
}

TEST_CASE("socket back end exchanges bytes with a real client", "[unit][chardev]")
{
    TempDir dir;
    std::string const path = (dir.path / "serial.sock").string();
    auto backend = CharBackend::create(SerialSpec { Kind::Socket, path });
    REQUIRE(backend);
    Received received;
    REQUIRE((*backend)->start_input(received.callback()));

    (*backend)->write(as_bytes("lost")); // nobody connected yet
    CHECK((*backend)->counters().bytes_dropped == 4);

    int client = connect_to(path);
    REQUIRE(eventually([&] { return (*backend)->counters().clients == 1; }));
    (*backend)->write(as_bytes("to the client"));
    CHECK(read_exactly(client, 13) == "to the client");
    REQUIRE(::write(client, "from client", 11) == 11);
    CHECK(received.wait_for(11) == "from client");

    // The client leaves; a second one is accepted and gets the later output.
    ::close(client);
    int second = connect_to(path);
    REQUIRE(eventually([&] { return (*backend)->counters().clients == 2; }));
    (*backend)->write(as_bytes("again"));
    CHECK(read_exactly(second, 5) == "again");
    ::close(second);

    (*backend)->stop();
    backend->reset();
    CHECK_FALSE(std::filesystem::exists(path)); // the socket file is removed
}

TEST_CASE("socket back end replaces a stale socket but not a live one or a plain file", "[unit][chardev]")
{
    TempDir dir;
    std::string const path = (dir.path / "serial.sock").string();
    {
        // A socket file whose owner is gone: bound, never listening, closed.
        int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address {};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
        REQUIRE(::bind(stale, reinterpret_cast<sockaddr const*>(&address), sizeof address) == 0);
        ::close(stale);
    }
    REQUIRE(std::filesystem::exists(path));
    auto first = CharBackend::create(SerialSpec { Kind::Socket, path });
    REQUIRE(first);
    auto second = CharBackend::create(SerialSpec { Kind::Socket, path });
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::Busy);
    // The refused one left the live socket alone.
    CHECK(std::filesystem::exists(path));
    ::close(connect_to(path));

    std::string const plain = (dir.path / "plain").string();
    { std::ofstream(plain) << "data"; }
    auto on_file = CharBackend::create(SerialSpec { Kind::Socket, plain });
    REQUIRE_FALSE(on_file);
    CHECK(on_file.error().code == Errc::Busy);
    CHECK(read_file(plain) == "data");
}

// A pty back end; the test skips where the host has no pseudo-terminals.
static Result<std::unique_ptr<CharBackend>> create_pty_or_skip()
{
    auto backend = CharBackend::create(SerialSpec { Kind::Pty, {} });
    if (!backend && backend.error().code == Errc::Sys && (backend.error().sys_errno == ENOENT || backend.error().sys_errno == ENODEV)) {
        std::printf("SKIP: no pseudo-terminals here (%s)\n", to_string(backend.error()).c_str());
        std::exit(MONARCH_SKIP_RETURN_CODE);
    }
    REQUIRE(backend);
    return backend;
}

TEST_CASE("pty back end exchanges bytes with its slave", "[unit][chardev]")
{
    auto backend = create_pty_or_skip();
    auto name = (*backend)->pty_path();
    REQUIRE(name);
    CHECK(name->starts_with("/dev/pts/"));
    Received received;
    REQUIRE((*backend)->start_input(received.callback()));

    int slave = ::open(name->c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(slave >= 0);
    (*backend)->write(as_bytes("guest says\n")); // raw mode: no \r inserted
    CHECK(read_exactly(slave, 11) == "guest says\n");
    REQUIRE(::write(slave, "typed\r", 6) == 6); // raw mode: delivered at once, no echo, no CR mapping
    CHECK(received.wait_for(6) == "typed\r");
    ::close(slave);
    (*backend)->write(as_bytes("nobody reading")); // buffered or dropped, never an error
}

TEST_CASE("a stopped pty back end starts again for the next VM, on the same pty", "[unit][chardev]")
{
    auto backend = create_pty_or_skip();
    auto const name = (*backend)->pty_path();
    REQUIRE(name);
    CHECK((*backend)->made_for(SerialSpec { Kind::Pty, {} }));
    CHECK_FALSE((*backend)->made_for(SerialSpec { Kind::Stdio, {} }));
    Received first;
    REQUIRE((*backend)->start_input(first.callback()));
    int slave = ::open(name->c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(slave >= 0);
    REQUIRE(::write(slave, "one", 3) == 3);
    CHECK(first.wait_for(3) == "one");
    (*backend)->stop(); // the VM is rebooting: the old machine lets go of it

    // The console that stays attached to the slave reaches the next VM's callback.
    Received second;
    REQUIRE((*backend)->start_input(second.callback()));
    CHECK_FALSE((*backend)->stopping());
    CHECK((*backend)->pty_path() == name);
    REQUIRE(::write(slave, "two", 3) == 3);
    CHECK(second.wait_for(3) == "two");
    (*backend)->write(as_bytes("back\n"));
    CHECK(read_exactly(slave, 5) == "back\n");
    CHECK(first.bytes == "one");
    ::close(slave);
}

TEST_CASE("stop() joins a blocked input thread promptly", "[unit][chardev]")
{
    TempDir dir;
    auto backend = CharBackend::create(SerialSpec { Kind::Socket, (dir.path / "s.sock").string() });
    REQUIRE(backend);
    REQUIRE((*backend)->start_input([](std::span<std::byte const>) {}));
    std::this_thread::sleep_for(50ms); // let the thread block in poll()
    auto const start = std::chrono::steady_clock::now();
    (*backend)->stop();
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK((*backend)->stopping());
    (*backend)->stop(); // idempotent
}

TEST_CASE("stdio back end reads a regular-file stdin to its end and writes stdout", "[unit][chardev]")
{
    TempDir dir;
    auto const input = dir.path / "stdin";
    auto const output = dir.path / "stdout";
    { std::ofstream(input) << "typed ahead"; }
    Received received;
    {
        Redirect in { STDIN_FILENO, input.c_str(), O_RDONLY };
        Redirect out { STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC };
        auto backend = CharBackend::create(SerialSpec { Kind::Stdio, {} });
        REQUIRE(backend);
        REQUIRE((*backend)->start_input(received.callback()));
        CHECK(received.wait_for(11) == "typed ahead");
        (*backend)->write(as_bytes("console"));
        auto const start = std::chrono::steady_clock::now();
        (*backend)->stop(); // the thread is idle after end of file
        CHECK(std::chrono::steady_clock::now() - start < 1s);
    }
    CHECK(read_file(output) == "console");
}

TEST_CASE("stdio back end with /dev/null stdin", "[unit][chardev]")
{
    Received received;
    Redirect in { STDIN_FILENO, "/dev/null", O_RDONLY };
    auto backend = CharBackend::create(SerialSpec { Kind::Stdio, {} });
    REQUIRE(backend);
    REQUIRE((*backend)->start_input(received.callback()));
    std::this_thread::sleep_for(20ms);
    (*backend)->stop();
    CHECK((*backend)->counters().bytes_read == 0);
}

TEST_CASE("stdio back end puts a terminal stdin in raw mode and restores it", "[unit][chardev]")
{
    // A pty's slave stands in for the user's terminal.
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) {
        std::printf("SKIP: no pseudo-terminals here (%s)\n", std::strerror(errno));
        std::exit(MONARCH_SKIP_RETURN_CODE);
    }
    REQUIRE(::grantpt(master) == 0);
    REQUIRE(::unlockpt(master) == 0);
    char const* name = ::ptsname(master);
    REQUIRE(name != nullptr);
    termios before {};
    {
        Redirect in { STDIN_FILENO, name, O_RDWR | O_NOCTTY };
        REQUIRE(::tcgetattr(STDIN_FILENO, &before) == 0);
        REQUIRE((before.c_lflag & (ECHO | ICANON)) == (ECHO | ICANON)); // a fresh terminal is cooked
        {
            auto backend = CharBackend::create(SerialSpec { Kind::Stdio, {} });
            REQUIRE(backend);
            termios during {};
            REQUIRE(::tcgetattr(STDIN_FILENO, &during) == 0);
            CHECK((during.c_lflag & (ECHO | ICANON)) == 0);
            CHECK((during.c_lflag & ISIG) != 0); // Ctrl-C still stops the VMM
            Received received;
            REQUIRE((*backend)->start_input(received.callback()));
            REQUIRE(::write(master, "k", 1) == 1); // delivered without a newline
            CHECK(received.wait_for(1) == "k");
        }
        termios after {};
        REQUIRE(::tcgetattr(STDIN_FILENO, &after) == 0);
        CHECK(after.c_lflag == before.c_lflag);
        CHECK(after.c_iflag == before.c_iflag);
        CHECK(after.c_oflag == before.c_oflag);
    }
    ::close(master);
}
