// SPDX-License-Identifier: Apache-2.0
// A minimal vhost-user vsock back end for the tests (vhost-user protocol, QEMU docs/interop/
// vhost-user.rst; virtio 1.2 section 5.10): QEMU's vhost-user-vsock device connects to its Unix
// socket and hands it guest memory and queues 0 (rx) and 1 (tx); it answers one stream
// connection to CID 2 as an echo server. Just enough to exercise testos's vsock driver under
// QEMU TCG, where there is no vhost-vsock: one connection, polled rings, no EVENT_IDX.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace monarch::test::virtio {

struct VsockLog {
    bool handshake_done { false }; // SET_MEM_TABLE and both rings seen
    bool connected { false };       // a REQUEST to our port, answered with RESPONSE
    bool shutdown { false };        // the guest's SHUTDOWN
    uint64_t guest_cid { 0 };       // the source CID of the guest's packets
    uint32_t port { 0 };            // the port the guest connected to
    std::string received;           // the stream bytes the guest sent (and got back)
    std::string error;              // what went wrong in the back end, if anything
};

class VhostUserVsock {
public:
    // Listens at socket_path; the guest gets guest_cid (through GET_CONFIG) and may connect to
    // host port `port`. Serves one QEMU connection on its own thread until stop().
    VhostUserVsock(std::string socket_path, uint64_t guest_cid, uint32_t port);
    ~VhostUserVsock();
    VhostUserVsock(VhostUserVsock const&) = delete;
    VhostUserVsock& operator=(VhostUserVsock const&) = delete;

    void stop();
    [[nodiscard]] VsockLog log() const;

private:
    void serve();

    std::string m_path;
    uint64_t m_guest_cid;
    uint32_t m_port;
    int m_listen_fd { -1 };
    bool m_stop { false };
    mutable std::mutex m_mutex;
    VsockLog m_log;
    std::thread m_thread;
};

} // namespace monarch::test::virtio
