// SPDX-License-Identifier: Apache-2.0
// MSI delivery through KVM: GsiRouteTable, the VM's one GSI routing table (the legacy
// PIC/IOAPIC routes plus an MSI route per live vector, GSIs allocated above the IOAPIC pins),
// and KvmMsiRouter, a device's MsiRouter with one eventfd + irqfd + GSI per MSI-X vector.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "common/unique_fd.h"
#include "vmm/devices/pci/msi.h"
#include "vmm/kvm/vm_fd.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include "vmm/kvm/kvm_uapi.h"
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::machine {

// KVM's routing table holds at most KVM_MAX_IRQ_ROUTES entries (4096 on x86, 1024 on old
// kernels); MSI GSIs run from the first pin above the IOAPIC up to this bound.
inline constexpr uint32_t MSI_GSI_FIRST = 24;
inline constexpr uint32_t MSI_GSI_LIMIT = 1024;

class GsiRouteTable {
public:
    // What commit() hands the table to: VmFd::set_gsi_routing in the VMM, a recorder in tests.
    using Sink = std::function<Result<void>(std::span<kvm_irq_routing_entry const>)>;

    // `base`: the routes that always exist (machine::legacy_gsi_routing()).
    GsiRouteTable(std::vector<kvm_irq_routing_entry> base, Sink sink);

    // A free GSI at or above MSI_GSI_FIRST; OutOfRange when all are taken.
    [[nodiscard]] Result<Gsi> allocate();
    // Forgets the GSI and its route (takes effect at the next commit).
    void release(Gsi);
    // The MSI route of an allocated GSI, or none (a masked vector needs none: nothing fires
    // it). Marks the table dirty when it changes; no ioctl.
    void set_msi_route(Gsi, std::optional<pci::MsiMessage>);
    // KVM_SET_GSI_ROUTING with the base and all MSI routes, if anything changed since the
    // last successful commit (one ioctl for any number of set_msi_route calls). The table's
    // lock is not held across the ioctl: set_msi_route() and release() go on meanwhile, and
    // what they change is left dirty for the next commit.
    [[nodiscard]] Result<void> commit();
    [[nodiscard]] bool dirty() const;
    [[nodiscard]] std::vector<kvm_irq_routing_entry> entries() const;

private:
    [[nodiscard]] std::vector<kvm_irq_routing_entry> entries_locked() const;

    std::mutex m_commit_mutex; // one commit at a time, in order; taken before m_mutex
    mutable std::mutex m_mutex;
    std::vector<kvm_irq_routing_entry> m_base;
    Sink m_sink;
    std::map<uint32_t, std::optional<pci::MsiMessage>> m_msi; // allocated GSIs
    uint64_t m_generation { 1 }; // bumped by every change; the base alone is a change
    uint64_t m_committed { 0 };  // the generation KVM has
};

// Thread-safe (update() from vCPU threads, trigger() from the event loop). update() only
// records the route (it runs under the MSI-X table's lock, where no ioctl belongs); trigger()
// commits the table first when anything changed, so the interrupt uses the route the guest
// last wrote, with one ioctl for all the writes since the last commit.
class KvmMsiRouter final : public pci::MsiRouter {
public:
    // One eventfd, one GSI and one irqfd per vector. Everything created so far is undone on
    // failure. `vm` and `routes` outlive the router.
    [[nodiscard]] static Result<std::unique_ptr<KvmMsiRouter>> create(kvm::VmFd const& vm, GsiRouteTable& routes, uint16_t vector_count);
    ~KvmMsiRouter() override;
    KvmMsiRouter(KvmMsiRouter const&) = delete;
    KvmMsiRouter& operator=(KvmMsiRouter const&) = delete;

    void update(uint16_t vector, pci::MsiMessage const& message, bool masked) override;
    void trigger(uint16_t vector) override;

    [[nodiscard]] uint16_t vector_count() const { return static_cast<uint16_t>(m_vectors.size()); }
    [[nodiscard]] Gsi gsi(uint16_t vector) const { return m_vectors.at(vector).gsi; }
    // The irqfd's eventfd: writing 1 to it is trigger() without the call, for code that has
    // already checked the MSI-X mask and committed the route table (update() does not commit).
    [[nodiscard]] int eventfd(uint16_t vector) const { return m_vectors.at(vector).eventfd.get(); }
    // Failed ioctls/writes seen by update()/trigger() (logged once).
    [[nodiscard]] uint64_t failures() const { return m_failures.load(); }

private:
    struct Vector {
        UniqueFd eventfd;
        Gsi gsi;
        bool irqfd { false };
    };
    KvmMsiRouter(kvm::VmFd const& vm, GsiRouteTable& routes) : m_vm(vm), m_routes(routes) {}
    void report(Error const&);

    kvm::VmFd const& m_vm;
    GsiRouteTable& m_routes;
    std::vector<Vector> m_vectors;
    std::atomic<uint64_t> m_failures { 0 };
};

} // namespace monarch::vmm::machine
