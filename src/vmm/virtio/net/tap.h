// SPDX-License-Identifier: Apache-2.0
// Tap: one Linux tap interface opened through /dev/net/tun with a virtio-net header on every
// frame (IFF_VNET_HDR, 12 bytes: struct virtio_net_hdr_v1), the offloads the kernel accepts,
// and the host-side address Cloud Hypervisor's ip=/mask= options set.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <cstdint>
#include <optional>
#include <string>

namespace monarch::vmm::virtio::net {

class Tap {
public:
    static constexpr int VNET_HEADER_BYTES = 12;

    // Attaches to tap `name`, creating it if it does not exist (empty: the kernel picks tapN),
    // and brings it up. Errors: InvalidArgument for a bad name or an existing interface that is
    // not a tap; NotFound without /dev/net/tun; Sys with EPERM without CAP_NET_ADMIN; Busy when
    // another process has the tap open.
    [[nodiscard]] static Result<Tap> open(std::string const& name);

    [[nodiscard]] int fd() const { return m_fd.get(); }
    [[nodiscard]] std::string const& name() const { return m_name; }
    // TUN_F_* flags the kernel accepted when probed at open (TUN_F_CSUM, TSO4, TSO6, TSO_ECN, UFO).
    [[nodiscard]] unsigned supported_offloads() const { return m_supported_offloads; }
    // TUNSETOFFLOAD: what the tap may hand us (partial checksums, GSO frames).
    [[nodiscard]] Result<void> set_offloads(unsigned tun_flags) const;
    // SIOCSIFADDR / SIOCSIFNETMASK on the host side of the tap (IPv4 dotted quads).
    [[nodiscard]] Result<void> set_host_address(std::optional<std::string> const& ip, std::optional<std::string> const& mask) const;

private:
    Tap() = default;
    void probe_offloads();

    UniqueFd m_fd;
    std::string m_name;
    unsigned m_supported_offloads { 0 };
};

} // namespace monarch::vmm::virtio::net
