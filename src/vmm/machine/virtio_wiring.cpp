// SPDX-License-Identifier: Apache-2.0
// The virtio devices of a VmConfig on virtio-pci or virtio-mmio: device creation, PCI
// attachment (MSI-X and INTx delivery, ioeventfds that follow the BAR) and virtio-mmio slots
// (an edge-triggered irqfd GSI, ioeventfds on QueueNotify).

#include "vmm/machine/virtio_wiring.h"

#include "common/log.h"
#include "common/scope_guard.h"
#include "common/unique_fd.h"
#include "vmm/machine/adapters/kvm_irq_line.h"
#include "vmm/machine/virtio_placement.h"
#include "vmm/virtio/block/virtio_block.h"
#include "vmm/virtio/console/virtio_console.h"
#include "vmm/virtio/net/virtio_net.h"
#include "vmm/virtio/rng/virtio_rng.h"
#include "vmm/virtio/transport/virtio_mmio.h"
#include "vmm/virtio/transport/virtio_pci.h"
#include "vmm/virtio/vsock/vsock_device.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <sys/eventfd.h>
#include <unistd.h>

namespace monarch::vmm::machine {

namespace {

// The INTx line of a device whose GSI is known only once the PciRoot has chosen its slot.
// A level set before that is applied when the line is connected.
class DeferredIrqLine final : public IrqLine {
public:
    void set_level(bool asserted) override
    {
        std::lock_guard lock { m_mutex };
        m_level = asserted;
        if (m_line)
            m_line->set_level(asserted);
    }
    // `line` outlives this object (the wiring's IntxLines).
    void connect(IrqLine& line)
    {
        std::lock_guard lock { m_mutex };
        m_line = &line;
        if (m_level)
            m_line->set_level(true);
    }

private:
    std::mutex m_mutex;
    IrqLine* m_line { nullptr };
    bool m_level { false };
};

// A virtio-mmio device's interrupt: an eventfd registered as an irqfd without resampling, so
// each write makes KVM pulse the GSI (an edge; Linux's virtio_mmio handler reads and acks
// InterruptStatus, so a bit set while the line stays "high" is still seen). The transport's
// IrqLevel calls set_level(true) when InterruptStatus becomes non-zero, false when it clears.
class IrqfdEdgeLine final : public IrqLine {
public:
    explicit IrqfdEdgeLine(UniqueFd fd) : m_fd(std::move(fd)) {}

    void set_level(bool asserted) override
    {
        if (!asserted)
            return;
        uint64_t const one = 1;
        // Cannot block (EFD_NONBLOCK) and fails only when the counter would overflow, i.e.
        // when KVM has stopped reading it: nothing to deliver to anyway.
        if (::write(m_fd.get(), &one, sizeof one) != sizeof one && !m_reported.exchange(true))
            log::error("virtio-mmio irqfd: {}", std::strerror(errno));
    }
    [[nodiscard]] int fd() const { return m_fd.get(); }

private:
    UniqueFd m_fd;
    std::atomic<bool> m_reported { false };
};

// One queue's kick: an eventfd KVM signals on the guest's write to the notify address, read on
// the event loop, which then calls the transport as the notify register itself would.
struct QueueNotifier {
    virtio::NotifyAddress where;
    int fd { -1 }; // owned by `descriptor`
    std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor;
    // Where the ioeventfd is registered: the BAR's address (virtio-pci) or the slot's base.
    std::optional<uint64_t> registered_at;

    [[nodiscard]] kvm::IoEventFd ioeventfd(uint64_t base) const
    {
        return kvm::IoEventFd { base + where.offset, where.length, where.datamatch, fd, kvm::IoEventSpace::Mmio };
    }
};

// `entry` (a WiredDevice) outlives the notifier's handlers: it owns the notifier.
template<typename Entry>
void arm(QueueNotifier& notifier, Entry& entry)
{
    notifier.descriptor->async_wait(boost::asio::posix::stream_descriptor::wait_read,
        [&notifier, &entry](boost::system::error_code const& error) {
            if (error)
                return; // cancelled at shutdown
            uint64_t count = 0;
            // Non-blocking; EAGAIN (another reader got it) is harmless: the kick is handled.
            (void)!::read(notifier.fd, &count, sizeof count);
            entry.handle_queue_notify(notifier.where.queue_index);
            arm(notifier, entry);
        });
}

} // namespace

// One device and its transport. Members are destroyed in reverse order: the notifiers (their
// handlers call the transport), the transports, then what the transports refer to.
struct VirtioWiring::WiredDevice {
    VirtioTransport kind { VirtioTransport::Pci };
    std::unique_ptr<virtio::VirtioDevice> device;
    // virtio-pci
    std::unique_ptr<KvmMsiRouter> router;
    DeferredIrqLine intx;
    std::shared_ptr<virtio::VirtioPci> pci;
    pci::PciAttachment attachment;
    // virtio-mmio
    std::unique_ptr<IrqfdEdgeLine> mmio_irq;
    std::shared_ptr<virtio::VirtioMmio> mmio;
    uint8_t mmio_index { 0 };
    VirtioMmioSlot mmio_slot;
    std::vector<std::unique_ptr<QueueNotifier>> notifiers;

    [[nodiscard]] std::string_view name() const { return kind == VirtioTransport::Pci ? pci->name() : mmio_name; }
    void handle_queue_notify(uint16_t index)
    {
        if (kind == VirtioTransport::Pci)
            pci->handle_queue_notify(index);
        else
            mmio->handle_queue_notify(index);
    }
    void stop_device()
    {
        if (kind == VirtioTransport::Pci)
            pci->stop_device();
        else
            mmio->stop_device();
    }
    std::string mmio_name;
};


VirtioWiring::VirtioWiring(Resources resources)
    : m_resources(resources)
{
    // Slots share the eight INTx GSIs (pci::intx_gsi): the wire-OR in IntxLines keeps one
    // device's deassert from dropping another's pending interrupt on the same GSI.
    m_intx = std::make_unique<pci::IntxLines>([this](uint32_t gsi) -> IrqLine& {
        return *m_gsi_lines.emplace_back(std::make_unique<KvmIrqLine>(m_resources.vm, Gsi { gsi }));
    });
}

Result<std::unique_ptr<VirtioWiring>> VirtioWiring::create(Resources resources, VmConfig const& config)
{
    std::unique_ptr<VirtioWiring> wiring { new VirtioWiring(resources) };
    auto& loop = resources.loop;
    for (auto const& disk : config.disks)
        TRY_VOID(wiring->add(TRY(virtio::VirtioBlock::create(loop, disk)), disk.transport));
    for (auto const& net : config.nets)
        TRY_VOID(wiring->add(TRY(virtio::VirtioNet::create(loop, net)), net.transport));
    if (config.rng)
        TRY_VOID(wiring->add(TRY(virtio::VirtioRng::create(loop, *config.rng)), config.rng->transport));
    if (config.vsock)
        TRY_VOID(wiring->add(TRY(virtio::vsock::VsockDevice::create(loop, *config.vsock)),
            config.vsock->transport));
    if (config.console.mode != "off")
        TRY_VOID(wiring->add(TRY(virtio::VirtioConsole::create(loop, config.console)), config.console.transport));
    return wiring;
}

Result<void> VirtioWiring::add(std::unique_ptr<virtio::VirtioDevice> device, VirtioTransport transport)
{
    if (!device)
        return fail(Errc::InvalidArgument, "virtio wiring: no device");
    auto entry = std::make_unique<WiredDevice>();
    entry->kind = transport;
    entry->device = std::move(device);
    if (transport == VirtioTransport::Pci)
        TRY_VOID(attach_pci(*entry));
    else
        TRY_VOID(attach_mmio(*entry));
    // From here the root or the bus refers to the entry: keep it even if a later step fails.
    auto& attached = *entry;
    {
        std::lock_guard lock { m_mutex };
        m_devices.push_back(std::move(entry));
    }
    TRY_VOID(attach_notifiers(attached));
    log::info("virtio: {}", describe(attached));
    return {};
}

Result<void> VirtioWiring::attach_pci(WiredDevice& entry)
{
    auto const vectors = static_cast<uint16_t>(entry.device->queue_max_sizes().size() + 1);
    entry.router = TRY(KvmMsiRouter::create(m_resources.vm, m_resources.routes, vectors));
    entry.pci = std::make_shared<virtio::VirtioPci>(*entry.device, m_resources.memory, m_resources.loop, *entry.router, entry.intx);
    entry.attachment = TRY(m_resources.root.attach(entry.pci));
    entry.intx.connect(m_intx->line(entry.attachment.slot, 0)); // virtio-pci uses INTA
    return {};
}

Result<void> VirtioWiring::attach_mmio(WiredDevice& entry)
{
    auto slot = virtio_mmio_slot(m_mmio_slots_used);
    if (!slot)
        return fail(Errc::OutOfRange, "virtio-mmio: every slot of the window is taken");
    UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    if (!fd)
        return fail_errno("virtio-mmio: eventfd");
    entry.mmio_irq = std::make_unique<IrqfdEdgeLine>(std::move(fd));
    TRY_VOID(m_resources.vm.register_irqfd(entry.mmio_irq->fd(), Gsi { slot->gsi }));
    ScopeGuard undo_irqfd { [&] { (void)m_resources.vm.unregister_irqfd(entry.mmio_irq->fd(), Gsi { slot->gsi }); } };
    entry.mmio = std::make_shared<virtio::VirtioMmio>(*entry.device, m_resources.memory, m_resources.loop, *entry.mmio_irq);
    entry.mmio_name = fmt::format("virtio-mmio-{}", entry.device->name());
    TRY_VOID(m_resources.mmio_bus.insert(slot->base, slot->size, entry.mmio, entry.mmio_name));
    undo_irqfd.dismiss();
    entry.mmio_index = static_cast<uint8_t>(m_mmio_slots_used++);
    entry.mmio_slot = *slot;
    return {};
}

Result<void> VirtioWiring::attach_notifiers(WiredDevice& entry)
{
    std::optional<uint64_t> base;
    std::vector<virtio::NotifyAddress> addresses;
    if (entry.kind == VirtioTransport::Mmio) {
        base = entry.mmio_slot.base;
        addresses = entry.mmio->notify_addresses();
    } else {
        for (auto const& mapping : m_resources.root.bar_mappings()) {
            if (mapping.slot == entry.attachment.slot && mapping.bar == virtio::pci_layout::BAR_INDEX && mapping.mapped)
                base = mapping.address;
        }
        addresses = entry.pci->notify_addresses();
    }
    std::lock_guard lock { m_mutex };
    for (auto const& where : addresses) {
        UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        if (!fd)
            return fail_errno("virtio wiring: eventfd");
        auto notifier = std::make_unique<QueueNotifier>();
        notifier->where = where;
        notifier->fd = fd.get();
        notifier->descriptor = std::make_unique<boost::asio::posix::stream_descriptor>(m_resources.loop, fd.release());
        if (base) {
            TRY_VOID(m_resources.vm.register_ioeventfd(notifier->ioeventfd(*base)));
            notifier->registered_at = base;
        }
        arm(*notifier, entry);
        entry.notifiers.push_back(std::move(notifier));
    }
    return {};
}

std::string VirtioWiring::describe(WiredDevice const& entry)
{
    if (entry.kind == VirtioTransport::Mmio)
        return fmt::format("{} at {:#x} (GSI {}, {})", entry.name(), entry.mmio_slot.base, entry.mmio_slot.gsi,
            virtio_mmio_cmdline_word(entry.mmio_slot));
    return fmt::format("{} at PCI slot {} (INTx GSI {})", entry.name(), entry.attachment.slot, entry.attachment.intx_gsi);
}

void VirtioWiring::bar_moved(uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at)
{
    if (bar != virtio::pci_layout::BAR_INDEX)
        return;
    std::lock_guard lock { m_mutex };
    for (auto& entry : m_devices) {
        if (entry->kind != VirtioTransport::Pci || entry->attachment.slot != slot)
            continue;
        for (auto& notifier : entry->notifiers) {
            if (notifier->registered_at == mapped_at)
                continue;
            if (notifier->registered_at) {
                auto result = m_resources.vm.unregister_ioeventfd(notifier->ioeventfd(*notifier->registered_at));
                if (!result)
                    log::warn("virtio: {}: ioeventfd removal: {}", entry->name(), to_string(result.error()));
                notifier->registered_at.reset();
            }
            if (!mapped_at)
                continue;
            // A failure leaves the kick to the MMIO exit path (slower, still correct).
            auto result = m_resources.vm.register_ioeventfd(notifier->ioeventfd(*mapped_at));
            if (result)
                notifier->registered_at = mapped_at;
            else
                log::warn("virtio: {}: ioeventfd at {:#x}: {}", entry->name(), *mapped_at + notifier->where.offset, to_string(result.error()));
        }
    }
}

void VirtioWiring::stop_devices()
{
    for (auto& entry : m_devices)
        entry->stop_device();
}

std::vector<VirtioWiring::TransportRef> VirtioWiring::transports() const
{
    std::lock_guard lock { m_mutex };
    std::vector<TransportRef> out;
    for (auto const& entry : m_devices) {
        if (entry->kind == VirtioTransport::Pci)
            out.push_back({ entry->attachment.slot, entry->pci.get(), nullptr });
        else
            out.push_back({ entry->mmio_index, nullptr, entry->mmio.get() });
    }
    return out;
}

std::vector<VirtioWiring::DeviceInfo> VirtioWiring::devices() const
{
    std::lock_guard lock { m_mutex };
    std::vector<DeviceInfo> out;
    for (auto const& entry : m_devices) {
        size_t registered = 0;
        for (auto const& notifier : entry->notifiers)
            registered += notifier->registered_at.has_value() ? 1 : 0;
        DeviceInfo info { std::string(entry->name()), entry->kind, 0, 0, 0, 0, entry->device->queue_max_sizes().size(), registered };
        if (entry->kind == VirtioTransport::Pci) {
            info.slot = entry->attachment.slot;
            info.intx_gsi = info.irq = entry->attachment.intx_gsi;
        } else {
            info.slot = entry->mmio_index;
            info.mmio_base = entry->mmio_slot.base;
            info.irq = entry->mmio_slot.gsi;
        }
        out.push_back(std::move(info));
    }
    return out;
}

VirtioWiring::~VirtioWiring()
{
    for (auto& entry : m_devices) {
        for (auto& notifier : entry->notifiers) {
            if (notifier->registered_at)
                (void)m_resources.vm.unregister_ioeventfd(notifier->ioeventfd(*notifier->registered_at));
        }
        if (entry->mmio_irq && entry->mmio)
            (void)m_resources.vm.unregister_irqfd(entry->mmio_irq->fd(), Gsi { entry->mmio_slot.gsi });
    }
}

} // namespace monarch::vmm::machine
