// SPDX-License-Identifier: Apache-2.0
// VmSealing: what one monarch-vmm holds while it may seal: the owner key (to open its own
// snapshots on restore), the VM's data key wrapped by it, the VM's UUID, and the generation
// counter that every sealed stream it writes takes the next value of.
#pragma once

#include "common/result.h"
#include "crypt/data_key.h"
#include "crypt/owner_key.h"
#include "crypt/types.h"

#include <cstdint>
#include <optional>

namespace monarch::vmm::vmcrypt {

class VmSealing {
public:
    // A fresh data key for `vm` under `owner`. Streams get generations first_generation,
    // first_generation + 1, ... (a restored VM starts after the snapshot's generation).
    [[nodiscard]] static Result<VmSealing> create(crypt::OwnerKey owner, crypt::VmUuid const& vm, crypt::Cipher cipher,
        crypt::Generation first_generation);
    // As create(), with the cipher this host runs best, a random UUID when `vm` is absent and
    // the wall clock in nanoseconds as the first generation (so generations keep growing across
    // restarts of the VMM without stored state).
    [[nodiscard]] static Result<VmSealing> create_default(crypt::OwnerKey owner, std::optional<crypt::VmUuid> vm = {});

    [[nodiscard]] crypt::OwnerKey const& owner() const { return m_owner; }
    [[nodiscard]] crypt::SealingKeys const& keys() const { return m_keys; }
    [[nodiscard]] crypt::VmUuid const& vm() const { return m_keys.vm; }
    // The generation for the next stream; each call returns a larger one.
    [[nodiscard]] crypt::Generation next_generation() { return crypt::Generation { m_next++ }; }
    // Later streams get generations above `generation` (after a restore from it).
    void advance_past(crypt::Generation generation);
    // Seals for `vm` from now on: a fresh data key under the same owner key and cipher, the
    // generation counter kept (the VM's UUID is known only once vm.create or a restore gave it).
    [[nodiscard]] Result<void> rebind(crypt::VmUuid const& vm);

private:
    VmSealing(crypt::OwnerKey owner, crypt::SealingKeys keys, uint64_t next)
        : m_owner(std::move(owner)), m_keys(std::move(keys)), m_next(next) {}

    crypt::OwnerKey m_owner;
    crypt::SealingKeys m_keys;
    uint64_t m_next { 0 };
};

} // namespace monarch::vmm::vmcrypt
