// SPDX-License-Identifier: Apache-2.0
// Opening a tap with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, probing its offloads, and setting the
// host side up (Documentation/networking/tuntap.rst).
#include "vmm/virtio/net/tap.h"

#include "common/log.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace monarch::vmm::virtio::net {
namespace {

Failure attach_error(int error)
{
    switch (error) {
    case EINVAL:
        return fail(Errc::InvalidArgument, "virtio-net: an interface of that name exists and is not a tap (or has other tap flags)");
    case EPERM:
    case EACCES:
        return Failure(Error::from_errno(error, "virtio-net: cannot create or attach the tap (needs CAP_NET_ADMIN or the tap's owner)"));
    case EBUSY:
        return fail(Errc::Busy, "virtio-net: the tap is already attached to another process");
    default:
        return Failure(Error::from_errno(error, "virtio-net: TUNSETIFF"));
    }
}

// A datagram socket for the SIOC* interface ioctls.
Result<UniqueFd> control_socket()
{
    UniqueFd socket { ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
    if (!socket)
        return fail_errno("virtio-net: socket for interface configuration");
    return socket;
}

} // namespace

Result<Tap> Tap::open(std::string const& name)
{
    if (name.size() >= IFNAMSIZ || name.find('/') != std::string::npos)
        return fail(Errc::InvalidArgument, "virtio-net: the tap name is longer than 15 characters or contains '/'");
    UniqueFd fd { ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC) };
    if (!fd) {
        if (errno == ENOENT)
            return fail(Errc::NotFound, "virtio-net: /dev/net/tun does not exist (no tun driver)");
        return fail_errno("virtio-net: cannot open /dev/net/tun");
    }
    ifreq request {};
    std::memcpy(request.ifr_name, name.data(), name.size());
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    // SAFETY: TUNSETIFF reads and updates the ifreq we pass.
    if (::ioctl(fd.get(), TUNSETIFF, &request) != 0)
        return attach_error(errno);
    int header_bytes = VNET_HEADER_BYTES;
    // SAFETY: TUNSETVNETHDRSZ reads one int.
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header_bytes) != 0)
        return fail_errno("virtio-net: TUNSETVNETHDRSZ");

    Tap tap;
    tap.m_fd = std::move(fd);
    tap.m_name.assign(request.ifr_name, strnlen(request.ifr_name, IFNAMSIZ));
    tap.probe_offloads();

    // Up, as Cloud Hypervisor leaves it; a tap made and raised by an administrator for an
    // unprivileged VMM is already up, so only warn if we cannot.
    auto socket = TRY(control_socket());
    ifreq flags {};
    std::memcpy(flags.ifr_name, tap.m_name.data(), tap.m_name.size());
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write ifr_flags of the ifreq we pass.
    if (::ioctl(socket.get(), SIOCGIFFLAGS, &flags) == 0 && (flags.ifr_flags & IFF_UP) == 0) {
        flags.ifr_flags = static_cast<short>(flags.ifr_flags | IFF_UP);
        if (::ioctl(socket.get(), SIOCSIFFLAGS, &flags) != 0)
            log::warn("virtio-net: cannot bring {} up: {}", tap.m_name, std::strerror(errno));
    }
    return tap;
}

void Tap::probe_offloads()
{
    // Each flag alone on top of CSUM (TSO needs it); the kernel refuses unknown ones (UFO was
    // dropped in 4.14 and partly restored), so keep only what it takes.
    for (unsigned flag : { TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_UFO }) {
        // SAFETY: TUNSETOFFLOAD takes the flags by value.
        if (::ioctl(m_fd.get(), TUNSETOFFLOAD, TUN_F_CSUM | flag) == 0)
            m_supported_offloads |= flag;
    }
    // SAFETY: as above.
    if (::ioctl(m_fd.get(), TUNSETOFFLOAD, TUN_F_CSUM) == 0)
        m_supported_offloads |= TUN_F_CSUM;
    else
        m_supported_offloads = 0; // no checksum offload: no TSO either
    // SAFETY: as above. Nothing until the driver negotiates (set_offloads at activation).
    (void)::ioctl(m_fd.get(), TUNSETOFFLOAD, 0U);
}

Result<void> Tap::set_offloads(unsigned tun_flags) const
{
    // SAFETY: TUNSETOFFLOAD takes the flags by value.
    if (::ioctl(m_fd.get(), TUNSETOFFLOAD, tun_flags) != 0)
        return fail_errno("virtio-net: TUNSETOFFLOAD");
    return {};
}

Result<void> Tap::set_host_address(std::optional<std::string> const& ip, std::optional<std::string> const& mask) const
{
    if (!ip && !mask)
        return {};
    auto socket = TRY(control_socket());
    auto set = [&](std::string const& text, unsigned long request_code, std::string_view what) -> Result<void> {
        ifreq request {};
        std::memcpy(request.ifr_name, m_name.data(), m_name.size());
        sockaddr_in address {};
        address.sin_family = AF_INET;
        if (inet_pton(AF_INET, text.c_str(), &address.sin_addr) != 1)
            return fail(Errc::InvalidArgument, "virtio-net: ip/mask is not an IPv4 address");
        std::memcpy(&request.ifr_addr, &address, sizeof address);
        // SAFETY: SIOCSIFADDR/SIOCSIFNETMASK read the ifreq we pass.
        if (::ioctl(socket.get(), request_code, &request) != 0)
            return fail_errno(what);
        return {};
    };
    if (ip)
        TRY_VOID(set(*ip, SIOCSIFADDR, "virtio-net: SIOCSIFADDR on the tap"));
    if (mask)
        TRY_VOID(set(*mask, SIOCSIFNETMASK, "virtio-net: SIOCSIFNETMASK on the tap"));
    return {};
}

} // namespace monarch::vmm::virtio::net
