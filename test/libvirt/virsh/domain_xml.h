// SPDX-License-Identifier: Apache-2.0
// The libvirt domain XML the virsh tests define: a direct kernel boot (kernel, initrd, command
// line), one raw virtio disk, and one pty character device, either a serial port (target
// pci-serial, libvirt's spelling of Cloud Hypervisor's "serial") or a virtio console.
#pragma once

#include <cstdint>
#include <string>

namespace monarch::test {

enum class PtyDevice { Serial, VirtioConsole };

struct DomainSpec {
    std::string name;
    std::string kernel;
    std::string initrd;
    std::string cmdline;
    std::string disk;
    uint64_t memory_mib { 64 };
    unsigned vcpus { 2 };
    PtyDevice pty { PtyDevice::Serial };
};

[[nodiscard]] std::string domain_xml(DomainSpec const&);

} // namespace monarch::test
