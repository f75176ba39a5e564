// SPDX-License-Identifier: Apache-2.0
// IoRing: one io_uring (liburing) with an eventfd that signals completions, so the event loop
// can wait for disk I/O like for any other fd. Owned by one virtio-blk device.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <cstdint>
#include <liburing.h>
#include <memory>

namespace monarch::vmm::virtio::blk {

class IoRing {
public:
    // A ring of `entries` submission slots (a power of two) and its registered eventfd.
    // Unsupported when the kernel (or a seccomp policy) refuses io_uring.
    [[nodiscard]] static Result<std::unique_ptr<IoRing>> create(unsigned entries);
    ~IoRing();
    IoRing(IoRing const&) = delete;
    IoRing& operator=(IoRing const&) = delete;

    // Non-blocking eventfd, readable once completions are posted.
    [[nodiscard]] int event_fd() const { return m_event.get(); }
    // Resets the eventfd counter (a read that takes whatever is there).
    void clear_event() const;

    // A free submission slot with user_data set; submits pending entries to make room when the
    // queue is full. Null only if the kernel takes none (then the caller fails the request).
    [[nodiscard]] io_uring_sqe* prepare(uint64_t user_data);
    // Hands prepared entries to the kernel.
    [[nodiscard]] Result<void> submit();

    // Calls on_complete(user_data, result) for each posted completion; never blocks.
    template<typename OnComplete>
    void reap(OnComplete&& on_complete)
    {
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&m_ring, &cqe) == 0 && cqe != nullptr) {
            uint64_t const user_data = io_uring_cqe_get_data64(cqe);
            int const result = cqe->res;
            io_uring_cqe_seen(&m_ring, cqe);
            on_complete(user_data, result);
        }
    }
    // Blocks until at least one completion is posted (after submitting what is prepared).
    [[nodiscard]] Result<void> wait();

private:
    IoRing() = default;

    io_uring m_ring {};
    bool m_initialised { false };
    UniqueFd m_event;
};

} // namespace monarch::vmm::virtio::blk
