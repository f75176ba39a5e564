// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's exit statuses, documented in docs/monarch-vmm.md. The guest's own status
// (written to the debug-exit port) uses 0-63; host-side failures use sysexits(3)-style codes
// above that, so a script can always tell "the guest said N" from "the VMM could not run".
#pragma once

namespace monarch::vmm::exit_status {

inline constexpr int Success = 0;             // clean power-off, or the guest reported 0
inline constexpr int GuestStatusMax = 63;     // debug-exit value v in 1..63 exits with v
inline constexpr int Usage = 64;              // bad command line (unknown option, bad value)
inline constexpr int BadImage = 65;           // kernel/initrd is not a loadable image, or truncated
inline constexpr int NoInput = 66;            // kernel/initrd missing or unreadable
inline constexpr int KvmUnavailable = 69;     // no /dev/kvm, or a required KVM capability is missing
inline constexpr int Internal = 70;           // a VMM bug (a broken invariant)
inline constexpr int HostError = 71;          // a host resource failed (mmap, thread, eventfd...)
inline constexpr int CannotCreate = 73;       // an output (serial file, socket, pty) could not be created
inline constexpr int DiskInUse = 75;          // a --disk image is locked by another VM (EX_TEMPFAIL)
inline constexpr int RestoreRefused = 76;     // --restore: the snapshot is refused (tampered, wrong key, another VM)
inline constexpr int KvmPermission = 77;      // /dev/kvm exists but may not be opened
inline constexpr int Config = 78;             // a valid option the host or image cannot honour
                                              // (memory too large, initrd does not fit, too many vCPUs)
inline constexpr int GuestTripleFault = 80;   // the guest reset itself by triple fault
inline constexpr int GuestEmulationFailure = 81; // KVM could not emulate a guest instruction
inline constexpr int GuestInternalError = 82; // another KVM internal error or unknown exit
inline constexpr int GuestPanicked = 83;      // the guest reported a panic on its pvpanic device
inline constexpr int Signalled = 143;         // stopped by SIGINT/SIGTERM (128 + SIGTERM), after an orderly stop
// Not a process status: what the VM's exit latch holds when the guest resets (KVM's reset
// event, the i8042 reset line, the FADT reset register). monarch-vmm then boots the guest
// again in the same process, or ends with Success under --no-reboot.
inline constexpr int GuestReset = 0x100;

} // namespace monarch::vmm::exit_status
