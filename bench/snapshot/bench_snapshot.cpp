// SPDX-License-Identifier: Apache-2.0
// Snapshot writer and reader without a running guest: the sealed snapshot directory
// (snapshot::write_snapshot / read_snapshot, as vm.snapshot and a restore use them) against
// an unsealed write and read of the same guest memory (write(2)/read(2) of each RAM range,
// fsynced like the sealed files). Every page holds data (a pattern), so nothing is skipped.
// Usage: monarch-bench-snapshot DIR MiB... ; prints one Markdown row per size and operation.
#include "crypt/owner_key.h"
#include "crypt/sodium.h"
#include "vmm/memory/guest_memory_mmap.h"
#include "vmm/snapshot/snapshot_file.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <string>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

[[noreturn]] void die(std::string const& what)
{
    std::fprintf(stderr, "monarch-bench-snapshot: %s\n", what.c_str());
    std::exit(1);
}

GuestMemoryMmap filled_memory(uint64_t bytes)
{
    auto memory = GuestMemoryMmap::create(bytes, 0);
    if (!memory)
        die(to_string(memory.error()));
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (auto const& region : memory->regions()) {
        // SAFETY: the region is a page-aligned mapping of range.size bytes, owned by `memory`.
        auto* words = reinterpret_cast<uint64_t*>(region.host);
        for (size_t i = 0; i < region.range.size / sizeof(uint64_t); ++i) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            words[i] = seed;
        }
    }
    return std::move(*memory);
}

double plain_write(std::string const& path, GuestMemoryMmap& memory)
{
    auto const start = Clock::now();
    // SAFETY: open(2) with a NUL-terminated path; closed below.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        die("open " + path);
    for (auto const& region : memory.regions()) {
        for (size_t done = 0; done < region.range.size;) {
            ssize_t n = ::write(fd, region.host + done, region.range.size - done);
            if (n <= 0)
                die("write");
            done += static_cast<size_t>(n);
        }
    }
    if (::fsync(fd) != 0)
        die("fsync");
    ::close(fd);
    return seconds_since(start);
}

double plain_read(std::string const& path, GuestMemoryMmap& memory)
{
    auto const start = Clock::now();
    // SAFETY: open(2) with a NUL-terminated path; closed below.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open " + path);
    for (auto const& region : memory.regions()) {
        for (size_t done = 0; done < region.range.size;) {
            ssize_t n = ::read(fd, region.host + done, region.range.size - done);
            if (n <= 0)
                die("read");
            done += static_cast<size_t>(n);
        }
    }
    ::close(fd);
    return seconds_since(start);
}

void row(uint64_t mib, std::string_view what, double sealed, double plain)
{
    std::printf("| %lu | %.*s | %.3f | %.3f | %.2f | %.2f |\n", static_cast<unsigned long>(mib), static_cast<int>(what.size()), what.data(),
        sealed, plain, sealed / plain, static_cast<double>(mib) / 1024.0 / sealed);
    std::fflush(stdout);
}

void measure(std::string const& directory, uint64_t mib, vmcrypt::VmSealing& sealing)
{
    auto memory = filled_memory(mib << 20);
    auto const sealed_dir = fmt::format("{}/sealed-{}", directory, mib);
    auto const plain_file = fmt::format("{}/plain-{}.raw", directory, mib);
    auto start = Clock::now();
    auto written = snapshot::write_snapshot(sealed_dir, memory, sealing, {}, nlohmann::json::object());
    double const sealed_write = seconds_since(start);
    if (!written)
        die(to_string(written.error()));
    double const unsealed_write = plain_write(plain_file, memory);
    // Reading back: the page cache holds both files (a restore on the same host right after).
    auto target = GuestMemoryMmap::create(mib << 20, 0);
    if (!target)
        die(to_string(target.error()));
    start = Clock::now();
    auto restored = snapshot::read_snapshot(sealed_dir, sealing.owner(), *target, written->generation);
    double const sealed_read = seconds_since(start);
    if (!restored)
        die(snapshot::describe(restored.error()));
    auto plain_target = GuestMemoryMmap::create(mib << 20, 0);
    double const unsealed_read = plain_read(plain_file, *plain_target);
    row(mib, "snapshot (write, fsync)", sealed_write, unsealed_write);
    row(mib, "restore (read into new RAM)", sealed_read, unsealed_read);
    std::filesystem::remove_all(sealed_dir);
    std::filesystem::remove(plain_file);
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 3)
        die("usage: monarch-bench-snapshot DIR MiB...");
    if (!crypt::initialize())
        die("libsodium");
    auto owner = crypt::OwnerKey::generate();
    if (!owner)
        die(to_string(owner.error()));
    auto sealing = vmcrypt::VmSealing::create_default(std::move(*owner));
    if (!sealing)
        die(to_string(sealing.error()));
    std::printf("| guest MiB | operation | sealed s | unsealed s | sealed / unsealed | sealed GiB/s |\n");
    std::printf("| --- | --- | --- | --- | --- | --- |\n");
    for (int i = 2; i < argc; ++i)
        measure(argv[1], std::strtoull(argv[i], nullptr, 10), *sealing);
    return 0;
}
