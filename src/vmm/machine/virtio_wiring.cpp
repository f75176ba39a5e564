// SPDX-License-Identifier: Apache-2.0
// The virtio devices of a VmConfig on virtio-pci: device creation, PCI attachment, MSI-X and
// INTx delivery, and the per-queue ioeventfds that follow the BAR.

#include "vmm/machine/virtio_wiring.h"

#include "common/log.h"
#include "common/unique_fd.h"
#include "vmm/machine/adapters/kvm_irq_line.h"
#include "vmm/virtio/block/virtio_block.h"
#include "vmm/virtio/console/virtio_console.h"
#include "vmm/virtio/net/virtio_net.h"
#include "vmm/virtio/rng/virtio_rng.h"
#include "vmm/virtio/transport/virtio_pci.h"
#include "vmm/virtio/vsock/vsock_device.h"

#include <boost/asio/posix/stream_descriptor.hpp>

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

// One queue's kick: an eventfd KVM signals on the guest's write to the notify address, read on
// the event loop, which then calls the transport as the notify register itself would.
struct QueueNotifier {
    virtio::NotifyAddress where;
    int fd { -1 }; // owned by `descriptor`
    std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor;
    std::optional<uint64_t> registered_at; // the BAR address the ioeventfd is registered for

    [[nodiscard]] kvm::IoEventFd ioeventfd(uint64_t bar_address) const
    {
        return kvm::IoEventFd { bar_address + where.offset, where.length, where.datamatch, fd, kvm::IoEventSpace::Mmio };
    }
};

void arm(QueueNotifier& notifier, virtio::VirtioPci& transport)
{
    notifier.descriptor->async_wait(boost::asio::posix::stream_descriptor::wait_read,
        [&notifier, &transport](boost::system::error_code const& error) {
            if (error)
                return; // cancelled at shutdown
            uint64_t count = 0;
            // Non-blocking; EAGAIN (another reader got it) is harmless: the kick is handled.
            (void)!::read(notifier.fd, &count, sizeof count);
            transport.handle_queue_notify(notifier.where.queue_index);
            arm(notifier, transport);
        });
}

} // namespace

struct VirtioWiring::PciVirtioDevice {
    std::unique_ptr<virtio::VirtioDevice> device;
    std::unique_ptr<KvmMsiRouter> router;
    DeferredIrqLine intx;
    std::shared_ptr<virtio::VirtioPci> transport;
    pci::PciAttachment attachment;
    std::vector<std::unique_ptr<QueueNotifier>> notifiers;
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
        TRY_VOID(wiring->add(TRY(virtio::VirtioBlock::create(loop, disk))));
    for (auto const& net : config.nets)
        TRY_VOID(wiring->add(TRY(virtio::VirtioNet::create(loop, net))));
    if (config.rng)
        TRY_VOID(wiring->add(TRY(virtio::VirtioRng::create(loop, *config.rng))));
    if (config.vsock)
        TRY_VOID(wiring->add(TRY(virtio::vsock::VsockDevice::create(loop, { config.vsock->cid, config.vsock->socket, {} }))));
    if (config.console.mode != "off")
        TRY_VOID(wiring->add(TRY(virtio::VirtioConsole::create(loop, config.console))));
    return wiring;
}

Result<void> VirtioWiring::add(std::unique_ptr<virtio::VirtioDevice> device)
{
    if (!device)
        return fail(Errc::InvalidArgument, "virtio wiring: no device");
    auto entry = std::make_unique<PciVirtioDevice>();
    auto const vectors = static_cast<uint16_t>(device->queue_max_sizes().size() + 1);
    entry->device = std::move(device);
    entry->router = TRY(KvmMsiRouter::create(m_resources.vm, m_resources.routes, vectors));
    entry->transport = std::make_shared<virtio::VirtioPci>(*entry->device, m_resources.memory, m_resources.loop, *entry->router, entry->intx);
    entry->attachment = TRY(m_resources.root.attach(entry->transport));
    entry->intx.connect(m_intx->line(entry->attachment.slot, 0)); // virtio-pci uses INTA
    // From here the root refers to the entry: keep it even if a later step fails.
    auto& attached = *entry;
    {
        std::lock_guard lock { m_mutex };
        m_devices.push_back(std::move(entry));
    }
    TRY_VOID(attach_notifiers(attached));
    log::info("virtio: {} at PCI slot {} (INTx GSI {})", attached.transport->name(), attached.attachment.slot, attached.attachment.intx_gsi);
    return {};
}

Result<void> VirtioWiring::attach_notifiers(PciVirtioDevice& entry)
{
    std::optional<uint64_t> bar_address;
    for (auto const& mapping : m_resources.root.bar_mappings()) {
        if (mapping.slot == entry.attachment.slot && mapping.bar == virtio::pci_layout::BAR_INDEX && mapping.mapped)
            bar_address = mapping.address;
    }
    std::lock_guard lock { m_mutex };
    for (auto const& where : entry.transport->notify_addresses()) {
        UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        if (!fd)
            return fail_errno("virtio wiring: eventfd");
        auto notifier = std::make_unique<QueueNotifier>();
        notifier->where = where;
        notifier->fd = fd.get();
        notifier->descriptor = std::make_unique<boost::asio::posix::stream_descriptor>(m_resources.loop, fd.release());
        if (bar_address) {
            TRY_VOID(m_resources.vm.register_ioeventfd(notifier->ioeventfd(*bar_address)));
            notifier->registered_at = bar_address;
        }
        arm(*notifier, *entry.transport);
        entry.notifiers.push_back(std::move(notifier));
    }
    return {};
}

void VirtioWiring::bar_moved(uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at)
{
    if (bar != virtio::pci_layout::BAR_INDEX)
        return;
    std::lock_guard lock { m_mutex };
    for (auto& entry : m_devices) {
        if (entry->attachment.slot != slot)
            continue;
        for (auto& notifier : entry->notifiers) {
            if (notifier->registered_at == mapped_at)
                continue;
            if (notifier->registered_at) {
                auto result = m_resources.vm.unregister_ioeventfd(notifier->ioeventfd(*notifier->registered_at));
                if (!result)
                    log::warn("virtio: {}: ioeventfd removal: {}", entry->transport->name(), to_string(result.error()));
                notifier->registered_at.reset();
            }
            if (!mapped_at)
                continue;
            // A failure leaves the kick to the MMIO exit path (slower, still correct).
            auto result = m_resources.vm.register_ioeventfd(notifier->ioeventfd(*mapped_at));
            if (result)
                notifier->registered_at = mapped_at;
            else
                log::warn("virtio: {}: ioeventfd at {:#x}: {}", entry->transport->name(), *mapped_at + notifier->where.offset, to_string(result.error()));
        }
    }
}

void VirtioWiring::stop_devices()
{
    for (auto& entry : m_devices)
        entry->transport->stop_device();
}

std::vector<VirtioWiring::TransportRef> VirtioWiring::transports() const
{
    std::lock_guard lock { m_mutex };
    std::vector<TransportRef> out;
    for (auto const& entry : m_devices)
        out.push_back({ entry->attachment.slot, entry->transport.get() });
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
        out.push_back({ std::string(entry->transport->name()), entry->attachment.slot, entry->attachment.intx_gsi,
            entry->device->queue_max_sizes().size(), registered });
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
    }
}

} // namespace monarch::vmm::machine
