# SPDX-License-Identifier: Apache-2.0
# Sourced by the benchmarks that need KVM. bench_on_kvm SCRIPT ARGS... returns where hardware
# KVM is, or inside scripts/with-kvm's L1; elsewhere it re-runs SCRIPT there, so that both
# VMMs (monarch-vmm and QEMU -accel kvm) are measured on the same nested KVM in one run.
# It sets KVM_WHERE, which every table prints beside its figures.
bench_on_kvm() {
    local with_kvm
    with_kvm="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/with-kvm"
    if [[ "${MONARCH_NESTED:-}" == 1 ]]; then
        KVM_WHERE="measured nested under emulation (kvm_amd in an L1 under QEMU TCG, scripts/with-kvm): compare ratios only, not with hardware figures"
        return 0
    fi
    if [[ "$("$with_kvm" --mode)" == nested ]]; then
        echo "$(basename "$1"): no hardware KVM here: both VMMs run on the nested KVM of scripts/with-kvm (slow; ratios only)" >&2
        exec "$with_kvm" "$@"
    fi
    KVM_WHERE="measured on hardware KVM ($(lsmod 2>/dev/null | grep -oE '^kvm_(intel|amd)' | head -1))"
}
