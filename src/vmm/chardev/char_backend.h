// SPDX-License-Identifier: Apache-2.0
// CharBackend: where a console's bytes go and come from (stdio, a file, a pty, a Unix socket, or
// nowhere). It owns its host fds and, when it has input, one input thread that blocks in poll()
// (stdin may be /dev/null or a regular file, which epoll refuses) and hands bytes to a callback.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <termios.h>
#include <thread>

namespace monarch::vmm {

struct SerialSpec {
    enum class Kind { Stdio, File, Pty, Socket, Off } kind { Kind::Off };
    std::string path; // File and Socket only
};

// "stdio" | "file:PATH" | "pty" | "socket:PATH" | "off"; anything else is Errc::InvalidArgument.
[[nodiscard]] Result<SerialSpec> parse_serial_spec(std::string_view text);
// The spec in the form parse_serial_spec() accepts.
[[nodiscard]] std::string to_string(SerialSpec const& spec);

struct CharBackendCounters {
    uint64_t bytes_written { 0 }; // delivered to the host fd
    uint64_t bytes_dropped { 0 }; // the peer was absent or not reading (socket, pty, slow stdout)
    uint64_t bytes_read { 0 };    // handed to the input callback
    uint64_t clients { 0 };       // socket connections accepted
};

class CharBackend {
public:
    // file: created or truncated, mode 0640, output only. socket: listens on a Unix socket at
    // PATH, one client at a time (a stale socket file is replaced only if nobody listens on it;
    // Errc::Busy if someone does); the file is removed on destruction. pty: a new pseudo-terminal
    // in raw mode; nothing is printed, the caller reports pty_path(). stdio: stdin/stdout, the
    // terminal in raw mode (signals kept: Ctrl-C still stops the VMM) while this object lives.
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create(SerialSpec const& spec);

    CharBackend(CharBackend const&) = delete;
    CharBackend& operator=(CharBackend const&) = delete;
    ~CharBackend(); // stop(), restore the terminal, remove the socket file

    // Thread-safe; never blocks long: sockets and ptys take what fits and drop the rest,
    // stdout waits at most about 100 ms for a slow reader. Off discards.
    void write(std::span<std::byte const> bytes);

    // Spawns the input thread (later calls while it runs are ignored; after stop(), a call
    // starts it again, for a back end kept across a reboot). on_input runs on that thread;
    // it may block for back-pressure but must return soon after stop() is called (see
    // stopping()). The socket back end accepts clients on this thread: call start_input even
    // when input is not wanted (with a callback that ignores it). No-op for file and off.
    [[nodiscard]] Result<void> start_input(std::function<void(std::span<std::byte const>)> on_input);
    // Wakes and joins the input thread; idempotent. From on_input itself it only asks the
    // thread to end (the destructor, which must run on another thread, joins it).
    void stop();
    // True once stop() began: an on_input that waits for room should give up then.
    [[nodiscard]] bool stopping() const { return m_stopping.load(std::memory_order_acquire); }

    [[nodiscard]] SerialSpec::Kind kind() const { return m_kind; }
    // True when it was created from this spec (the same kind, and the same path for a file
    // or a socket): a VM rebuilt from the same config may take it over.
    [[nodiscard]] bool made_for(SerialSpec const& spec) const { return spec.kind == m_kind && spec.path == m_spec_path; }
    [[nodiscard]] std::optional<std::string> pty_path() const;
    [[nodiscard]] CharBackendCounters counters() const;

private:
    explicit CharBackend(SerialSpec::Kind kind);
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create_kind(SerialSpec const& spec);
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create_stdio();
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create_file(std::string const& path);
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create_pty();
    [[nodiscard]] static Result<std::unique_ptr<CharBackend>> create_socket(std::string const& path);

    void input_loop();
    void socket_loop();
    // Reads once from fd into the callback; false at end of file or on a hard error.
    [[nodiscard]] bool pump(int fd);
    // Writes what fd takes within timeout_ms; returns the number of bytes written.
    [[nodiscard]] static size_t write_some(int fd, std::span<std::byte const> bytes, int timeout_ms, bool is_socket);
    void drop_client();

    SerialSpec::Kind m_kind;
    UniqueFd m_output;   // stdout dup, file, pty master; unused for sockets
    UniqueFd m_input;    // stdin dup, pty master dup
    UniqueFd m_pty_peer; // the pty's slave side, held open so the master never sees a hang-up
    UniqueFd m_listen;   // socket back end
    UniqueFd m_wake;     // eventfd: stop() wakes the input thread
    std::string m_path;  // pty slave name, or the socket path (removed on destruction)
    std::string m_spec_path; // the spec's path (file and socket), for made_for()
    std::optional<termios> m_saved_termios; // stdio on a tty: restored on destruction

    mutable std::mutex m_client_mutex; // socket client fd, shared by writers and the input thread
    UniqueFd m_client;

    std::function<void(std::span<std::byte const>)> m_on_input;
    std::thread m_thread;
    std::mutex m_thread_mutex; // start_input/stop
    std::atomic<bool> m_stopping { false };

    std::atomic<uint64_t> m_bytes_written { 0 };
    std::atomic<uint64_t> m_bytes_dropped { 0 };
    std::atomic<uint64_t> m_bytes_read { 0 };
    std::atomic<uint64_t> m_clients { 0 };
};

} // namespace monarch::vmm
