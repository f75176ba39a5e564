// SPDX-License-Identifier: Apache-2.0
// Binding, adopting and removing the listening Unix socket of an HttpServer, and the
// --api-socket spec ("PATH", "path=PATH", "fd=N").
#include "http/unix_listener.h"

#include "http/http_server.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace monarch::http {

namespace {

Result<sockaddr_un> make_address(std::string const& path)
{
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    if (path.empty())
        return fail(Errc::InvalidArgument, "api socket: empty path");
    if (path.size() >= sizeof(address.sun_path))
        return fail(Errc::InvalidArgument, "api socket: path longer than 107 bytes");
    if (path.find('\0') != std::string::npos)
        return fail(Errc::InvalidArgument, "api socket: path contains a NUL byte");
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

// An existing file at `path`: a stale socket is removed, anything else is refused.
Result<void> clear_stale_socket(std::string const& path, sockaddr_un const& address)
{
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0) {
        if (errno == ENOENT)
            return {};
        return fail_errno("api socket: lstat");
    }
    if (!S_ISSOCK(status.st_mode))
        return fail(Errc::Busy, "api socket: path exists and is not a socket");
    UniqueFd probe { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    if (!probe)
        return fail_errno("api socket: socket");
    // SAFETY: address is a fully initialized sockaddr_un; the size passed is its own.
    if (::connect(probe.get(), reinterpret_cast<sockaddr const*>(&address), sizeof(address)) == 0)
        return fail(Errc::Busy, "api socket: another process is listening on it");
    if (errno != ECONNREFUSED)
        return fail_errno("api socket: probing the existing socket");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return fail_errno("api socket: removing the stale socket");
    return {};
}

} // namespace

Result<BoundListener> bind_unix_listener(std::string const& path)
{
    auto address = TRY(make_address(path));
    TRY_VOID(clear_stale_socket(path, address));
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    if (!fd)
        return fail_errno("api socket: socket");
    // SAFETY: as above, a complete sockaddr_un and its size.
    if (::bind(fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof(address)) != 0) {
        if (errno == EADDRINUSE)
            return fail(Errc::Busy, "api socket: path is in use");
        return fail_errno("api socket: bind");
    }
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0)
        return fail_errno("api socket: stat after bind");
    if (::listen(fd.get(), SOMAXCONN) != 0) {
        ::unlink(path.c_str());
        return fail_errno("api socket: listen");
    }
    return BoundListener { std::move(fd), status.st_dev, status.st_ino };
}

Result<void> check_unix_listener(int fd)
{
    int value = 0;
    socklen_t length = sizeof(value);
    // SAFETY: getsockopt writes at most `length` bytes into the int.
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &length) != 0)
        return fail_errno("api socket fd");
    if (value != AF_UNIX)
        return fail(Errc::InvalidArgument, "api socket fd: not a Unix domain socket");
    length = sizeof(value);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) != 0 || value != SOCK_STREAM)
        return fail(Errc::InvalidArgument, "api socket fd: not a stream socket");
    length = sizeof(value);
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) != 0 || value == 0)
        return fail(Errc::InvalidArgument, "api socket fd: socket is not listening");
    int const flags = ::fcntl(fd, F_GETFD);
    if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
        return fail_errno("api socket fd: fcntl");
    return {};
}

void remove_socket_file(std::string const& path, dev_t device, ino_t inode)
{
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0 && status.st_dev == device && status.st_ino == inode)
        ::unlink(path.c_str());
}

Result<SocketSpec> parse_socket_spec(std::string_view spec)
{
    constexpr std::string_view path_key = "path=";
    constexpr std::string_view fd_key = "fd=";
    if (spec.starts_with(fd_key)) {
        auto digits = spec.substr(fd_key.size());
        int fd = -1;
        auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
        if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || fd < 0)
            return fail(Errc::InvalidArgument, "api socket: fd= needs a non-negative number");
        return SocketSpec { {}, fd };
    }
    if (spec.starts_with(path_key))
        spec.remove_prefix(path_key.size());
    if (spec.empty())
        return fail(Errc::InvalidArgument, "api socket: empty path");
    if (spec.find(',') != std::string_view::npos)
        return fail(Errc::InvalidArgument, "api socket: expected PATH, path=PATH or fd=N");
    return SocketSpec { std::string(spec), -1 };
}

} // namespace monarch::http
