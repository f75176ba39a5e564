// SPDX-License-Identifier: Apache-2.0
// VmSealing's construction and its generation counter.
#include "vmm/vmcrypt/vm_sealing.h"

#include <algorithm>
#include <chrono>
#include <sodium.h>

namespace monarch::vmm::vmcrypt {

Result<VmSealing> VmSealing::create(crypt::OwnerKey owner, crypt::VmUuid const& vm, crypt::Cipher cipher,
    crypt::Generation first_generation)
{
    auto keys = TRY(crypt::SealingKeys::create(owner, vm, cipher));
    return VmSealing(std::move(owner), std::move(keys), first_generation.raw());
}

Result<VmSealing> VmSealing::create_default(crypt::OwnerKey owner, std::optional<crypt::VmUuid> vm)
{
    crypt::VmUuid uuid;
    if (vm) {
        uuid = *vm;
    } else {
        randombytes_buf(uuid.bytes.data(), uuid.bytes.size());
        // RFC 4122 section 4.4: version 4 (random), variant 10.
        uuid.bytes[6] = (uuid.bytes[6] & std::byte { 0x0f }) | std::byte { 0x40 };
        uuid.bytes[8] = (uuid.bytes[8] & std::byte { 0x3f }) | std::byte { 0x80 };
    }
    auto const now = std::chrono::system_clock::now().time_since_epoch();
    auto const nanoseconds = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
    return create(std::move(owner), uuid, crypt::preferred_cipher(), crypt::Generation { std::max<uint64_t>(nanoseconds, 1) });
}

Result<void> VmSealing::rebind(crypt::VmUuid const& vm)
{
    if (vm == m_keys.vm)
        return {};
    m_keys = TRY(crypt::SealingKeys::create(m_owner, vm, m_keys.cipher));
    return {};
}

void VmSealing::advance_past(crypt::Generation generation)
{
    if (generation.raw() != UINT64_MAX)
        m_next = std::max(m_next, generation.raw() + 1);
}

} // namespace monarch::vmm::vmcrypt
