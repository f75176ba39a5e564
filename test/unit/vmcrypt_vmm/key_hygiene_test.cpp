// SPDX-License-Identifier: Apache-2.0
// monarch-vmm with --owner-key: the process is non-dumpable while the key is live, and the key
// never appears in its output, even at --log-level trace.
#include "built_guest.h"

#include "crypt/owner_key.h"
#include "support/skip.h"
#include "support/subprocess.h"

#include <cctype>
#include <chrono>
#include <fmt/format.h>
#include <csignal>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace monarch;
using crypt::sealtest::TempDir;
using monarch::vmm::vmcrypt::test::Bytes;

namespace {

std::string const VMM = MONARCH_BINARY_DIR "/src/vmm/monarch-vmm";
constexpr uid_t NOBODY = 65534;

// Starts monarch-vmm in API mode as `NOBODY` (so that the owner of /proc/PID/status tells whether it is
// dumpable: the kernel gives a non-dumpable task's /proc/PID/* files to root), with the key on fd 3
// when `with_key`. Returns the owner of /proc/PID/status once the API socket exists.
uid_t proc_owner_of_vmm(TempDir const& dir, bool with_key)
{
    auto const socket = dir.file(with_key ? "with.sock" : "without.sock");
    int key_pipe[2];
    REQUIRE(::pipe(key_pipe) == 0);
    Bytes key(32);
    randombytes_buf(key.data(), key.size());
    REQUIRE(::write(key_pipe[1], key.data(), key.size()) == 32);
    ::close(key_pipe[1]);
    pid_t const child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::dup2(key_pipe[0], 3);
        if (::setgid(NOBODY) != 0 || ::setuid(NOBODY) != 0)
            ::_exit(120);
        std::vector<char const*> argv { VMM.c_str(), "--api-socket", socket.c_str() };
        if (with_key) {
            argv.push_back("--owner-key");
            argv.push_back("fd=3");
        }
        argv.push_back(nullptr);
        ::execv(VMM.c_str(), const_cast<char* const*>(argv.data()));
        ::_exit(121);
    }
    ::close(key_pipe[0]);
    struct stat status {};
    bool ready = false;
    for (int i = 0; i < 300 && !ready; ++i) {
        ready = ::stat(socket.c_str(), &status) == 0;
        if (!ready)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    struct stat proc {};
    int const proc_result = ::stat(fmt::format("/proc/{}/status", child).c_str(), &proc);
    ::kill(child, SIGTERM);
    int wait_status = 0;
    ::waitpid(child, &wait_status, 0);
    REQUIRE(ready);
    REQUIRE(proc_result == 0);
    return proc.st_uid;
}

} // namespace

TEST_CASE("monarch-vmm with --owner-key is not dumpable, without it is", "[unit][vmcrypt][keys]")
{
    if (::geteuid() != 0)
        monarch::test::skip("needs root to run monarch-vmm as another user (the /proc owner check)");
    crypt::sealtest::init();
    TempDir dir;
    REQUIRE(::chmod(dir.path.c_str(), 0777) == 0);
    CHECK(proc_owner_of_vmm(dir, false) == NOBODY); // the check can tell the difference
    CHECK(proc_owner_of_vmm(dir, true) == 0);
}

TEST_CASE("the owner key never reaches monarch-vmm's output at --log-level trace", "[unit][vmcrypt][keys]")
{
    crypt::sealtest::init();
    TempDir dir;
    auto const key_path = dir.file("owner.key");
    REQUIRE(crypt::generate_owner_key_file(key_path).has_value());
    auto key = crypt::sealtest::read_file(key_path);
    REQUIRE(key.size() == 32);
    std::vector<std::string> forms;
    std::string hex(65, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<unsigned char const*>(key.data()), key.size());
    hex.pop_back();
    forms.push_back(hex);
    std::string upper = hex;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    forms.push_back(upper);
    for (int variant : { sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
             sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING }) {
        std::string base64(sodium_base64_ENCODED_LEN(32, variant), '\0');
        sodium_bin2base64(base64.data(), base64.size(), reinterpret_cast<unsigned char const*>(key.data()), key.size(), variant);
        base64.resize(std::strlen(base64.c_str()));
        forms.push_back(base64.substr(0, 40)); // any long run of it
    }
    auto result = monarch::test::run_process({ VMM, "--owner-key", "file=" + key_path, "--log-level", "trace",
        "--kernel", MONARCH_TESTOS_ELF, "--serial", "off", "--memory", "64M" });
    INFO(monarch::test::describe(result));
    REQUIRE(result.exited);
    // The key was loaded and trace logging was on (the VM itself stops at /dev/kvm here).
    CHECK(result.output.find("vmcrypt: owner key from file") != std::string::npos);
    for (auto const& form : forms) {
        INFO(form);
        CHECK(result.output.find(form) == std::string::npos);
    }
    // The raw bytes either.
    CHECK(result.output.find(std::string(reinterpret_cast<char const*>(key.data()), 16)) == std::string::npos);
}

TEST_CASE("monarch-vmm refuses a bad --owner-key source before anything else", "[unit][vmcrypt][keys]")
{
    TempDir dir;
    auto const key_path = dir.file("loose.key");
    crypt::sealtest::write_file(key_path, Bytes(32, std::byte { 1 }), 0644);
    auto loose = monarch::test::run_process({ VMM, "--owner-key", "file=" + key_path, "--serial", "off" });
    CHECK(loose.exited);
    CHECK(loose.exit_code == 64);
    CHECK(loose.output.find("--owner-key") != std::string::npos);
    auto missing = monarch::test::run_process({ VMM, "--owner-key", "file=" + dir.file("absent"), "--serial", "off" });
    CHECK(missing.exit_code == 66);
    auto bad = monarch::test::run_process({ VMM, "--owner-key", "key=abc" });
    CHECK(bad.exit_code == 64);
}
