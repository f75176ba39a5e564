// SPDX-License-Identifier: Apache-2.0
// VmConfig: what one VM is made of, as the CLI or the REST API (vm.create) resolved it. Plain
// values: every field was parsed and range-checked by whoever filled it in. Device entries
// follow Cloud Hypervisor's VmConfig (DiskConfig, NetConfig, RngConfig, VsockConfig,
// ConsoleConfig) so that the command line and the API describe a VM the same way.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::vmm::machine {

// How a virtio device reaches the guest: virtio-pci (the default; Debian's kernels have it
// built in) or virtio-mmio (announced on the kernel command line, for small guests).
// `transport=pci|mmio` in every device option and device JSON object.
enum class VirtioTransport : uint8_t { Pci, Mmio };

// --disk path=IMG[,readonly=on][,direct=on][,id=NAME] / CH DiskConfig.
struct DiskConfig {
    std::string path;               // a raw image file
    bool readonly { false };
    bool direct { false };          // O_DIRECT on the image
    std::optional<std::string> id;  // what VIRTIO_BLK_T_GET_ID returns (20 bytes at most)
    VirtioTransport transport { VirtioTransport::Pci };
};

using MacAddress = std::array<uint8_t, 6>;

// --net tap=NAME[,mac=MAC][,id=NAME] / CH NetConfig. Only an existing or creatable tap device;
// ip/mask are accepted by the API parser only because libvirt sends them (they configure the
// host side of the tap, as Cloud Hypervisor does).
struct NetConfig {
    std::string tap;                // interface name; empty: create one named by the kernel
    std::optional<MacAddress> mac;  // guest MAC; none: a random locally administered address
    std::optional<std::string> host_ip;   // "ip" in CH: assigned to the tap on the host
    std::optional<std::string> netmask;   // "mask" in CH
    std::optional<std::string> id;
    VirtioTransport transport { VirtioTransport::Pci };
};

// --vsock cid=N,socket=PATH / CH VsockConfig. The host side is Firecracker's scheme: the VMM
// listens on `socket` for host-initiated connections ("CONNECT <port>\n"), and connects to
// `socket`_<port> for guest-initiated ones.
struct VsockConfig {
    uint64_t cid { 0 };             // the guest's CID, >= 3
    std::string socket;
    VirtioTransport transport { VirtioTransport::Pci };
};

// --rng [src=PATH] / CH RngConfig. The device always reads the host's getrandom(); src is
// accepted only as /dev/urandom or /dev/random (CH's default), which mean the same here.
struct RngConfig {
    std::string source { "/dev/urandom" };
    VirtioTransport transport { VirtioTransport::Pci };
};

// --console MODE / CH ConsoleConfig for the virtio console (port 0). Same back ends as --serial.
struct ConsoleConfig {
    std::string mode { "off" };     // stdio|file:PATH|pty|socket:PATH|off (SerialSpec syntax)
    VirtioTransport transport { VirtioTransport::Pci };
};

// --platform uuid=UUID / CH PlatformConfig. The UUID names the VM to VMCrypt: it is bound into
// every sealed page (docs/vmcrypt.md), so a snapshot of one VM cannot be restored as another.
// Canonical lower-case text (crypt::VmUuid::to_string) once a parser accepted it.
struct PlatformConfig {
    std::optional<std::string> uuid;
};

// RFC 4122's text form, 8-4-4-4-12 hex digits in either case, to lower case; nullopt for
// anything else. (The same form crypt::VmUuid parses; kept here so that the config parsers
// need no crypto library.)
[[nodiscard]] inline std::optional<std::string> canonical_uuid(std::string_view text)
{
    if (text.size() != 36)
        return std::nullopt;
    std::string out(text);
    for (size_t index = 0; index < out.size(); ++index) {
        char& c = out[index];
        bool const dash = index == 8 || index == 13 || index == 18 || index == 23;
        if (dash != (c == '-'))
            return std::nullopt;
        if (dash)
            continue;
        if (c >= 'A' && c <= 'F')
            c = static_cast<char>(c - 'A' + 'a');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return std::nullopt;
    }
    return out;
}

struct VmConfig {
    std::string kernel;                 // path to an ELF (PVH) or bzImage
    std::optional<std::string> initrd;
    std::string cmdline;
    uint64_t memory { 0 };              // bytes
    uint32_t cpus { 1 };
    std::string serial { "stdio" };     // stdio|file:PATH|pty|socket:PATH|off
    std::vector<DiskConfig> disks;
    std::vector<NetConfig> nets;
    std::optional<RngConfig> rng;
    std::optional<VsockConfig> vsock;
    ConsoleConfig console;              // virtio-console; off unless asked for
    PlatformConfig platform;            // none given: the VMM picks a random UUID
    // --pvpanic / CH's "pvpanic": QEMU's PCI pvpanic device (1b36:0011). A guest panic then
    // ends the VM with exit_status::GuestPanicked instead of the guest's panic= reboot.
    bool pvpanic { false };
};

// The guest-physical pages KVM needs for itself on Intel VMX (api.rst, KVM_SET_TSS_ADDR and
// KVM_SET_IDENTITY_MAP_ADDR): just below the BIOS area at the top of 4 GiB, inside the MMIO
// hole where no RAM or device of ours lies (the same choice as Firecracker and Cloud Hypervisor).
inline constexpr uint64_t KVM_IDENTITY_MAP_ADDRESS = 0xfffbc000; // 1 page
inline constexpr uint64_t KVM_TSS_ADDRESS = 0xfffbd000;          // 3 pages

} // namespace monarch::vmm::machine
