// SPDX-License-Identifier: Apache-2.0
// VmController over a fake backend: every transition allowed and refused, with the status of
// each refusal, and what reaches the backend (nothing, when a request is refused).
#include "fake_backend.h"
#include "vmm/api/vm_controller.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm::api;
using State = VmState;

namespace {

vmm::machine::VmConfig small_config()
{
    vmm::machine::VmConfig config;
    config.kernel = "/k";
    config.memory = 64ULL << 20;
    return config;
}

void require_status(ApiResult<void> const& result, unsigned status)
{
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().status == status);
    CHECK_FALSE(result.error().message.empty());
}

// A controller driven into `state` through allowed requests only.
void drive(VmController& controller, State state)
{
    if (state == State::NotCreated)
        return;
    REQUIRE(controller.create(small_config()));
    if (state == State::Created)
        return;
    REQUIRE(controller.boot());
    if (state == State::Paused)
        REQUIRE(controller.pause());
    if (state == State::Shutdown)
        REQUIRE(controller.shutdown());
    REQUIRE(controller.state() == state);
}

} // namespace

TEST_CASE("vm controller: the whole life cycle, step by step", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    CHECK(controller.state() == State::NotCreated);
    REQUIRE(controller.create(small_config()));
    CHECK(controller.state() == State::Created);
    CHECK(backend.calls.empty()); // creating builds nothing yet
    REQUIRE(controller.boot());
    CHECK(controller.state() == State::Running);
    CHECK(backend.booted_kernel == "/k");
    REQUIRE(controller.pause());
    CHECK(controller.state() == State::Paused);
    REQUIRE(controller.resume());
    CHECK(controller.state() == State::Running);
    REQUIRE(controller.power_button());
    REQUIRE(controller.reboot());
    CHECK(controller.state() == State::Running);
    REQUIRE(controller.shutdown());
    CHECK(controller.state() == State::Shutdown);
    REQUIRE(controller.boot()); // booting again after a shutdown, from the kept config
    CHECK(controller.state() == State::Running);
    REQUIRE(controller.remove());
    CHECK(controller.state() == State::NotCreated);
    CHECK(backend.calls == std::vector<std::string> { "boot", "pause", "resume", "power_button", "reboot",
                                                      "shutdown", "boot", "shutdown" });
}

TEST_CASE("vm controller: requests without a VM are 404 and reach nothing", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    require_status(controller.boot(), STATUS_NOT_CREATED);
    require_status(controller.pause(), STATUS_NOT_CREATED);
    require_status(controller.resume(), STATUS_NOT_CREATED);
    require_status(controller.shutdown(), STATUS_NOT_CREATED);
    require_status(controller.reboot(), STATUS_NOT_CREATED);
    require_status(controller.power_button(), STATUS_NOT_CREATED);
    CHECK_FALSE(controller.info().has_value());
    CHECK(controller.info().error().status == STATUS_NOT_CREATED);
    CHECK(controller.counters().error().status == STATUS_NOT_CREATED);
    CHECK(controller.remove().has_value()); // deleting nothing succeeds, as in CH
    CHECK(backend.calls.empty());
}

TEST_CASE("vm controller: refused transitions per state", "[unit][api]")
{
    struct Case {
        State state;
        std::function<ApiResult<void>(VmController&)> request;
        char const* name;
        unsigned status;
    };
    auto create = [](VmController& c) { return c.create(small_config()); };
    std::vector<Case> const cases {
        { State::Created, create, "create twice", STATUS_ALREADY_CREATED },
        { State::Running, create, "create while running", STATUS_ALREADY_CREATED },
        { State::Shutdown, create, "create after shutdown", STATUS_ALREADY_CREATED },
        { State::Created, &VmController::pause, "pause a created VM", STATUS_WRONG_STATE },
        { State::Created, &VmController::resume, "resume a created VM", STATUS_WRONG_STATE },
        { State::Created, &VmController::shutdown, "shut down a created VM", STATUS_WRONG_STATE },
        { State::Created, &VmController::reboot, "reboot a created VM", STATUS_WRONG_STATE },
        { State::Created, &VmController::power_button, "power button of a created VM", STATUS_WRONG_STATE },
        { State::Running, &VmController::boot, "boot twice", STATUS_WRONG_STATE },
        { State::Running, &VmController::resume, "resume a running VM", STATUS_WRONG_STATE },
        { State::Paused, &VmController::boot, "boot a paused VM", STATUS_WRONG_STATE },
        { State::Paused, &VmController::pause, "pause twice", STATUS_WRONG_STATE },
        { State::Shutdown, &VmController::pause, "pause a stopped VM", STATUS_WRONG_STATE },
        { State::Shutdown, &VmController::resume, "resume a stopped VM", STATUS_WRONG_STATE },
        { State::Shutdown, &VmController::shutdown, "shut down twice", STATUS_WRONG_STATE },
        { State::Shutdown, &VmController::reboot, "reboot a stopped VM", STATUS_WRONG_STATE },
        { State::Shutdown, &VmController::power_button, "power button of a stopped VM", STATUS_WRONG_STATE },
    };
    for (auto const& entry : cases) {
        INFO(entry.name);
        test::FakeBackend backend;
        VmController controller(backend);
        drive(controller, entry.state);
        auto const calls_before = backend.calls.size();
        require_status(entry.request(controller), entry.status);
        CHECK(controller.state() == entry.state);
        CHECK(backend.calls.size() == calls_before);
    }
}

TEST_CASE("vm controller: allowed transitions from Paused", "[unit][api]")
{
    for (auto request : { &VmController::shutdown, &VmController::reboot, &VmController::power_button, &VmController::remove }) {
        test::FakeBackend backend;
        VmController controller(backend);
        drive(controller, State::Paused);
        REQUIRE((controller.*request)());
        CHECK((controller.state() != State::Paused || request == &VmController::power_button));
    }
}

TEST_CASE("vm controller: a failed boot leaves the VM Created with the backend's message", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    drive(controller, State::Created);
    backend.fail_next_boot = true;
    auto booted = controller.boot();
    REQUIRE_FALSE(booted);
    CHECK(booted.error().status == STATUS_BACKEND_FAILED);
    CHECK(booted.error().message == "no /dev/kvm here");
    CHECK(controller.state() == State::Created);
    REQUIRE(controller.boot()); // and a later boot may succeed
    CHECK(controller.state() == State::Running);
}

TEST_CASE("vm controller: a reboot whose boot fails leaves the VM Shutdown", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    drive(controller, State::Running);
    backend.fail_next_boot = true;
    require_status(controller.reboot(), STATUS_BACKEND_FAILED);
    CHECK(controller.state() == State::Shutdown);
    CHECK_FALSE(backend.running);
}

TEST_CASE("vm controller: delete stops a booted VM", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    drive(controller, State::Running);
    REQUIRE(controller.remove());
    CHECK(controller.state() == State::NotCreated);
    CHECK_FALSE(backend.running);
    REQUIRE(controller.create(small_config())); // and a new VM may be created
}

TEST_CASE("vm controller: info and counters", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    drive(controller, State::Created);
    auto created = controller.info();
    REQUIRE(created);
    CHECK(created->state == State::Created);
    CHECK(created->config.kernel == "/k");
    CHECK(created->details.memory_actual_size == 64ULL << 20);
    CHECK_FALSE(created->details.serial_pty); // only a booted VM has a pty
    CHECK(controller.counters().error().status == STATUS_WRONG_STATE);
    REQUIRE(controller.boot());
    auto running = controller.info();
    REQUIRE(running);
    CHECK(running->details.serial_pty == std::optional<std::string>("/dev/pts/9"));
    auto counters = controller.counters();
    REQUIRE(counters);
    CHECK(counters->at("vcpus").at("exits") == 42);
}

TEST_CASE("vm controller: stop_for_exit stops a booted VM only", "[unit][api]")
{
    test::FakeBackend backend;
    VmController controller(backend);
    controller.stop_for_exit();
    CHECK(backend.calls.empty());
    drive(controller, State::Running);
    controller.stop_for_exit();
    CHECK(controller.state() == State::Shutdown);
    CHECK(backend.calls.back() == "shutdown");
}
