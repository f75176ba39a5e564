// SPDX-License-Identifier: Apache-2.0
#include "domain_xml.h"

#include <fmt/format.h>

namespace monarch::test {

namespace {

// The test's own paths and names go into attributes and text: escape what XML reserves.
std::string escaped(std::string const& text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

// libvirt 9.0's ch driver accepts one pty device: a serial port or a console, not both. An
// ISA serial port (the default target) would get a <console> twin added by libvirt's parser,
// which the driver then refuses; a pci-serial target gets none.
std::string pty_device(PtyDevice pty)
{
    if (pty == PtyDevice::Serial)
        return "    <serial type='pty'>\n      <target type='pci-serial'/>\n    </serial>\n";
    return "    <console type='pty'>\n      <target type='virtio'/>\n    </console>\n";
}

} // namespace

std::string domain_xml(DomainSpec const& spec)
{
    return fmt::format(
        "<domain type='kvm'>\n"
        "  <name>{}</name>\n"
        "  <memory unit='MiB'>{}</memory>\n"
        "  <vcpu>{}</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64'>hvm</type>\n"
        "    <kernel>{}</kernel>\n"
        "    <initrd>{}</initrd>\n"
        "    <cmdline>{}</cmdline>\n"
        "  </os>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <source file='{}'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "{}"
        "  </devices>\n"
        "</domain>\n",
        escaped(spec.name), spec.memory_mib, spec.vcpus, escaped(spec.kernel), escaped(spec.initrd),
        escaped(spec.cmdline), escaped(spec.disk), pty_device(spec.pty));
}

} // namespace monarch::test
