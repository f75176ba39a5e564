// SPDX-License-Identifier: Apache-2.0
// virtio-console both ways: guest output to a file and to a Unix-socket client, client input
// into the guest's receive buffers, input held (bounded, in order, nothing lost) while the
// guest posts none, and the emergency-write register.
#include "device_harness.h"
#include "vmm/virtio/console/virtio_console.h"

#include "common/scope_guard.h"

#include <catch2/catch.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::virtio;

namespace {

std::filesystem::path make_temp_dir()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "monarch-console-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    return pattern;
}

UniqueFd connect_unix(std::filesystem::path const& path)
{
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    REQUIRE(fd);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    // SAFETY: sockaddr_un is a sockaddr for AF_UNIX.
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof address) == 0);
    return fd;
}

// Reads until `length` bytes arrived or 5 s passed.
std::vector<std::byte> read_exactly(int fd, size_t length)
{
    std::vector<std::byte> bytes;
    auto const end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (bytes.size() < length && std::chrono::steady_clock::now() < end) {
        pollfd waiter { fd, POLLIN, 0 };
        if (::poll(&waiter, 1, 100) <= 0)
            continue;
        std::array<std::byte, 4096> chunk {};
        ssize_t got = ::read(fd, chunk.data(), std::min(chunk.size(), length - bytes.size()));
        if (got <= 0)
            break;
        bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
    }
    return bytes;
}

struct SocketConsole {
    SocketConsole()
    {
        SerialSpec spec { SerialSpec::Kind::Socket, (directory / "console.sock").string() };
        auto backend = CharBackend::create(spec);
        REQUIRE(backend);
        auto created = VirtioConsole::create(io, std::move(*backend));
        REQUIRE(created);
        console = std::move(*created);
        client = connect_unix(directory / "console.sock");
        // The back end accepts on its input thread; wait until it has.
        auto const end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (console->backend().counters().clients == 0 && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        REQUIRE(console->backend().counters().clients == 1);
    }
    ~SocketConsole()
    {
        console.reset();
        std::filesystem::remove_all(directory);
    }

    std::filesystem::path directory { make_temp_dir() };
    boost::asio::io_context io;
    std::unique_ptr<VirtioConsole> console;
    UniqueFd client;
    DeviceHarness harness { 2 };
};

} // namespace

TEST_CASE("virtio-console sends guest output to a file back end", "[unit][virtio-console]")
{
    auto directory = make_temp_dir();
    ScopeGuard cleanup { [&] { std::filesystem::remove_all(directory); } };
    boost::asio::io_context io;
    machine::ConsoleConfig config;
    config.mode = "file:" + (directory / "out.log").string();
    auto console = VirtioConsole::create(io, config);
    REQUIRE(console);
    DeviceHarness harness { 2 };
    harness.activate(**console, (*console)->device_features());
    auto& tx = harness.drivers[VirtioConsole::TRANSMIT_QUEUE];
    auto hello = bytes_of("hello, ");
    auto world = bytes_of("world\n");
    auto head = tx.add_chain({ VirtqueueDriver::readable(tx.put_bytes(hello), 7), VirtqueueDriver::readable(tx.put_bytes(world), 6) });
    (*console)->queue_notify(VirtioConsole::TRANSMIT_QUEUE);
    auto used = tx.next_used();
    REQUIRE(used);
    CHECK(used->id == head);
    CHECK(used->length == 0);
    CHECK(harness.interrupt.queue_signals == std::vector<uint16_t> { VirtioConsole::TRANSMIT_QUEUE });
    console->reset(); // closes the file
    std::ifstream file(directory / "out.log");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK(text == "hello, world\n");

    machine::ConsoleConfig off;
    CHECK_FALSE(VirtioConsole::create(io, off));
}

TEST_CASE("virtio-console over a Unix socket: output to the client, client input to the guest", "[unit][virtio-console]")
{
    SocketConsole fixture;
    auto& console = *fixture.console;
    fixture.harness.activate(console, console.device_features());
    auto& rx = fixture.harness.drivers[VirtioConsole::RECEIVE_QUEUE];
    auto& tx = fixture.harness.drivers[VirtioConsole::TRANSMIT_QUEUE];

    auto output = bytes_of("guest says hi\n");
    tx.add_chain({ VirtqueueDriver::readable(tx.put_bytes(output), static_cast<uint32_t>(output.size())) });
    console.queue_notify(VirtioConsole::TRANSMIT_QUEUE);
    CHECK(read_exactly(fixture.client.get(), output.size()) == output);

    auto buffer = rx.alloc(64);
    auto head = rx.add_chain({ VirtqueueDriver::writable(buffer, 64) });
    console.queue_notify(VirtioConsole::RECEIVE_QUEUE);
    auto input = bytes_of("typed");
    REQUIRE(::write(fixture.client.get(), input.data(), input.size()) == 5);
    std::optional<VirtqueueDriver::UsedEntry> used;
    run_until(fixture.io, [&] { return (used = rx.next_used()).has_value(); });
    CHECK(used->id == head);
    REQUIRE(used->length == 5);
    CHECK(rx.read_bytes(buffer, 5) == input);
    CHECK(console.counters().bytes_in == 5);
}

TEST_CASE("virtio-console holds input while the guest has no buffers, bounded and in order", "[unit][virtio-console]")
{
    SocketConsole fixture;
    auto& console = *fixture.console;
    fixture.harness.activate(console, console.device_features());
    auto& rx = fixture.harness.drivers[VirtioConsole::RECEIVE_QUEUE];

    size_t const total = VirtioConsole::INPUT_BUFFER_BYTES + 36 * 1024;
    std::vector<std::byte> input(total);
    for (size_t i = 0; i < total; ++i)
        input[i] = std::byte(static_cast<uint8_t>(i * 13 + (i >> 8)));
    std::thread writer([&] {
        size_t done = 0;
        while (done < total) {
            ssize_t wrote = ::write(fixture.client.get(), input.data() + done, total - done);
            if (wrote <= 0)
                break;
            done += static_cast<size_t>(wrote);
        }
    });
    ScopeGuard join { [&] { writer.join(); } };

    // No receive buffers: the device holds at most its bound, and the rest waits upstream.
    run_until(fixture.io, [&] { return console.pending_input() == VirtioConsole::INPUT_BUFFER_BYTES; });
    fixture.io.restart();
    fixture.io.run_for(std::chrono::milliseconds(100));
    CHECK(console.pending_input() == VirtioConsole::INPUT_BUFFER_BYTES);

    // Now the guest reads, 4 KiB at a time: everything arrives, in order.
    std::vector<std::byte> received;
    std::deque<GuestPhysAddr> posted;
    auto const end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (received.size() < total && std::chrono::steady_clock::now() < end) {
        while (posted.size() < 16) {
            posted.push_back(rx.alloc(4096));
            rx.add_chain({ VirtqueueDriver::writable(posted.back(), 4096) });
        }
        console.queue_notify(VirtioConsole::RECEIVE_QUEUE);
        fixture.io.restart();
        fixture.io.run_for(std::chrono::milliseconds(10));
        while (auto used = rx.next_used()) {
            REQUIRE(!posted.empty());
            auto bytes = rx.read_bytes(posted.front(), used->length);
            received.insert(received.end(), bytes.begin(), bytes.end());
            posted.pop_front();
        }
    }
    CHECK(received.size() == total);
    CHECK(received == input);
    CHECK(console.pending_input() == 0);
}

TEST_CASE("virtio-console emergency write goes straight to the back end", "[unit][virtio-console]")
{
    SocketConsole fixture;
    CHECK((fixture.console->device_features() & VirtioConsole::F_EMERG_WRITE) != 0);
    uint32_t const character = '!';
    fixture.console->write_config(8, std::as_bytes(std::span { &character, 1 }));
    CHECK(read_exactly(fixture.client.get(), 1) == bytes_of("!"));
    std::array<std::byte, 12> config {};
    fixture.console->read_config(0, config);
    CHECK(config == std::array<std::byte, 12> {});
}
