// SPDX-License-Identifier: Apache-2.0
// I8042's state for snapshots: the output queue, command byte, output port and the command
// waiting for its data byte, taken and put back under the lock.
#include "vmm/devices/i8042.h"

namespace monarch::vmm {

namespace {
constexpr uint8_t PENDING_LAST = 5; // Pending::WriteAux
}

I8042State I8042::state() const
{
    std::lock_guard lock { m_mutex };
    I8042State state;
    for (size_t i = 0; i < m_output_count; ++i) {
        auto const& byte = m_output[(m_output_head + i) % m_output.size()];
        state.output.push_back({ byte.value, byte.aux });
    }
    state.ctr = m_ctr;
    state.output_port = m_output_port;
    state.last_was_command = m_last_was_command;
    state.pending = static_cast<uint8_t>(m_pending);
    return state;
}

Result<void> I8042::restore(I8042State const& state)
{
    static_assert(static_cast<uint8_t>(Pending::WriteAux) == PENDING_LAST);
    if (state.output.size() > OUTPUT_SIZE || state.pending > PENDING_LAST)
        return fail(Errc::InvalidArgument, "i8042 state: a field is out of range");
    std::lock_guard lock { m_mutex };
    m_output_head = 0;
    m_output_count = state.output.size();
    for (size_t i = 0; i < state.output.size(); ++i)
        m_output[i] = Output { state.output[i].value, state.output[i].aux };
    m_ctr = state.ctr;
    m_output_port = state.output_port; // a cleared reset bit is not a new pulse: no reset here
    m_last_was_command = state.last_was_command;
    m_pending = static_cast<Pending>(state.pending);
    return {};
}

} // namespace monarch::vmm
