// SPDX-License-Identifier: Apache-2.0
// testos's virtio-rng and virtio-console over virtio-mmio transports it learns only from the
// kernel command line's virtio_mmio.device= words (QEMU microvm with acpi=off writes them, as
// monarch-vmm does for transport=mmio devices): the discovery path monarch-vmm's guests take.
#include "qemu_virtio.h"
#include "testos/abi.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using namespace monarch::test;
using namespace monarch::test::virtio;

TEST_CASE("virtio-rng and virtio-console over virtio-mmio found on the command line (microvm, acpi=off)", "[qemu][virtio][mmio]")
{
    auto const machine = Machine::MicrovmNoAcpi;
    auto rng = boot(machine, "testos.run=virtio-rng:500", device(machine, "virtio-rng"));
    INFO(rng.output);
    require_guest_status(rng, TESTOS_EXIT_SUCCESS);
    CHECK(contains(rng.output, "(from command line)"));
    CHECK_FALSE(contains(rng.output, "(from ACPI DSDT)"));
    CHECK(result_field(rng.output, "virtio-rng: ", "transport") == "mmio");
    CHECK(result_field(rng.output, "virtio-rng: ", "bytes") == "500");

    TempFile out("console.txt");
    uint64_t const seed = fresh_seed();
    std::vector<std::string> extra { "-chardev", "file,id=c0,path=" + out.path() };
    auto serial = device(machine, "virtio-serial");
    extra.insert(extra.end(), serial.begin(), serial.end());
    extra.insert(extra.end(), { "-device", "virtconsole,chardev=c0" });
    auto console = boot(machine, "testos.run=virtio-console testos.seed=" + std::to_string(seed), extra);
    INFO(console.output);
    require_guest_status(console, TESTOS_EXIT_SUCCESS);
    CHECK(contains(console.output, "(from command line)"));
    CHECK(result_field(console.output, "virtio-console: ", "transport") == "mmio");
    auto bytes = out.read();
    CHECK(std::string(bytes.begin(), bytes.end()) == "testos: virtio-console port 0 says hello (seed " + std::to_string(seed) + ")\n");
}

TEST_CASE("a virtio_mmio.device= word with nothing behind it is skipped", "[qemu][virtio][mmio]")
{
    // Monarch's window address, on a machine that has no device there: the probe reads no magic
    // and the workload reports that there is no device instead of touching it.
    auto result = boot(Machine::MicrovmNoAcpi, "virtio_mmio.device=4K@0xf0000000:5 testos.run=virtio-rng", {});
    INFO(result.output);
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    CHECK(contains(result.output, "virtio: mmio f0000000 (command line): no virtio magic"));
    CHECK(contains(result.output, "no virtio-rng device"));
}
