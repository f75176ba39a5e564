// SPDX-License-Identifier: Apache-2.0
// io_uring set-up, submission and the blocking wait used by reset and quiesce.
#include "vmm/virtio/block/io_ring.h"

#include <cerrno>
#include <sys/eventfd.h>

namespace monarch::vmm::virtio::blk {

Result<std::unique_ptr<IoRing>> IoRing::create(unsigned entries)
{
    std::unique_ptr<IoRing> ring { new IoRing() };
    int const error = io_uring_queue_init(entries, &ring->m_ring, 0);
    if (error < 0) {
        if (error == -ENOSYS || error == -EPERM)
            return fail(Errc::Unsupported, "virtio-blk: io_uring is not available (kernel or seccomp policy)");
        return Failure(Error::from_errno(-error, "virtio-blk: io_uring_queue_init"));
    }
    ring->m_initialised = true;
    ring->m_event = UniqueFd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    if (!ring->m_event)
        return fail_errno("virtio-blk: eventfd for io_uring completions");
    if (int const result = io_uring_register_eventfd(&ring->m_ring, ring->m_event.get()); result < 0)
        return Failure(Error::from_errno(-result, "virtio-blk: io_uring_register_eventfd"));
    return ring;
}

IoRing::~IoRing()
{
    if (m_initialised)
        io_uring_queue_exit(&m_ring);
}

void IoRing::clear_event() const
{
    uint64_t count = 0;
    // Nothing to do on EAGAIN: the counter is already zero.
    (void)!::read(m_event.get(), &count, sizeof count);
}

io_uring_sqe* IoRing::prepare(uint64_t user_data)
{
    io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
    if (sqe == nullptr) {
        // The submission queue is full: hand what is there to the kernel and try once more.
        if (io_uring_submit(&m_ring) < 0)
            return nullptr;
        sqe = io_uring_get_sqe(&m_ring);
        if (sqe == nullptr)
            return nullptr;
    }
    io_uring_sqe_set_data64(sqe, user_data);
    return sqe;
}

Result<void> IoRing::submit()
{
    while (true) {
        int const result = io_uring_submit(&m_ring);
        if (result >= 0)
            return {};
        if (result != -EINTR && result != -EAGAIN && result != -EBUSY)
            return Failure(Error::from_errno(-result, "virtio-blk: io_uring_submit"));
        // EAGAIN/EBUSY: the completion queue is full; the kernel takes more once we reap.
        if (result != -EINTR)
            return {};
    }
}

Result<void> IoRing::wait()
{
    io_uring_cqe* cqe = nullptr;
    while (true) {
        int const result = io_uring_submit_and_wait(&m_ring, 1);
        if (result >= 0 || result == -EBUSY || result == -EAGAIN)
            break;
        if (result != -EINTR)
            return Failure(Error::from_errno(-result, "virtio-blk: io_uring_submit_and_wait"));
    }
    while (true) {
        int const result = io_uring_wait_cqe(&m_ring, &cqe);
        if (result == 0)
            return {};
        if (result != -EINTR)
            return Failure(Error::from_errno(-result, "virtio-blk: io_uring_wait_cqe"));
    }
}

} // namespace monarch::vmm::virtio::blk
