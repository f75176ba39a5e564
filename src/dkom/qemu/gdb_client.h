// SPDX-License-Identifier: Apache-2.0
// GdbClient: one connection to a GDB remote stub (QEMU's gdbstub): send a packet, wait for
// the reply with a timeout, send the interrupt byte. A stub that closed the connection is
// reported as "gdbstub: target went away" and every later call fails the same way.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "dkom/qemu/gdb_packet.h"

#include <chrono>
#include <string>
#include <string_view>

namespace monarch::dkom::gdb {

class GdbClient {
public:
    // `address` is "HOST:PORT" (TCP, e.g. "127.0.0.1:1234") or "unix:PATH".
    static Result<GdbClient> connect(std::string_view address, std::chrono::milliseconds timeout);

    // Sends a packet and returns the stub's reply packet.
    [[nodiscard]] Result<std::string> request(std::string_view payload, std::chrono::milliseconds timeout);
    // Sends a packet that has no immediate reply (c, vCont;c).
    [[nodiscard]] Result<void> send(std::string_view payload);
    // Sends the out-of-band interrupt byte (0x03): the stub stops the target and replies with
    // a stop packet, read with wait_packet().
    [[nodiscard]] Result<void> send_interrupt();
    // Waits for the next packet from the stub.
    [[nodiscard]] Result<std::string> wait_packet(std::chrono::milliseconds timeout);
    // Turns off acknowledgements (QStartNoAckMode) when the stub supports it.
    [[nodiscard]] Result<void> start_no_ack_mode();

    [[nodiscard]] bool connected() const { return static_cast<bool>(m_fd); }

private:
    explicit GdbClient(UniqueFd fd) : m_fd(std::move(fd)) {}
    [[nodiscard]] Result<void> write_all(std::string_view bytes);
    // Discards input until none arrives for `quiet`.
    void drain(std::chrono::milliseconds quiet);

    UniqueFd m_fd;
    PacketDecoder m_decoder;
    bool m_acks { true };
};

} // namespace monarch::dkom::gdb
