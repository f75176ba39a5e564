// SPDX-License-Identifier: Apache-2.0
// virtio-console port 0: transmitq to the back end, back end input to the receiveq through a
// bounded buffer with back-pressure on the input thread (virtio 1.2 sections 5.3.6, 5.3.4).
#include "vmm/virtio/console/virtio_console.h"

#include "common/log.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <array>

namespace monarch::vmm::virtio {

namespace {
constexpr uint64_t CONFIG_EMERG_WR = 8; // le32 emerg_wr (section 5.3.4)
constexpr uint64_t CONFIG_BYTES = 12;   // cols, rows, max_nr_ports, emerg_wr
} // namespace

Result<std::unique_ptr<VirtioConsole>> VirtioConsole::create(boost::asio::io_context& io, machine::ConsoleConfig const& config)
{
    auto spec = TRY(parse_serial_spec(config.mode));
    if (spec.kind == SerialSpec::Kind::Off)
        return fail(Errc::InvalidArgument, "virtio-console: the console is off");
    auto backend = TRY(CharBackend::create(spec));
    return create(io, std::move(backend));
}

Result<std::unique_ptr<VirtioConsole>> VirtioConsole::create(boost::asio::io_context& io, std::unique_ptr<CharBackend> backend)
{
    std::unique_ptr<VirtioConsole> console { new VirtioConsole(io, std::move(backend)) };
    auto* self = console.get();
    // The feeder outlives every call into accept_input: the destructor stops it and joins the
    // input thread before `self` goes away.
    console->m_feeder = std::make_shared<InputFeeder>([self](std::span<std::byte const> bytes) { return self->accept_input(bytes); });
    TRY_VOID(console->m_backend->start_input([feeder = console->m_feeder](std::span<std::byte const> bytes) { feeder->feed(bytes); }));
    return console;
}

VirtioConsole::VirtioConsole(boost::asio::io_context& io, std::unique_ptr<CharBackend> backend)
    : m_io(io)
    , m_backend(std::move(backend))
{
}

VirtioConsole::~VirtioConsole()
{
    if (m_feeder)
        m_feeder->stop();
    m_backend->stop();
}

size_t VirtioConsole::pending_input() const
{
    std::lock_guard lock(m_input_mutex);
    return m_pending.size();
}

void VirtioConsole::read_config(uint64_t offset, std::span<std::byte> data) const
{
    // cols/rows matter only with F_SIZE and max_nr_ports with F_MULTIPORT; we offer neither.
    std::fill(data.begin(), data.end(), std::byte { 0 });
    (void)offset;
}

void VirtioConsole::write_config(uint64_t offset, std::span<std::byte const> data)
{
    // F_EMERG_WRITE: a write to emerg_wr outputs its low byte, even before DRIVER_OK (5.3.4).
    if (offset != CONFIG_EMERG_WR || data.empty() || offset + data.size() > CONFIG_BYTES)
        return;
    m_backend->write(data.first(1));
    ++m_counters.bytes_out;
}

Result<void> VirtioConsole::activate(ActivateContext context)
{
    if (context.queues.size() != 2)
        return fail(Errc::InvalidArgument, "virtio-console: expects a receive and a transmit queue");
    m_context.emplace(context);
    m_needs_reset = false;
    m_quiesced = false;
    deliver_input(); // input that arrived before the driver was ready
    return {};
}

void VirtioConsole::reset()
{
    // Host input not yet delivered stays for the next driver (a rebooting guest).
    m_context.reset();
    m_needs_reset = false;
}

void VirtioConsole::queue_notify(uint16_t queue_index)
{
    if (!m_context || m_needs_reset)
        return;
    if (queue_index == RECEIVE_QUEUE)
        deliver_input();
    else if (queue_index == TRANSMIT_QUEUE)
        transmit();
}

void VirtioConsole::thaw()
{
    m_quiesced = false;
    if (m_context)
        deliver_input();
}

void VirtioConsole::broken()
{
    if (m_counters.broken_chains++ == 0)
        log::warn("virtio-console: the driver broke the ring protocol; the device needs a reset");
    m_needs_reset = true;
}

size_t VirtioConsole::accept_input(std::span<std::byte const> bytes)
{
    size_t taken = 0;
    bool post = false;
    {
        std::lock_guard lock(m_input_mutex);
        taken = std::min(bytes.size(), INPUT_BUFFER_BYTES - m_pending.size());
        m_pending.insert(m_pending.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(taken));
        post = taken > 0 && !m_delivery_posted;
        m_delivery_posted = m_delivery_posted || post;
    }
    if (post) {
        boost::asio::post(m_io, [this, alive = std::weak_ptr<char>(m_alive)] {
            if (!alive.expired())
                deliver_input();
        });
    }
    return taken;
}

void VirtioConsole::deliver_input()
{
    bool delivered = false;
    {
        std::lock_guard lock(m_input_mutex);
        m_delivery_posted = false;
        if (!m_context || m_needs_reset || m_quiesced)
            return;
        auto& queue = m_context->queues[RECEIVE_QUEUE];
        std::vector<std::byte> chunk;
        while (!m_pending.empty()) {
            auto chain = queue.pop();
            if (!chain) {
                broken();
                break;
            }
            if (!*chain)
                break; // the rest waits for the driver's next receive buffers
            auto const count = std::min<uint64_t>(m_pending.size(), (*chain)->writable_length());
            chunk.assign(m_pending.begin(), m_pending.begin() + static_cast<ptrdiff_t>(count));
            auto written = write_to_chain(m_context->memory, (*chain)->writable, 0, chunk);
            uint32_t const length = written ? static_cast<uint32_t>(*written) : 0;
            m_pending.erase(m_pending.begin(), m_pending.begin() + length);
            m_counters.bytes_in += length;
            if (!queue.push_used((*chain)->head, length)) {
                broken();
                break;
            }
            delivered = true;
        }
    }
    if (!delivered)
        return;
    m_feeder->notify_room();
    if (m_context->queues[RECEIVE_QUEUE].needs_notification())
        m_context->interrupt.signal_queue(RECEIVE_QUEUE);
}

void VirtioConsole::transmit()
{
    auto& queue = m_context->queues[TRANSMIT_QUEUE];
    bool used = false;
    std::array<std::byte, 4096> bytes {};
    while (true) {
        auto chain = queue.pop();
        if (!chain) {
            broken();
            break;
        }
        if (!*chain)
            break;
        // Section 5.3.6.1: the driver's buffers are all device-readable; writable ones are ignored.
        // In pieces: a chain may describe far more bytes than we would want to allocate.
        for (uint64_t offset = 0; offset < (*chain)->readable_length();) {
            auto read = read_from_chain(m_context->memory, (*chain)->readable, offset, bytes);
            if (!read || *read == 0)
                break;
            m_backend->write(std::span { bytes.data(), *read });
            m_counters.bytes_out += *read;
            offset += *read;
        }
        if (!queue.push_used((*chain)->head, 0)) {
            broken();
            break;
        }
        used = true;
    }
    if (used && queue.needs_notification())
        m_context->interrupt.signal_queue(TRANSMIT_QUEUE);
}

} // namespace monarch::vmm::virtio
