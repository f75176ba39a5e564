// SPDX-License-Identifier: Apache-2.0
// The stock guest on the network and on vsock, each way, with the host's own tools at the host
// end: a tap in a network namespace this test makes for itself (so nothing of the machine's
// network is touched, and the tap goes with the process), ping and TCP through socat in the
// guest; vsock through the Unix-socket scheme (docs/vsock.md) with socat's VSOCK addresses.
#include "debian_vm.h"
#include "support/skip.h"
#include "support/subprocess.h"
#include "vmm_process.h"

#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace monarch::test;

namespace {

constexpr char const* HOST_IP = "192.168.249.1";
constexpr char const* GUEST_IP = "192.168.249.2";

// A network namespace of this test's own, with loopback up, and a tun device to open.
void enter_private_network()
{
    if (::unshare(CLONE_NEWNET) != 0)
        skip("a network namespace of its own needs CAP_SYS_ADMIN (run as root, or under scripts/with-kvm)");
    auto const up = run_process({ "sh", "-c", "ip link set lo up && { [ -e /dev/net/tun ] || modprobe tun; } && [ -e /dev/net/tun ]" });
    INFO(describe(up));
    REQUIRE(up.exit_code == 0);
}

// Accepts one connection on `listener` (within `timeout`) and reads it to its end.
std::string accept_and_read(int listener, std::chrono::milliseconds timeout)
{
    pollfd ready { listener, POLLIN, 0 };
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0)
        return "<no connection>";
    int const connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0)
        return "<accept failed>";
    std::string text;
    char buffer[512];
    for (;;) {
        pollfd readable { connection, POLLIN, 0 };
        if (::poll(&readable, 1, static_cast<int>(timeout.count())) <= 0)
            break;
        ssize_t const got = ::read(connection, buffer, sizeof buffer);
        if (got <= 0)
            break;
        text.append(buffer, static_cast<size_t>(got));
    }
    ::close(connection);
    return text;
}

int tcp_listener(char const* ip, uint16_t port)
{
    int const fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int const one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &address.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    return fd;
}

int unix_listener(std::string const& path)
{
    int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    return fd;
}

} // namespace

TEST_CASE("the guest and the host reach each other over a tap: ping and TCP both ways", "[linux][net]")
{
    require_kvm();
    enter_private_network();
    std::string why;
    auto vm = DebianVm::boot({ .extra = { "--net", std::string("tap=mtap0,ip=") + HOST_IP + ",mask=255.255.255.0" } }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    auto const configured = vm->run(std::string("dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1); ip addr add ") + GUEST_IP
        + "/24 dev $dev && ip link set $dev up && echo configured $dev");
    REQUIRE(trimmed(configured).starts_with("configured "));

    // ping, each way (the first exchange also waits for the guest's link to come up).
    CHECK(trimmed(vm->run(std::string("ping -c 3 -W 5 ") + HOST_IP + " >/dev/null; echo $?", std::chrono::seconds(60))) == "0");
    auto const ping = run_process({ "ping", "-c", "3", "-W", "5", GUEST_IP }, { .timeout = std::chrono::seconds(60) });
    INFO(describe(ping));
    CHECK(ping.exit_code == 0);

    // TCP from the guest to a host listener.
    int const host_listener = tcp_listener(HOST_IP, 5001);
    CHECK(trimmed(vm->run(std::string("echo guest-to-host | socat -u - TCP:") + HOST_IP + ":5001; echo $?")) == "0");
    CHECK(accept_and_read(host_listener, std::chrono::seconds(10)) == "guest-to-host\n");
    ::close(host_listener);

    // TCP from the host to a guest listener (socat writes what it receives to a file).
    REQUIRE(vm->run("(socat -u TCP-LISTEN:5002,reuseaddr OPEN:/root/from-host,creat,trunc &) ; sleep 1"));
    auto const sent = run_process({ "sh", "-c", std::string("echo host-to-guest | socat -u - TCP:") + GUEST_IP + ":5002" });
    INFO(describe(sent));
    CHECK(sent.exit_code == 0);
    CHECK(trimmed(vm->run("sleep 1; cat /root/from-host")) == "host-to-guest");
}

TEST_CASE("vsock carries a stream from the host to the guest and from the guest to the host", "[linux][vsock]")
{
    std::string why;
    std::string const vsock = scratch_directory() + "/vsock.sock";
    auto vm = DebianVm::boot({ .extra = { "--vsock", "cid=3,socket=" + vsock } }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    CHECK(trimmed(vm->run("cat /sys/class/vsock/vsock/local_cid 2>/dev/null || echo 3")) == "3");

    // Host to guest: CONNECT <port> on the VMM's socket, then the stream.
    REQUIRE(vm->run("(socat -u VSOCK-LISTEN:1234 OPEN:/root/from-host,creat,trunc &) ; sleep 1"));
    auto const sent = run_process({ "sh", "-c", "(printf 'CONNECT 1234\\n'; echo host-to-guest-vsock; sleep 1) | socat - UNIX-CONNECT:" + vsock });
    INFO(describe(sent));
    CHECK(sent.output.starts_with("OK "));
    CHECK(trimmed(vm->run("sleep 1; cat /root/from-host")) == "host-to-guest-vsock");

    // Guest to host: the guest connects to CID 2 port 5000; the VMM connects to <socket>_5000.
    int const listener = unix_listener(vsock + "_5000");
    CHECK(trimmed(vm->run("echo guest-to-host-vsock | socat -u - VSOCK-CONNECT:2:5000; echo $?")) == "0");
    CHECK(accept_and_read(listener, std::chrono::seconds(10)) == "guest-to-host-vsock\n");
    ::close(listener);
}
