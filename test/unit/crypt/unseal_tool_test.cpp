// SPDX-License-Identifier: Apache-2.0
// monarch-unseal end to end, as a subprocess: keygen, inspect, extract, and its exit
// statuses for tampered streams, wrong keys, loose key files and missing files.
#include "crypt_test_support.h"
#include "support/subprocess.h"

#include <sys/stat.h>

using namespace monarch;
using namespace monarch::crypt;
using sealtest::Bytes;

namespace {

constexpr size_t page = format::page_size;

struct Fixture {
    sealtest::TempDir dir;
    std::string key_path = dir.file("owner.key");
    std::string stream_path = dir.file("snapshot.sealed");
    Bytes low = sealtest::pattern_bytes(3 * page, 1);
    Bytes high = sealtest::pattern_bytes(300 * page, 2);
    Bytes regs = sealtest::pattern_bytes(777, 3);
    Bytes uart = sealtest::pattern_bytes(64, 4);
    VmUuid vm = sealtest::uuid_filled(0xab);

    Fixture()
    {
        sealtest::init();
        REQUIRE(generate_owner_key_file(key_path).has_value());
        auto owner = OwnerKey::from_file(key_path);
        REQUIRE(owner.has_value());
        auto keys = SealingKeys::create(*owner, vm, preferred_cipher());
        REQUIRE(keys.has_value());
        // A hole of zero pages in the middle of `low`, to see the image stay sparse there.
        std::fill_n(low.begin() + page, page, std::byte(0));
        auto stream = sealtest::write_stream(*keys, Generation(12), [&](StreamWriter& writer) {
            REQUIRE(writer.append_pages(GuestPhysAddr(0x1000), low).has_value());
            REQUIRE(writer.append_state("vcpu0.regs", regs).has_value());
            REQUIRE(writer.append_pages(GuestPhysAddr(0x200000), high).has_value());
            REQUIRE(writer.append_state("uart", uart).has_value());
        });
        sealtest::write_file(stream_path, stream, 0600);
    }

    monarch::test::ProcessResult unseal(std::vector<std::string> arguments, monarch::test::ProcessOptions options = {})
    {
        arguments.insert(arguments.begin(), MONARCH_UNSEAL);
        auto result = monarch::test::run_process(arguments, options);
        INFO(monarch::test::describe(result));
        REQUIRE(result.exited);
        return result;
    }
};

Bytes slice(Bytes const& bytes, size_t offset, size_t size)
{
    REQUIRE(offset + size <= bytes.size());
    return Bytes(bytes.begin() + static_cast<ptrdiff_t>(offset), bytes.begin() + static_cast<ptrdiff_t>(offset + size));
}

} // namespace

TEST_CASE("monarch-unseal extract writes memory at its GPAs and the state blobs", "[unit][crypt]")
{
    Fixture f;
    auto memory = f.dir.file("memory.raw");
    auto state = f.dir.file("state");
    auto result = f.unseal({ "--key-file", f.key_path, "extract", f.stream_path, "--memory", memory, "--state-dir", state });
    INFO(result.output);
    REQUIRE(result.exit_code == 0);

    auto image = sealtest::read_file(memory);
    REQUIRE(image.size() == 0x200000 + f.high.size());
    REQUIRE(slice(image, 0, 0x1000) == Bytes(0x1000));
    REQUIRE(slice(image, 0x1000, f.low.size()) == f.low);
    REQUIRE(slice(image, 0x1000 + f.low.size(), 0x200000 - 0x1000 - f.low.size()) == Bytes(0x200000 - 0x1000 - f.low.size()));
    REQUIRE(slice(image, 0x200000, f.high.size()) == f.high);
    struct stat info {};
    REQUIRE(::stat(memory.c_str(), &info) == 0);
    REQUIRE((info.st_mode & 0777) == 0600);
    // Sparse: far fewer blocks allocated than the 3.2 MB the image spans.
    REQUIRE(uint64_t(info.st_blocks) * 512 < 0x200000);

    REQUIRE(sealtest::read_file(state + "/vcpu0.regs") == f.regs);
    REQUIRE(sealtest::read_file(state + "/uart") == f.uart);
}

TEST_CASE("monarch-unseal inspect lists the header and every record", "[unit][crypt]")
{
    Fixture f;
    auto result = f.unseal({ "--key-file", f.key_path, "inspect", f.stream_path });
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    REQUIRE(result.output.find(f.vm.to_string()) != std::string::npos);
    REQUIRE(result.output.find("generation: 12") != std::string::npos);
    REQUIRE(result.output.find(std::string(to_string(preferred_cipher()))) != std::string::npos);
    REQUIRE(result.output.find("state vcpu0.regs bytes 777") != std::string::npos);
    REQUIRE(result.output.find("memory gpa 0x200000 pages 256") != std::string::npos);
    REQUIRE(result.output.find("memory gpa 0x300000 pages 44") != std::string::npos);
    REQUIRE(result.output.find("end records 6 pages 303") != std::string::npos);
    // The key option may also follow the subcommand.
    REQUIRE(f.unseal({ "inspect", f.stream_path, "--key-file", f.key_path }).exit_code == 0);
}

TEST_CASE("monarch-unseal takes the key from an inherited descriptor", "[unit][crypt]")
{
    Fixture f;
    auto key = sealtest::read_file(f.key_path);
    monarch::test::ProcessOptions options;
    options.stdin_data = std::string(reinterpret_cast<char const*>(key.data()), key.size());
    auto result = f.unseal({ "--key-fd", "0", "inspect", f.stream_path }, options);
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
}

TEST_CASE("monarch-unseal exits 1 on a tampered stream or a wrong key, and leaves no output", "[unit][crypt]")
{
    Fixture f;
    auto stream = sealtest::read_file(f.stream_path);
    stream[stream.size() / 2] ^= std::byte(0x20);
    auto tampered = f.dir.file("tampered.sealed");
    sealtest::write_file(tampered, stream, 0600);
    auto memory = f.dir.file("memory.raw");
    auto state = f.dir.file("state");
    auto result = f.unseal({ "--key-file", f.key_path, "extract", tampered, "--memory", memory, "--state-dir", state });
    INFO(result.output);
    REQUIRE(result.exit_code == 1);
    REQUIRE(result.output.find("sealed stream: ") != std::string::npos);
    REQUIRE(::access(memory.c_str(), F_OK) != 0);
    REQUIRE(::access((state + "/vcpu0.regs").c_str(), F_OK) != 0);

    auto other_key = f.dir.file("other.key");
    REQUIRE(generate_owner_key_file(other_key).has_value());
    result = f.unseal({ "--key-file", other_key, "inspect", f.stream_path });
    REQUIRE(result.exit_code == 1);
    REQUIRE(result.output.find("wrong owner key or damaged key wrap") != std::string::npos);
}

TEST_CASE("monarch-unseal exits 2 on usage errors and a loose key file, 3 on I/O errors", "[unit][crypt]")
{
    Fixture f;
    REQUIRE(f.unseal({}).exit_code == 2);
    REQUIRE(f.unseal({ "inspect", f.stream_path }).exit_code == 2);                  // no key
    REQUIRE(f.unseal({ "--key-file", f.key_path, "extract", f.stream_path }).exit_code == 2); // no output
    REQUIRE(f.unseal({ "--key-file", f.key_path, "frobnicate" }).exit_code == 2);
    REQUIRE(::chmod(f.key_path.c_str(), 0644) == 0);
    auto loose = f.unseal({ "--key-file", f.key_path, "inspect", f.stream_path });
    REQUIRE(loose.exit_code == 2);
    REQUIRE(loose.output.find("chmod 600") != std::string::npos);
    REQUIRE(::chmod(f.key_path.c_str(), 0600) == 0);
    REQUIRE(f.unseal({ "--key-file", f.key_path, "inspect", f.dir.file("missing") }).exit_code == 3);
    REQUIRE(f.unseal({ "--key-file", f.dir.file("missing.key"), "inspect", f.stream_path }).exit_code == 3);
    REQUIRE(f.unseal({ "keygen", f.key_path }).exit_code == 3); // exists: never overwritten
}

TEST_CASE("monarch-unseal keygen creates a usable mode-600 key", "[unit][crypt]")
{
    Fixture f;
    auto path = f.dir.file("new.key");
    auto result = f.unseal({ "keygen", path });
    REQUIRE(result.exit_code == 0);
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    REQUIRE((info.st_mode & 0777) == 0600);
    REQUIRE(info.st_size == 32);
    REQUIRE(OwnerKey::from_file(path).has_value());
}
