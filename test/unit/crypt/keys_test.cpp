// SPDX-License-Identifier: Apache-2.0
// Owner keys (files, descriptors, generation) and the wrapping of data keys.
#include "crypt/data_key.h"
#include "crypt/owner_key.h"
#include "crypt_test_support.h"
#include "support/skip.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::crypt;

namespace {

bool same_key(OwnerKey const& key, std::span<std::byte const> expected)
{
    return std::equal(expected.begin(), expected.end(), key.secret().bytes().begin(), key.secret().bytes().end());
}

std::string hex_of(sealtest::Bytes const& bytes)
{
    std::string hex(bytes.size() * 2 + 1, '\0');
    // SAFETY: std::byte and unsigned char views of the same bytes.
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<unsigned char const*>(bytes.data()), bytes.size());
    hex.pop_back();
    return hex;
}

sealtest::Bytes as_bytes(std::string const& text)
{
    sealtest::Bytes bytes(text.size());
    std::memcpy(bytes.data(), text.data(), text.size());
    return bytes;
}

} // namespace

TEST_CASE("generated key file is mode 600, 32 bytes, and loads back", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    auto path = dir.file("owner.key");
    auto old_umask = ::umask(0); // a permissive umask must not widen the mode
    auto made = generate_owner_key_file(path);
    ::umask(old_umask);
    REQUIRE(made.has_value());
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    REQUIRE((info.st_mode & 0777) == 0600);
    auto content = sealtest::read_file(path);
    REQUIRE(content.size() == owner_key_size);
    auto key = OwnerKey::from_file(path);
    REQUIRE(key.has_value());
    REQUIRE(same_key(*key, content));
    // O_EXCL: an existing key is never overwritten.
    auto again = generate_owner_key_file(path);
    REQUIRE_FALSE(again.has_value());
    REQUIRE(again.error().sys_errno == EEXIST);
    REQUIRE(sealtest::read_file(path) == content);
}

TEST_CASE("key file in hex, with or without a newline, is accepted", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    auto raw = sealtest::pattern_bytes(32, 3);
    for (auto text : { hex_of(raw), hex_of(raw) + "\n" }) {
        sealtest::write_file(dir.file("hex.key"), as_bytes(text), 0600);
        auto key = OwnerKey::from_file(dir.file("hex.key"));
        REQUIRE(key.has_value());
        REQUIRE(same_key(*key, raw));
    }
}

TEST_CASE("key file readable by group or others is refused with how to fix it", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    for (unsigned mode : { 0644u, 0640u, 0604u, 0620u, 0602u }) {
        INFO("mode " << std::oct << mode);
        sealtest::write_file(dir.file("loose.key"), sealtest::pattern_bytes(32, 4), mode);
        auto key = OwnerKey::from_file(dir.file("loose.key"));
        REQUIRE_FALSE(key.has_value());
        REQUIRE(key.error().code == Errc::InvalidArgument);
        REQUIRE(std::string(key.error().context).find("chmod 600") != std::string::npos);
    }
}

TEST_CASE("key file of the wrong length or not hex is refused", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    auto path = dir.file("bad.key");
    std::vector<sealtest::Bytes> bad = { {}, sealtest::pattern_bytes(31, 5), sealtest::pattern_bytes(33, 5),
        as_bytes(std::string(63, 'a')), as_bytes(std::string(65, 'a')), as_bytes(std::string(64, 'g')),
        sealtest::pattern_bytes(4096, 5) };
    for (auto const& content : bad) {
        INFO("size " << content.size());
        sealtest::write_file(path, content, 0600);
        auto key = OwnerKey::from_file(path);
        REQUIRE_FALSE(key.has_value());
        REQUIRE(key.error().code == Errc::InvalidArgument);
    }
}

TEST_CASE("key file that is a symlink or a directory is refused", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    sealtest::write_file(dir.file("real.key"), sealtest::pattern_bytes(32, 6), 0600);
    REQUIRE(::symlink(dir.file("real.key").c_str(), dir.file("link.key").c_str()) == 0);
    auto linked = OwnerKey::from_file(dir.file("link.key"));
    REQUIRE_FALSE(linked.has_value());
    REQUIRE(linked.error().sys_errno == ELOOP);
    auto directory = OwnerKey::from_file(dir.path.string());
    REQUIRE_FALSE(directory.has_value());
}

TEST_CASE("key file owned by another user is refused", "[unit][crypt]")
{
    sealtest::init();
    sealtest::TempDir dir;
    auto path = dir.file("foreign.key");
    sealtest::write_file(path, sealtest::pattern_bytes(32, 7), 0600);
    if (::chown(path.c_str(), 65534, 65534) != 0)
        monarch::test::skip("cannot chown a file to another user here (needs root)");
    auto key = OwnerKey::from_file(path);
    REQUIRE_FALSE(key.has_value());
    REQUIRE(key.error().code == Errc::InvalidArgument);
}

TEST_CASE("owner key from an inherited descriptor: exactly 32 bytes, then closed", "[unit][crypt]")
{
    sealtest::init();
    auto raw = sealtest::pattern_bytes(32, 8);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], raw.data(), raw.size()) == 32);
    ::close(fds[1]);
    auto key = OwnerKey::from_fd(UniqueFd(fds[0]));
    REQUIRE(key.has_value());
    REQUIRE(same_key(*key, raw));
    errno = 0;
    REQUIRE(::fcntl(fds[0], F_GETFD) == -1);
    REQUIRE(errno == EBADF);

    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], raw.data(), 20) == 20);
    ::close(fds[1]);
    auto short_key = OwnerKey::from_fd(UniqueFd(fds[0]));
    REQUIRE_FALSE(short_key.has_value());
    REQUIRE(short_key.error().code == Errc::InvalidArgument);
}

TEST_CASE("data key wrap round-trips and binds owner key, UUID and cipher", "[unit][crypt]")
{
    sealtest::init();
    auto owner = OwnerKey::generate();
    auto other_owner = OwnerKey::generate();
    auto data = DataKey::generate();
    REQUIRE((owner && other_owner && data));
    auto vm = sealtest::uuid_filled(0x11);
    auto wrapped = wrap_data_key(*owner, *data, vm, Cipher::XChaCha20Poly1305);
    REQUIRE(wrapped.has_value());

    auto unwrapped = unwrap_data_key(*owner, *wrapped, vm, Cipher::XChaCha20Poly1305);
    REQUIRE(unwrapped.has_value());
    REQUIRE(std::ranges::equal(unwrapped->secret().bytes(), data->secret().bytes()));

    auto expect_refused = [](Result<DataKey> const& result) {
        REQUIRE_FALSE(result.has_value());
        REQUIRE(result.error().code == Errc::Corrupt);
        REQUIRE(result.error().context == "wrong owner key or damaged key wrap");
    };
    expect_refused(unwrap_data_key(*other_owner, *wrapped, vm, Cipher::XChaCha20Poly1305));
    expect_refused(unwrap_data_key(*owner, *wrapped, sealtest::uuid_filled(0x12), Cipher::XChaCha20Poly1305));
    expect_refused(unwrap_data_key(*owner, *wrapped, vm, Cipher::Aes256Gcm));
    for (size_t i = 0; i < wrapped->sealed.size(); i += 7) {
        auto damaged = *wrapped;
        damaged.sealed[i] ^= std::byte(1);
        expect_refused(unwrap_data_key(*owner, damaged, vm, Cipher::XChaCha20Poly1305));
    }
    auto damaged_nonce = *wrapped;
    damaged_nonce.nonce[5] ^= std::byte(1);
    expect_refused(unwrap_data_key(*owner, damaged_nonce, vm, Cipher::XChaCha20Poly1305));

    // A random nonce per wrap: wrapping the same key twice gives different bytes.
    auto again = wrap_data_key(*owner, *data, vm, Cipher::XChaCha20Poly1305);
    REQUIRE(again.has_value());
    REQUIRE(again->nonce != wrapped->nonce);
    REQUIRE(again->sealed != wrapped->sealed);
}

TEST_CASE("UUID text form round-trips and bad text is refused", "[unit][crypt]")
{
    auto uuid = VmUuid::parse("0B6F3C1E-2f4a-4d35-9a57-3c0f6b1d2e8f");
    REQUIRE(uuid.has_value());
    REQUIRE(uuid->bytes[0] == std::byte(0x0b));
    REQUIRE(uuid->bytes[15] == std::byte(0x8f));
    REQUIRE(uuid->to_string() == "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f");
    REQUIRE_FALSE(VmUuid::parse("0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8").has_value());
    REQUIRE_FALSE(VmUuid::parse("0b6f3c1e+2f4a-4d35-9a57-3c0f6b1d2e8f").has_value());
    REQUIRE_FALSE(VmUuid::parse("0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8g").has_value());
}
