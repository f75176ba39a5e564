// SPDX-License-Identifier: Apache-2.0
// virtio-rng: fills the driver's writable buffers from getrandom() (virtio 1.2 section 5.4.6).
#include "vmm/virtio/rng/virtio_rng.h"

#include "common/log.h"

#include <algorithm>
#include <cerrno>
#include <sys/random.h>

namespace monarch::vmm::virtio {

Result<std::unique_ptr<VirtioRng>> VirtioRng::create(boost::asio::io_context& io, machine::RngConfig const& config)
{
    if (config.source != "/dev/urandom" && config.source != "/dev/random")
        return fail(Errc::InvalidArgument, "virtio-rng: the source must be /dev/urandom or /dev/random");
    return std::make_unique<VirtioRng>(io);
}

void VirtioRng::read_config(uint64_t, std::span<std::byte> data) const
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
}

Result<void> VirtioRng::activate(ActivateContext context)
{
    if (context.queues.size() != 1)
        return fail(Errc::InvalidArgument, "virtio-rng: expects exactly one queue");
    m_context.emplace(context);
    m_needs_reset = false;
    return {};
}

void VirtioRng::queue_notify(uint16_t queue_index)
{
    if (queue_index != 0 || !m_context || m_needs_reset)
        return;
    auto& queue = m_context->queues[0];
    bool used = false;
    while (true) {
        auto chain = queue.pop();
        if (!chain) {
            ++m_counters.broken_chains;
            m_needs_reset = true;
            break;
        }
        if (!*chain)
            break;
        ++m_counters.requests;
        uint32_t const written = fill(**chain);
        if (!queue.push_used((*chain)->head, written)) {
            m_needs_reset = true;
            break;
        }
        used = true;
    }
    if (used && queue.needs_notification())
        m_context->interrupt.signal_queue(0);
}

uint32_t VirtioRng::fill(DescriptorChain const& chain)
{
    uint32_t written = 0;
    for (auto const& buffer : chain.writable) {
        uint32_t const length = std::min(buffer.length, MAX_BYTES_PER_REQUEST - written);
        if (length == 0)
            break;
        auto target = m_context->memory.span(buffer.address, length);
        if (!target)
            break;
        // getrandom() never returns short for up to 256 bytes; larger requests may be split
        // by a signal, so loop. It blocks only before the host's pool is initialised at boot.
        size_t done = 0;
        while (done < target->size()) {
            ssize_t const result = ::getrandom(target->data() + done, target->size() - done, 0);
            if (result < 0) {
                if (errno == EINTR)
                    continue;
                log::warn("virtio-rng: getrandom failed: {}", std::strerror(errno));
                return written + static_cast<uint32_t>(done);
            }
            done += static_cast<size_t>(result);
        }
        written += length;
    }
    m_counters.bytes += written;
    return written;
}

} // namespace monarch::vmm::virtio
