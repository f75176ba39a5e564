// SPDX-License-Identifier: Apache-2.0
// The transports' snapshot state: virtio-pci (core, configuration space, MSI-X table, ISR and
// configuration vector) and virtio-mmio (core and InterruptStatus), checked before applied.

#include "vmm/virtio/transport/virtio_mmio.h"
#include "vmm/virtio/transport/virtio_pci.h"

#include "common/byte_access.h"

namespace monarch::vmm::virtio {

VirtioPciState VirtioPci::state() const
{
    VirtioPciState state;
    state.core = m_core.state();
    {
        std::lock_guard lock { m_config_mutex };
        state.config = m_config.state();
    }
    state.msix = m_msix.state();
    std::lock_guard lock { m_core.mutex() };
    state.isr = m_isr;
    state.config_vector = m_config_vector;
    return state;
}

Result<void> VirtioPci::check_restore(VirtioPciState const& state) const
{
    // Section 4.1.4.5: ISR has the queue bit and the configuration bit only.
    if ((state.isr & ~(pci_layout::ISR_QUEUE | pci_layout::ISR_CONFIG)) != 0)
        return fail(Errc::Corrupt, "virtio-pci state: unknown ISR bits");
    auto const vectors = m_msix.vector_count();
    // checked_vector() never stores a vector the table lacks (4.1.4.3.2): nor may a snapshot.
    if (state.config_vector != NO_VECTOR && state.config_vector >= vectors)
        return fail(Errc::Corrupt, "virtio-pci state: configuration vector outside the MSI-X table");
    for (auto const& queue : state.core.queues) {
        if (queue.msix_vector != NO_VECTOR && queue.msix_vector >= vectors)
            return fail(Errc::Corrupt, "virtio-pci state: queue vector outside the MSI-X table");
    }
    {
        std::lock_guard lock { m_config_mutex };
        TRY_VOID(m_config.check_state(state.config));
    }
    TRY_VOID(m_msix.check_state(state.msix));
    return m_core.check_restore(state.core);
}

Result<void> VirtioPci::restore(VirtioPciState const& state)
{
    // Everything is checked first: a refused state changes nothing. The core goes last, as its
    // activation may signal the restored MSI-X vectors (vsock's TRANSPORT_RESET).
    TRY_VOID(check_restore(state));
    {
        std::lock_guard lock { m_config_mutex };
        TRY_VOID(m_config.restore(state.config));
    }
    TRY_VOID(m_msix.restore(state.msix));
    TRY_VOID(m_core.restore(state.core));
    {
        std::lock_guard lock { m_core.mutex() };
        m_isr |= state.isr; // |=: what restored() raised stays
        m_config_vector = state.config_vector;
        m_intx_disabled = (load_le<uint16_t>(std::span<std::byte const> { state.config }, pci::config::COMMAND).value_or(0) & pci::command::INTX_DISABLE) != 0;
    }
    update_intx(); // INTx asserted again if it was (ISR set, MSI-X off, INTx enabled)
    return {};
}

VirtioMmioState VirtioMmio::state() const
{
    VirtioMmioState state;
    state.core = m_core.state();
    std::lock_guard lock { m_core.mutex() };
    state.interrupt_status = m_interrupt_status;
    return state;
}

Result<void> VirtioMmio::check_restore(VirtioMmioState const& state) const
{
    if ((state.interrupt_status & ~(mmio_reg::INT_VRING | mmio_reg::INT_CONFIG)) != 0)
        return fail(Errc::Corrupt, "virtio-mmio state: unknown InterruptStatus bits");
    return m_core.check_restore(state.core);
}

Result<void> VirtioMmio::restore(VirtioMmioState const& state)
{
    TRY_VOID(check_restore(state));
    TRY_VOID(m_core.restore(state.core));
    {
        std::lock_guard lock { m_core.mutex() };
        m_interrupt_status |= state.interrupt_status; // |=: what restored() raised stays
    }
    update_irq();
    return {};
}

} // namespace monarch::vmm::virtio
