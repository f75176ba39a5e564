// SPDX-License-Identifier: Apache-2.0
// Booting testos under QEMU TCG with virtio devices attached, for the virtio driver tests: the
// machines (q35, pc, microvm with and without ACPI), temporary disk images and files, and the
// guest's result lines ("NAME: result=ok transport=...").
#pragma once

#include "support/subprocess.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace monarch::test::virtio {

// The machine and transport a device is attached with.
enum class Machine { Q35, Pc, Microvm, MicrovmNoAcpi };

char const* machine_name(Machine);
bool is_mmio(Machine);
// "-device <model>-pci,disable-legacy=on" or "-device <model>-device": model is "virtio-blk",
// "virtio-rng", "virtio-serial", "virtio-net"; properties are appended (",drive=d0").
std::vector<std::string> device(Machine, std::string const& model, std::string const& properties = "");

// Runs testos with `cmdline` on `machine` plus the extra QEMU arguments.
ProcessResult boot(Machine, std::string const& cmdline, std::vector<std::string> const& extra);

// QEMU's isa-debug-exit status for the guest's status (v << 1) | 1, and the guest's own line.
void require_guest_status(ProcessResult const&, int guest_status);
bool contains(std::string const& haystack, std::string const& needle);
// The value of key=VALUE in the first line starting with `prefix`, or "" if absent.
std::string result_field(std::string const& output, std::string const& prefix, std::string const& key);

// A file in a fresh temporary directory, removed with it.
class TempFile {
public:
    explicit TempFile(std::string const& name);
    ~TempFile();
    TempFile(TempFile const&) = delete;
    TempFile& operator=(TempFile const&) = delete;
    [[nodiscard]] std::string path() const { return m_path.string(); }
    void write(std::vector<uint8_t> const& bytes) const;
    [[nodiscard]] std::vector<uint8_t> read() const;

private:
    std::filesystem::path m_directory;
    std::filesystem::path m_path;
};

// A seed for the guest's pattern, different in every run.
uint64_t fresh_seed();

} // namespace monarch::test::virtio
