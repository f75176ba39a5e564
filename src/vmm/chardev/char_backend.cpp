// SPDX-License-Identifier: Apache-2.0
// CharBackend: opening each kind of back end (fds, terminal modes, the listening socket) and
// tearing it down again.
#include "vmm/chardev/char_backend.h"

#include "common/verify.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace monarch::vmm {

namespace {

Result<UniqueFd> make_wake_fd()
{
    UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    if (!fd)
        return fail_errno("serial: eventfd");
    return fd;
}

Result<UniqueFd> duplicate(int fd, std::string_view context)
{
    UniqueFd copy { ::fcntl(fd, F_DUPFD_CLOEXEC, 0) };
    if (!copy)
        return fail_errno(context);
    return copy;
}

// Raw mode (no echo, no line editing, no CR/LF translation) for a terminal fd.
Result<void> make_raw(int fd, bool keep_signals)
{
    termios mode {};
    if (::tcgetattr(fd, &mode) < 0)
        return fail_errno("serial: tcgetattr");
    ::cfmakeraw(&mode);
    if (keep_signals)
        mode.c_lflag |= ISIG; // Ctrl-C and Ctrl-Z still reach the VMM, as with QEMU's -serial stdio
    if (::tcsetattr(fd, TCSANOW, &mode) < 0)
        return fail_errno("serial: tcsetattr");
    return {};
}

sockaddr_un socket_address(std::string const& path)
{
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1); // length checked by parse_serial_spec
    return address;
}

// Binds a listening socket at path; replaces a stale socket file nobody listens on.
Result<UniqueFd> listen_at(std::string const& path)
{
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
        return fail(Errc::InvalidArgument, "serial: socket PATH empty or longer than 107 bytes");
    sockaddr_un const address = socket_address(path);
    // SAFETY: sockaddr_un is a sockaddr by the sockets API's definition; the length is its size.
    auto const* generic = reinterpret_cast<sockaddr const*>(&address);
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) };
    if (!fd)
        return fail_errno("serial: socket");
    if (::bind(fd.get(), generic, sizeof address) < 0) {
        if (errno != EADDRINUSE)
            return fail_errno("serial: bind");
        struct stat info {};
        if (::lstat(path.c_str(), &info) < 0 || !S_ISSOCK(info.st_mode))
            return fail(Errc::Busy, "serial: socket PATH exists and is not a socket");
        UniqueFd probe { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
        if (!probe)
            return fail_errno("serial: socket");
        if (::connect(probe.get(), generic, sizeof address) == 0)
            return fail(Errc::Busy, "serial: another process listens on the socket PATH");
        if (errno != ECONNREFUSED)
            return fail_errno("serial: probing the existing socket");
        ::unlink(path.c_str()); // stale: its listener is gone
        if (::bind(fd.get(), generic, sizeof address) < 0)
            return fail_errno("serial: bind");
    }
    if (::listen(fd.get(), 1) < 0)
        return fail_errno("serial: listen");
    return fd;
}

} // namespace

CharBackend::CharBackend(SerialSpec::Kind kind)
    : m_kind(kind)
{
}

Result<std::unique_ptr<CharBackend>> CharBackend::create(SerialSpec const& spec)
{
    auto backend = TRY(create_kind(spec));
    backend->m_spec_path = spec.path;
    return backend;
}

Result<std::unique_ptr<CharBackend>> CharBackend::create_kind(SerialSpec const& spec)
{
    switch (spec.kind) {
    case SerialSpec::Kind::Stdio: return create_stdio();
    case SerialSpec::Kind::File: return create_file(spec.path);
    case SerialSpec::Kind::Pty: return create_pty();
    case SerialSpec::Kind::Socket: return create_socket(spec.path);
    case SerialSpec::Kind::Off: return std::unique_ptr<CharBackend>(new CharBackend(SerialSpec::Kind::Off));
    }
    return fail(Errc::InvalidArgument, "serial: unknown back end kind");
}

Result<std::unique_ptr<CharBackend>> CharBackend::create_stdio()
{
    std::unique_ptr<CharBackend> backend { new CharBackend(SerialSpec::Kind::Stdio) };
    backend->m_output = TRY(duplicate(STDOUT_FILENO, "serial: dup stdout"));
    // A closed stdin simply means no input.
    if (auto input = duplicate(STDIN_FILENO, "serial: dup stdin"))
        backend->m_input = std::move(*input);
    backend->m_wake = TRY(make_wake_fd());
    if (backend->m_input && ::isatty(backend->m_input.get())) {
        termios saved {};
        if (::tcgetattr(backend->m_input.get(), &saved) < 0)
            return fail_errno("serial: tcgetattr");
        TRY_VOID(make_raw(backend->m_input.get(), true));
        backend->m_saved_termios = saved;
    }
    return backend;
}

Result<std::unique_ptr<CharBackend>> CharBackend::create_file(std::string const& path)
{
    std::unique_ptr<CharBackend> backend { new CharBackend(SerialSpec::Kind::File) };
    backend->m_output = UniqueFd { ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0640) };
    if (!backend->m_output)
        return fail_errno("serial: open file");
    return backend;
}

Result<std::unique_ptr<CharBackend>> CharBackend::create_pty()
{
    std::unique_ptr<CharBackend> backend { new CharBackend(SerialSpec::Kind::Pty) };
    UniqueFd master { ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK) };
    if (!master)
        return fail_errno("serial: posix_openpt");
    if (::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0)
        return fail_errno("serial: unlockpt");
    char name[128] {};
    if (int error = ::ptsname_r(master.get(), name, sizeof name); error != 0)
        return Failure(Error::from_errno(error, "serial: ptsname_r"));
    // Holding the slave open keeps the master from reporting a hang-up (EIO) whenever no
    // client has it open, and gives a place to put the line in raw mode.
    backend->m_pty_peer = UniqueFd { ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) };
    if (!backend->m_pty_peer)
        return fail_errno("serial: open pty slave");
    TRY_VOID(make_raw(backend->m_pty_peer.get(), false));
    backend->m_input = TRY(duplicate(master.get(), "serial: dup pty master"));
    backend->m_output = std::move(master);
    backend->m_wake = TRY(make_wake_fd());
    backend->m_path = name;
    return backend;
}

Result<std::unique_ptr<CharBackend>> CharBackend::create_socket(std::string const& path)
{
    std::unique_ptr<CharBackend> backend { new CharBackend(SerialSpec::Kind::Socket) };
    backend->m_listen = TRY(listen_at(path));
    backend->m_path = path;
    backend->m_wake = TRY(make_wake_fd());
    return backend;
}

CharBackend::~CharBackend()
{
    stop();
    VERIFY(!m_thread.joinable()); // destroying a back end from its own on_input is a bug
    if (m_saved_termios)
        (void)::tcsetattr(m_input.get(), TCSADRAIN, &*m_saved_termios);
    if (m_kind == SerialSpec::Kind::Socket && m_listen)
        ::unlink(m_path.c_str());
}

std::optional<std::string> CharBackend::pty_path() const
{
    if (m_kind != SerialSpec::Kind::Pty)
        return std::nullopt;
    return m_path;
}

CharBackendCounters CharBackend::counters() const
{
    return CharBackendCounters {
        m_bytes_written.load(std::memory_order_relaxed),
        m_bytes_dropped.load(std::memory_order_relaxed),
        m_bytes_read.load(std::memory_order_relaxed),
        m_clients.load(std::memory_order_relaxed),
    };
}

} // namespace monarch::vmm
