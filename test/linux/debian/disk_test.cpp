// SPDX-License-Identifier: Apache-2.0
// The stock guest's disks: what it writes and syncs is on the image after it powers off (read
// back on the host with debugfs, without mounting), a readonly=on disk is read-only inside the
// guest, the guest's discards reach the image (its allocated blocks shrink), and an image in
// use is locked against a second VM.
#include "debian_vm.h"
#include "support/subprocess.h"
#include "vmm_process.h"

#include <catch2/catch.hpp>
#include <sys/stat.h>

using namespace monarch::test;

namespace {

// Bytes the file system really holds for `path` (a sparse image's allocated blocks).
uint64_t allocated_bytes(std::string const& path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

// A small ext4 image holding one file, made on the host.
std::string data_disk()
{
    std::string const directory = scratch_directory() + "/data-root";
    std::string const image = scratch_directory() + "/data.raw";
    auto const made = run_process({ "sh", "-c",
        "mkdir -p '" + directory + "' && echo from-the-host > '" + directory + "/hello.txt' && truncate -s 64M '" + image
            + "' && mke2fs -q -t ext4 -d '" + directory + "' '" + image + "'" });
    INFO(describe(made));
    REQUIRE(made.exited);
    REQUIRE(made.exit_code == 0);
    return image;
}

} // namespace

TEST_CASE("what the guest syncs is on the image after power-off, a readonly disk is read-only, discards reach the image, images in use are locked",
    "[linux][disk]")
{
    std::string const data = data_disk();
    std::string why;
    auto vm = DebianVm::boot({ .extra = { "--disk", "path=" + data + ",readonly=on" } }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());

    // Read-only: the block layer says so, a raw write is refused, and the file system mounts
    // read-only with the host's file readable.
    CHECK(trimmed(vm->run("cat /sys/block/vdb/ro")) == "1");
    CHECK(trimmed(vm->run("dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; echo status=$?")) != "status=0");
    CHECK(trimmed(vm->run("mount /dev/vdb /mnt 2>/dev/null; cat /mnt/hello.txt; findmnt -n -o OPTIONS /mnt | cut -d, -f1"))
        == "from-the-host\nro");

    // The images are locked while this VM has them: a second VM on the read-write root image
    // is refused (status 75, before its guest starts), while the readonly=on data image may be
    // shared by another VM that also has it readonly=on (the built-in test guest, which ends).
    auto const second = run_vmm({ "--disk", "path=" + vm->disk() }, std::chrono::seconds(60));
    INFO(describe(second));
    CHECK(second.exit_code == 75);
    CHECK(second.output.find("in use by another VM") != std::string::npos);
    auto const sharing = run_vmm({ "--disk", "path=" + data + ",readonly=on" }, std::chrono::seconds(60));
    INFO(describe(sharing));
    CHECK(sharing.exit_code == 0);
    auto const writer = run_vmm({ "--disk", "path=" + data }, std::chrono::seconds(60));
    CHECK(writer.exit_code == 75);

    // Discard: 64 MiB written and synced, then deleted; the root file system is mounted with
    // `discard` and fstrim asks for the rest, so the image's allocated bytes drop by at least half of it.
    REQUIRE(vm->run("dd if=/dev/urandom of=/root/big bs=1M count=64 status=none; sync", std::chrono::seconds(120)));
    uint64_t const with_file = allocated_bytes(vm->disk());
    REQUIRE(vm->run("rm /root/big; sync; fstrim / ; sync", std::chrono::seconds(120)));
    uint64_t const without_file = allocated_bytes(vm->disk());
    INFO("allocated with the file " << with_file << " bytes, without " << without_file);
    CHECK(without_file + 32 * 1024 * 1024 <= with_file);

    // Durability: written, synced, powered off; then read on the host from the image itself.
    REQUIRE(vm->run("echo monarch-$((6 * 7)) > /root/persist.txt; sync"));
    REQUIRE(vm->shell().send("poweroff\n"));
    auto const end = vm->vmm().wait_exit(std::chrono::seconds(120));
    REQUIRE(end);
    CHECK(end->exited);
    CHECK(end->exit_code == 0);
    auto const read = run_process({ "debugfs", "-R", "cat /root/persist.txt", vm->disk() });
    INFO(describe(read));
    CHECK(read.output.find("monarch-42") != std::string::npos);
}
