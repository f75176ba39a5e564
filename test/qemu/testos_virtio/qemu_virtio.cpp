// SPDX-License-Identifier: Apache-2.0
// The QEMU launcher and file helpers behind the virtio driver tests (qemu_virtio.h).
#include "qemu_virtio.h"

#include "support/skip.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

namespace monarch::test::virtio {

using namespace std::chrono_literals;

char const* machine_name(Machine machine)
{
    switch (machine) {
    case Machine::Q35: return "q35";
    case Machine::Pc: return "pc";
    case Machine::Microvm: return "microvm";
    case Machine::MicrovmNoAcpi: return "microvm,acpi=off";
    }
    return "?";
}

bool is_mmio(Machine machine) { return machine == Machine::Microvm || machine == Machine::MicrovmNoAcpi; }

std::vector<std::string> device(Machine machine, std::string const& model, std::string const& properties)
{
    // Modern-only on PCI; virtio-mmio version 2 (QEMU's default for virtio-mmio is the legacy
    // version 1, which testos does not drive: see the -global in boot()).
    std::string name = is_mmio(machine) ? model + "-device" : model + "-pci,disable-legacy=on";
    return { "-device", name + properties };
}

ProcessResult boot(Machine machine, std::string const& cmdline, std::vector<std::string> const& extra)
{
    require_program("qemu-system-x86_64");
    std::vector<std::string> argv { "qemu-system-x86_64", "-accel", "tcg", "-M", machine_name(machine), "-kernel",
        TESTOS_ELF, "-append", cmdline, "-nographic", "-nodefaults", "-no-user-config", "-no-reboot", "-serial",
        "stdio", "-m", "64M", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-global",
        "virtio-mmio.force-legacy=false" };
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = run_process(argv, { .timeout = 50s });
    std::erase(result.output, '\r'); // the guest's serial lines end in CR LF
    return result;
}

void require_guest_status(ProcessResult const& result, int guest_status)
{
    INFO(describe(result));
    REQUIRE_FALSE(result.timed_out);
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == ((guest_status << 1) | 1));
    REQUIRE(contains(result.output, "testos: exit status " + std::to_string(guest_status) + "\n"));
}

bool contains(std::string const& haystack, std::string const& needle) { return haystack.find(needle) != std::string::npos; }

std::string result_field(std::string const& output, std::string const& prefix, std::string const& key)
{
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) != 0)
            continue;
        std::istringstream words(line.substr(prefix.size()));
        for (std::string word; words >> word;) {
            if (word.rfind(key + "=", 0) == 0)
                return word.substr(key.size() + 1);
        }
    }
    return "";
}

TempFile::TempFile(std::string const& name)
{
    std::string pattern = (std::filesystem::temp_directory_path() / "testos-virtio-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    REQUIRE(::mkdtemp(buffer.data()) != nullptr);
    m_directory = buffer.data();
    m_path = m_directory / name;
    std::ofstream(m_path, std::ios::binary).flush();
}

TempFile::~TempFile()
{
    std::error_code ignored;
    std::filesystem::remove_all(m_directory, ignored);
}

void TempFile::write(std::vector<uint8_t> const& bytes) const
{
    std::ofstream out(m_path, std::ios::binary | std::ios::trunc);
    // SAFETY: uint8_t and char have the same size and alignment; ofstream only reads the bytes.
    out.write(reinterpret_cast<char const*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::vector<uint8_t> TempFile::read() const
{
    std::ifstream in(m_path, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

uint64_t fresh_seed()
{
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 20 ^ device()) % 1000000000000ull + 1;
}

} // namespace monarch::test::virtio
