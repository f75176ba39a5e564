// SPDX-License-Identifier: Apache-2.0
// The vCPU steps of the recipe: one vCPU per APIC ID, CPUID and MSRs on each, the BSP's entry
// registers from the BootSetup, LAPIC LINT0/LINT1 on each. APs are left as KVM creates them
// with an in-kernel irqchip (waiting for INIT/SIPI): the guest starts them.
#include "vmm/machine/vm_builder.h"

#include "vmm/arch/arch.h"

namespace monarch::vmm::machine {

BuildResult<void> VmBuilder::create_vcpus()
{
    auto& kvm = *m_vmm->m_kvm;
    auto supported = TRY_STEP(BuildStep::CreateVcpus, kvm.supported_cpuid());
    auto msr_indices = TRY_STEP(BuildStep::CreateVcpus, kvm.msr_index_list());
    for (uint32_t index = 0; index < m_config.cpus; ++index) {
        // KVM takes the vCPU id as the initial APIC ID; the MADT and MP table use the same.
        VcpuId id { arch::apic_id_of(index, m_topology) };
        auto vcpu = TRY_STEP(BuildStep::CreateVcpus, m_vmm->m_vm->create_vcpu(id));
        TRY_STEP_VOID(BuildStep::CreateVcpus, configure_vcpu(vcpu, index, supported, msr_indices));
        m_vcpus.push_back(std::move(vcpu));
    }
    return {};
}

Result<void> VmBuilder::configure_vcpu(kvm::VcpuFd& vcpu, uint32_t index, std::span<kvm_cpuid_entry2 const> supported, std::span<uint32_t const> msrs)
{
    auto cpuid = arch::vcpu_cpuid(supported, index, m_topology);
    TRY_VOID(vcpu.set_cpuid(cpuid));
    auto boot_msrs = arch::boot_msrs(msrs);
    TRY_VOID(vcpu.set_msrs(boot_msrs));
    auto lapic = TRY(vcpu.get_lapic());
    arch::set_lint0_extint_lint1_nmi(lapic);
    TRY_VOID(vcpu.set_lapic(lapic));
    // A restored BSP takes its registers from the snapshot instead.
    if (index == 0 && !m_restoring)
        TRY_VOID(set_boot_registers(vcpu));
    return {};
}

Result<void> VmBuilder::set_boot_registers(kvm::VcpuFd& vcpu)
{
    auto sregs = TRY(vcpu.get_sregs());
    kvm_regs regs {};
    if (m_boot.protocol == boot::BootProtocol::Pvh) {
        arch::pvh_boot_sregs(sregs);
        regs = arch::pvh_boot_regs(m_boot.entry, m_boot.boot_info);
    } else {
        arch::linux64_boot_sregs(sregs);
        regs = arch::linux64_boot_regs(m_boot.entry, m_boot.boot_info);
    }
    TRY_VOID(vcpu.set_sregs(sregs));
    TRY_VOID(vcpu.set_regs(regs));
    TRY_VOID(vcpu.set_fpu(arch::boot_fpu()));
    return {};
}

} // namespace monarch::vmm::machine
