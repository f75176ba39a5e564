// SPDX-License-Identifier: Apache-2.0
// The Cloud Hypervisor API level monarch-vmm implements: what `cloud-hypervisor --version`
// prints when monarch-vmm runs under that name, and the "version" of vmm.ping.
#pragma once

#include <string_view>

namespace monarch::vmm::api {

// libvirt's ch driver parses "cloud-hypervisor vMAJOR.MINOR.PATCH" and gates behaviour on it:
// 9.0 requires >= 15.0 (src/ch/ch_conf.c, MIN_VERSION) and gates nothing else; later libvirt
// (src/ch/ch_capabilities.c) enables serial and console together from 18, passes tap fds over
// vm.add-net from 22, the payload form from 28 and more after. 21 is the highest level whose
// gated behaviour we implement: serial + console together yes, vm.add-net with fds no. The
// vm.create body is read in both its pre-28 and its payload form (vm_config_json.h).
inline constexpr std::string_view CH_API_LEVEL = "21.0.0";

// argv[0]'s basename under which monarch-vmm answers as Cloud Hypervisor (--version).
inline constexpr std::string_view CH_PROGRAM_NAME = "cloud-hypervisor";

} // namespace monarch::vmm::api
