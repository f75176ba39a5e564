// SPDX-License-Identifier: Apache-2.0
// EventLoop: fd watches fire on the loop's thread and stop when their FdWatch is destroyed,
// signals arrive through a signalfd, run() returns the first stop() status, post() crosses
// threads.
#include "vmm/event/event_loop.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <thread>
#include <unistd.h>

using namespace monarch::vmm::event;

TEST_CASE("event loop: an fd watch fires per readiness and ends with its FdWatch", "[unit][event]")
{
    EventLoop loop;
    int event = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(event >= 0);
    int fired = 0;
    std::unique_ptr<FdWatch> watch;
    auto made = loop.watch_readable(event, [&] {
        uint64_t count = 0;
        REQUIRE(::read(event, &count, sizeof count) == sizeof count);
        if (++fired == 2) {
            watch.reset(); // from inside its own callback
            uint64_t one = 1;
            REQUIRE(::write(event, &one, sizeof one) == sizeof one); // must not be seen
            loop.post([&] { loop.stop(9); });
            return;
        }
        uint64_t one = 1;
        REQUIRE(::write(event, &one, sizeof one) == sizeof one);
    });
    REQUIRE(made);
    watch = std::move(*made);
    uint64_t one = 1;
    REQUIRE(::write(event, &one, sizeof one) == sizeof one);
    CHECK(loop.run() == 9);
    CHECK(fired == 2);
    ::close(event); // the caller's fd was never closed by the loop
}

TEST_CASE("event loop: the first stop status wins and post crosses threads", "[unit][event]")
{
    EventLoop loop;
    std::thread other([&] { loop.post([&] { loop.stop(3); loop.stop(4); }); });
    CHECK(loop.run() == 3);
    other.join();
    CHECK(loop.stopped_with() == 3);
}

TEST_CASE("event loop: signals arrive through the signalfd watch", "[unit][event]")
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0);
    int signal_fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    REQUIRE(signal_fd >= 0);
    EventLoop loop;
    int seen = 0;
    auto watch = loop.watch_signals(signal_fd, [&](int signal_number) {
        seen = signal_number;
        loop.stop(143);
    });
    REQUIRE(watch);
    REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
    CHECK(loop.run() == 143);
    CHECK(seen == SIGUSR2);
    ::close(signal_fd);
}

TEST_CASE("event loop: watching a closed fd is an error, not a crash", "[unit][event]")
{
    EventLoop loop;
    auto watch = loop.watch_readable(12345, [] {});
    CHECK_FALSE(watch.has_value());
}
