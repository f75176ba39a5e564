// SPDX-License-Identifier: Apache-2.0
// Loading and creating owner keys; every byte read goes straight into a SecretBuffer.
#include "crypt/owner_key.h"

#include <cerrno>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::crypt {
namespace {

// 64 hex digits and a newline, plus one byte to notice a file that is too long.
constexpr size_t key_file_max_read = 2 * owner_key_size + 2;

// Reads until `buffer` is full or end of file; returns the count read.
Result<size_t> read_up_to(int fd, std::span<std::byte> buffer)
{
    size_t done = 0;
    while (done < buffer.size()) {
        ssize_t n = ::read(fd, buffer.data() + done, buffer.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno("owner key: read");
        if (n == 0)
            break;
        done += static_cast<size_t>(n);
    }
    return done;
}

Result<void> check_key_file(int fd)
{
    struct stat info {};
    if (::fstat(fd, &info) != 0)
        return fail_errno("key file: fstat");
    if (!S_ISREG(info.st_mode))
        return fail(Errc::InvalidArgument, "key file: not a regular file");
    if (info.st_uid != ::geteuid())
        return fail(Errc::InvalidArgument, "key file: not owned by this user (use a key file of your own, mode 600)");
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return fail(Errc::InvalidArgument, "key file: group or others have access (fix: chmod 600 KEYFILE)");
    return {};
}

// Raw 32 bytes, or 64 hex digits with an optional trailing newline.
Result<SecretBuffer> decode_key(std::span<std::byte const> content)
{
    auto key = TRY(SecretBuffer::create(owner_key_size));
    if (content.size() == owner_key_size) {
        std::copy(content.begin(), content.end(), key.bytes().begin());
        return key;
    }
    size_t hex_length = content.size();
    if (hex_length == 2 * owner_key_size + 1 && content.back() == std::byte('\n'))
        --hex_length;
    if (hex_length != 2 * owner_key_size)
        return fail(Errc::InvalidArgument, "key file: wrong length (expected 32 raw bytes or 64 hex digits)");
    size_t decoded = 0;
    // SAFETY: reinterpret_cast between std::byte and char views of the same bytes.
    if (sodium_hex2bin(key.data(), key.size(), reinterpret_cast<char const*>(content.data()), hex_length,
            nullptr, &decoded, nullptr) != 0 || decoded != owner_key_size)
        return fail(Errc::InvalidArgument, "key file: 64 characters but not hex digits");
    return key;
}

} // namespace

Result<OwnerKey> OwnerKey::from_file(std::string const& path)
{
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY) };
    if (!fd)
        return fail_errno("key file: open");
    TRY_VOID(check_key_file(fd.get()));
    auto content = TRY(SecretBuffer::create(key_file_max_read));
    size_t length = TRY(read_up_to(fd.get(), content.bytes()));
    auto key = TRY(decode_key(content.bytes().first(length)));
    return OwnerKey(std::move(key));
}

Result<OwnerKey> OwnerKey::from_fd(UniqueFd fd)
{
    if (!fd)
        return fail(Errc::InvalidArgument, "key fd: not an open descriptor");
    auto key = TRY(SecretBuffer::create(owner_key_size));
    size_t length = TRY(read_up_to(fd.get(), key.bytes()));
    fd.reset();
    if (length != owner_key_size)
        return fail(Errc::InvalidArgument, "key fd: short read (expected 32 raw bytes)");
    return OwnerKey(std::move(key));
}

Result<OwnerKey> OwnerKey::generate()
{
    auto key = TRY(SecretBuffer::create(owner_key_size));
    randombytes_buf(key.data(), key.size());
    return OwnerKey(std::move(key));
}

Result<void> generate_owner_key_file(std::string const& path)
{
    auto key = TRY(OwnerKey::generate());
    UniqueFd fd { ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) };
    if (!fd)
        return fail_errno("key file: create");
    // The umask can only take bits away; fchmod makes the mode exact whatever it is.
    if (::fchmod(fd.get(), 0600) != 0)
        return fail_errno("key file: fchmod");
    auto bytes = key.secret().bytes();
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ::unlink(path.c_str());
            return fail_errno("key file: write");
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0)
        return fail_errno("key file: fsync");
    return {};
}

} // namespace monarch::crypt
