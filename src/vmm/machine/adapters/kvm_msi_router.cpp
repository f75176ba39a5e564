// SPDX-License-Identifier: Apache-2.0
// GsiRouteTable and KvmMsiRouter: MSI routes (KVM_IRQ_ROUTING_MSI), irqfds, eventfds.
#include "vmm/machine/adapters/kvm_msi_router.h"

#include "common/log.h"
#include "common/verify.h"

#include <cerrno>
#include <sys/eventfd.h>
#include <unistd.h>

namespace monarch::vmm::machine {

GsiRouteTable::GsiRouteTable(std::vector<kvm_irq_routing_entry> base, Sink sink)
    : m_base(std::move(base))
    , m_sink(std::move(sink))
{
}

Result<Gsi> GsiRouteTable::allocate()
{
    std::lock_guard lock { m_mutex };
    for (uint32_t gsi = MSI_GSI_FIRST; gsi < MSI_GSI_LIMIT; ++gsi) {
        if (m_msi.contains(gsi))
            continue;
        m_msi.emplace(gsi, std::nullopt);
        return Gsi { gsi };
    }
    return fail(Errc::OutOfRange, "gsi routing: no free GSI for MSI");
}

void GsiRouteTable::release(Gsi gsi)
{
    std::lock_guard lock { m_mutex };
    auto it = m_msi.find(gsi.raw());
    if (it == m_msi.end())
        return;
    if (it->second)
        ++m_generation;
    m_msi.erase(it);
}

void GsiRouteTable::set_msi_route(Gsi gsi, std::optional<pci::MsiMessage> message)
{
    std::lock_guard lock { m_mutex };
    auto it = m_msi.find(gsi.raw());
    VERIFY(it != m_msi.end()); // only our own routers call this, with GSIs they allocated
    if (it->second == message)
        return;
    it->second = message;
    ++m_generation;
}

std::vector<kvm_irq_routing_entry> GsiRouteTable::entries_locked() const
{
    std::vector<kvm_irq_routing_entry> entries = m_base;
    for (auto const& [gsi, message] : m_msi) {
        if (!message)
            continue;
        kvm_irq_routing_entry entry {};
        entry.gsi = gsi;
        entry.type = KVM_IRQ_ROUTING_MSI;
        entry.u.msi.address_lo = static_cast<uint32_t>(message->address);
        entry.u.msi.address_hi = static_cast<uint32_t>(message->address >> 32);
        entry.u.msi.data = message->data;
        entries.push_back(entry);
    }
    return entries;
}

Result<void> GsiRouteTable::commit()
{
    // m_commit_mutex puts the ioctls in the order their tables were built (an older table must
    // never overwrite a newer one); m_mutex is held only to copy the table, so set_msi_route()
    // on a vCPU thread never waits for a KVM_SET_GSI_ROUTING in progress.
    std::lock_guard commit_lock { m_commit_mutex };
    std::vector<kvm_irq_routing_entry> entries;
    uint64_t generation = 0;
    {
        std::lock_guard lock { m_mutex };
        if (m_generation == m_committed)
            return {};
        entries = entries_locked();
        generation = m_generation;
    }
    TRY_VOID(m_sink(entries));
    // A change made during the ioctl has a later generation: the table stays dirty for it.
    std::lock_guard lock { m_mutex };
    m_committed = generation;
    return {};
}

bool GsiRouteTable::dirty() const
{
    std::lock_guard lock { m_mutex };
    return m_generation != m_committed;
}

std::vector<kvm_irq_routing_entry> GsiRouteTable::entries() const
{
    std::lock_guard lock { m_mutex };
    return entries_locked();
}

Result<std::unique_ptr<KvmMsiRouter>> KvmMsiRouter::create(kvm::VmFd const& vm, GsiRouteTable& routes, uint16_t vector_count)
{
    if (vector_count == 0)
        return fail(Errc::InvalidArgument, "msi router: no vectors");
    // The destructor undoes whatever part of the set-up succeeded.
    std::unique_ptr<KvmMsiRouter> router { new KvmMsiRouter(vm, routes) };
    router->m_vectors.reserve(vector_count);
    for (uint16_t vector = 0; vector < vector_count; ++vector) {
        UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        if (!fd)
            return fail_errno("eventfd");
        auto gsi = TRY(routes.allocate());
        router->m_vectors.push_back(Vector { std::move(fd), gsi, false });
        auto& entry = router->m_vectors.back();
        TRY_VOID(vm.register_irqfd(entry.eventfd.get(), entry.gsi));
        entry.irqfd = true;
    }
    return router;
}

KvmMsiRouter::~KvmMsiRouter()
{
    for (auto& vector : m_vectors) {
        if (vector.irqfd)
            (void)m_vm.unregister_irqfd(vector.eventfd.get(), vector.gsi);
        m_routes.release(vector.gsi);
    }
    // The released routes leave KVM's table at the next commit; until then they point at
    // GSIs with no irqfd, which nothing can fire.
}

void KvmMsiRouter::report(Error const& error)
{
    if (m_failures.fetch_add(1) == 0)
        log::error("msi router: {}", to_string(error));
}

// Called by the MSI-X table with its lock held, on the vCPU thread that wrote the entry: only
// records the route. The one KVM_SET_GSI_ROUTING for any number of entry writes is issued by
// the next trigger() (or commit()), so a guest rewriting entries in a loop costs no ioctl.
void KvmMsiRouter::update(uint16_t vector, pci::MsiMessage const& message, bool masked)
{
    if (vector >= m_vectors.size())
        return;
    m_routes.set_msi_route(m_vectors[vector].gsi, masked ? std::nullopt : std::optional { message });
}

void KvmMsiRouter::trigger(uint16_t vector)
{
    if (vector >= m_vectors.size())
        return;
    // The route must be in KVM before the irqfd fires; commit() returns at once when no route
    // changed since the last one.
    if (auto committed = m_routes.commit(); !committed)
        report(committed.error());
    uint64_t const one = 1;
    // EAGAIN means the counter is saturated: the interrupt is pending anyway.
    if (::write(m_vectors[vector].eventfd.get(), &one, sizeof one) < 0 && errno != EAGAIN)
        report(Error::from_errno("eventfd write"));
}

} // namespace monarch::vmm::machine
