// SPDX-License-Identifier: Apache-2.0
// The vhost-user vsock back end of the tests (vhost_user_vsock.h): the vhost-user messages QEMU
// 7.2's vhost-user-vsock sends (features, protocol features with CONFIG, owner, memory table,
// rings, config), guest memory through the memfds it passes, and an echo server on the rings.
#include "vhost_user_vsock.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <optional>

namespace monarch::test::virtio {

namespace {

// vhost-user.rst, "Front-end message types".
enum Request : uint32_t {
    GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5, SET_VRING_NUM = 8, SET_VRING_ADDR = 9,
    SET_VRING_BASE = 10, GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13, GET_PROTOCOL_FEATURES = 15,
    GET_QUEUE_NUM = 17, GET_CONFIG = 24,
};
constexpr uint32_t FLAG_VERSION = 0x1, FLAG_REPLY = 0x4;
constexpr uint64_t F_PROTOCOL_FEATURES = 1ull << 30, F_VERSION_1 = 1ull << 32, PROTOCOL_F_CONFIG = 1ull << 9;
constexpr size_t HEADER = 12, MAX_PAYLOAD = 4096, MAX_FDS = 8, VSOCK_HEADER = 44;
constexpr uint16_t OP_REQUEST = 1, OP_RESPONSE = 2, OP_RST = 3, OP_SHUTDOWN = 4, OP_RW = 5, OP_CREDIT_UPDATE = 6,
                   OP_CREDIT_REQUEST = 7;

template<typename T> T load(uint8_t const* p) { T v; std::memcpy(&v, p, sizeof v); return v; }
template<typename T> void store(uint8_t* p, T v) { std::memcpy(p, &v, sizeof v); }

struct Region {
    uint64_t gpa, size, uva, offset;
    uint8_t* map;
    size_t map_length;
};

struct Ring {
    uint32_t num { 0 };
    uint64_t desc { 0 }, used { 0 }, avail { 0 };
    uint16_t last_avail { 0 }, used_idx { 0 };
    int call { -1 };
};

struct Message {
    uint32_t request { 0 }, flags { 0 };
    std::vector<uint8_t> payload;
    std::vector<int> fds;
};

class Session {
public:
    Session(int fd, uint64_t cid, uint32_t port, VsockLog& log, std::mutex& mutex) : m_fd(fd), m_cid(cid), m_port(port), m_log(log), m_mutex(mutex) { }
    ~Session();
    bool handle_message();
    void process_rings();

private:
    std::optional<Message> receive();
    void reply(Message const& request, std::vector<uint8_t> const& payload);
    void set_mem_table(Message const&);
    uint8_t* translate_gpa(uint64_t gpa, uint64_t length);
    uint8_t* translate_uva(uint64_t uva, uint64_t length);
    void packet(std::vector<uint8_t> const& bytes);
    void queue_reply(uint8_t const* request, uint16_t op, std::string const& data);
    void fail(std::string const& what);
    bool ready(Ring const& ring) const { return ring.num && ring.desc && ring.used && ring.avail && !m_regions.empty(); }
    void push_used(Ring& ring, uint16_t head, uint32_t length);

    int m_fd;
    uint64_t m_cid;
    uint32_t m_port;
    VsockLog& m_log;
    std::mutex& m_mutex;
    std::vector<Region> m_regions;
    std::array<Ring, 2> m_rings {}; // 0 rx (to the guest), 1 tx (from the guest)
    std::deque<std::vector<uint8_t>> m_pending;
    uint32_t m_fwd_cnt { 0 };
};

Session::~Session()
{
    for (auto& r : m_regions)
        ::munmap(r.map, r.map_length);
    for (auto& ring : m_rings) {
        if (ring.call >= 0)
            ::close(ring.call);
    }
}

void Session::fail(std::string const& what)
{
    std::lock_guard lock { m_mutex };
    if (m_log.error.empty())
        m_log.error = what;
}

std::optional<Message> Session::receive()
{
    std::array<uint8_t, HEADER> header {};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * MAX_FDS)> control {};
    iovec iov { header.data(), header.size() };
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(m_fd, &msg, MSG_WAITALL) != static_cast<ssize_t>(HEADER))
        return std::nullopt;
    Message m;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++)
            // SAFETY: CMSG_DATA points at count ints the kernel wrote (SCM_RIGHTS).
            m.fds.push_back(load<int>(reinterpret_cast<uint8_t const*>(CMSG_DATA(c)) + i * sizeof(int)));
    }
    m.request = load<uint32_t>(header.data());
    m.flags = load<uint32_t>(header.data() + 4);
    uint32_t size = load<uint32_t>(header.data() + 8);
    if (size > MAX_PAYLOAD)
        return std::nullopt;
    m.payload.resize(size);
    if (size && ::recv(m_fd, m.payload.data(), size, MSG_WAITALL) != static_cast<ssize_t>(size))
        return std::nullopt;
    return m;
}

void Session::reply(Message const& request, std::vector<uint8_t> const& payload)
{
    std::vector<uint8_t> out(HEADER + payload.size());
    store<uint32_t>(out.data(), request.request);
    store<uint32_t>(out.data() + 4, FLAG_VERSION | FLAG_REPLY);
    store<uint32_t>(out.data() + 8, static_cast<uint32_t>(payload.size()));
    std::copy(payload.begin(), payload.end(), out.begin() + HEADER);
    if (::send(m_fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
        fail("reply not sent");
}

std::vector<uint8_t> u64_payload(uint64_t value)
{
    std::vector<uint8_t> p(8);
    store<uint64_t>(p.data(), value);
    return p;
}

void Session::set_mem_table(Message const& m)
{
    uint32_t count = m.payload.size() >= 8 ? load<uint32_t>(m.payload.data()) : 0;
    if (count == 0 || count != m.fds.size() || m.payload.size() < 8 + 32ull * count) {
        fail("bad SET_MEM_TABLE");
        return;
    }
    for (auto& r : m_regions)
        ::munmap(r.map, r.map_length);
    m_regions.clear();
    for (uint32_t i = 0; i < count; i++) {
        uint8_t const* p = m.payload.data() + 8 + 32 * i;
        Region r { load<uint64_t>(p), load<uint64_t>(p + 8), load<uint64_t>(p + 16), load<uint64_t>(p + 24), nullptr, 0 };
        r.map_length = r.size + r.offset;
        // SAFETY: a shared mapping of the memfd QEMU passed for this region; unmapped in the destructor.
        void* map = ::mmap(nullptr, r.map_length, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[i], 0);
        if (map == MAP_FAILED) {
            fail("mmap of guest memory failed");
            continue;
        }
        r.map = static_cast<uint8_t*>(map);
        m_regions.push_back(r);
    }
}

uint8_t* Session::translate_gpa(uint64_t gpa, uint64_t length)
{
    for (auto const& r : m_regions) {
        if (gpa >= r.gpa && gpa - r.gpa <= r.size && length <= r.size - (gpa - r.gpa))
            return r.map + r.offset + (gpa - r.gpa);
    }
    return nullptr;
}

uint8_t* Session::translate_uva(uint64_t uva, uint64_t length)
{
    for (auto const& r : m_regions) {
        if (uva >= r.uva && uva - r.uva <= r.size && length <= r.size - (uva - r.uva))
            return r.map + r.offset + (uva - r.uva);
    }
    return nullptr;
}

bool Session::handle_message()
{
    auto m = receive();
    if (!m)
        return false;
    uint32_t index = m->payload.size() >= 4 ? load<uint32_t>(m->payload.data()) & 0xff : 0;
    Ring* ring = index < m_rings.size() ? &m_rings[index] : nullptr;
    switch (m->request) {
    case GET_FEATURES: reply(*m, u64_payload(F_VERSION_1 | F_PROTOCOL_FEATURES)); break;
    case GET_PROTOCOL_FEATURES: reply(*m, u64_payload(PROTOCOL_F_CONFIG)); break;
    case GET_QUEUE_NUM: reply(*m, u64_payload(2)); break;
    case GET_CONFIG: { // offset, size, flags, then the config bytes: guest_cid (5.10.4)
        std::vector<uint8_t> out = m->payload;
        uint32_t offset = out.size() >= 12 ? load<uint32_t>(out.data()) : 0, size = out.size() >= 12 ? load<uint32_t>(out.data() + 4) : 0;
        std::array<uint8_t, 8> config {};
        store<uint64_t>(config.data(), m_cid);
        for (uint32_t i = 0; i < size && 12 + i < out.size(); i++)
            out[12 + i] = offset + i < config.size() ? config[offset + i] : 0;
        reply(*m, out);
        break;
    }
    case SET_MEM_TABLE: set_mem_table(*m); m->fds.clear(); break;
    case SET_VRING_NUM: if (ring && m->payload.size() >= 8) ring->num = load<uint32_t>(m->payload.data() + 4); break;
    case SET_VRING_BASE:
        if (ring && m->payload.size() >= 8)
            ring->last_avail = ring->used_idx = static_cast<uint16_t>(load<uint32_t>(m->payload.data() + 4));
        break;
    case GET_VRING_BASE: {
        std::vector<uint8_t> out(8);
        store<uint32_t>(out.data(), index);
        store<uint32_t>(out.data() + 4, ring ? ring->last_avail : 0);
        reply(*m, out);
        if (ring)
            ring->desc = 0; // stopped
        break;
    }
    case SET_VRING_ADDR: // index, flags, desc, used, avail, log (struct vhost_vring_addr)
        if (ring && m->payload.size() >= 40) {
            ring->desc = load<uint64_t>(m->payload.data() + 8);
            ring->used = load<uint64_t>(m->payload.data() + 16);
            ring->avail = load<uint64_t>(m->payload.data() + 24);
        }
        break;
    case SET_VRING_CALL:
        if (ring && !m->fds.empty()) {
            if (ring->call >= 0)
                ::close(ring->call);
            ring->call = m->fds[0];
            m->fds.erase(m->fds.begin());
        }
        break;
    default: break; // SET_FEATURES, SET_OWNER, SET_PROTOCOL_FEATURES, SET_VRING_KICK, ...: nothing to answer
    }
    for (int fd : m->fds)
        ::close(fd); // kick fds and others: the rings are polled
    if (ready(m_rings[0]) && ready(m_rings[1])) {
        std::lock_guard lock { m_mutex };
        m_log.handshake_done = true;
    }
    return true;
}

void Session::push_used(Ring& ring, uint16_t head, uint32_t length)
{
    uint8_t* used = translate_uva(ring.used, 4 + 8ull * ring.num);
    if (!used)
        return;
    store<uint32_t>(used + 4 + 8 * (ring.used_idx % ring.num), head);
    store<uint32_t>(used + 8 + 8 * (ring.used_idx % ring.num), length);
    ring.used_idx++;
    std::atomic_thread_fence(std::memory_order_release); // the element before the index
    store<uint16_t>(used + 2, ring.used_idx);
    if (ring.call >= 0) {
        uint64_t one = 1;
        (void)!::write(ring.call, &one, sizeof one);
    }
}

// A reply to the packet at `request` (its header), from the host side of the connection.
void Session::queue_reply(uint8_t const* request, uint16_t op, std::string const& data)
{
    std::vector<uint8_t> p(VSOCK_HEADER + data.size());
    store<uint64_t>(p.data(), 2);                                    // src_cid
    store<uint64_t>(p.data() + 8, load<uint64_t>(request));          // dst_cid: the guest
    store<uint32_t>(p.data() + 16, load<uint32_t>(request + 20));    // src_port: the port it called
    store<uint32_t>(p.data() + 20, load<uint32_t>(request + 16));    // dst_port: its own port
    store<uint32_t>(p.data() + 24, static_cast<uint32_t>(data.size()));
    store<uint16_t>(p.data() + 28, 1);                               // type: stream
    store<uint16_t>(p.data() + 30, op);
    store<uint32_t>(p.data() + 36, 65536);                           // buf_alloc
    store<uint32_t>(p.data() + 40, m_fwd_cnt);
    std::memcpy(p.data() + VSOCK_HEADER, data.data(), data.size());
    m_pending.push_back(std::move(p));
}

void Session::packet(std::vector<uint8_t> const& bytes)
{
    if (bytes.size() < VSOCK_HEADER) {
        fail("short packet on the tx queue");
        return;
    }
    uint8_t const* h = bytes.data();
    uint32_t length = load<uint32_t>(h + 24);
    uint16_t op = load<uint16_t>(h + 30);
    // SAFETY: reading bytes as chars; the length is bounded by the vector's size.
    std::string data(reinterpret_cast<char const*>(h) + VSOCK_HEADER, std::min<size_t>(length, bytes.size() - VSOCK_HEADER));
    std::lock_guard lock { m_mutex };
    if (load<uint64_t>(h + 8) != 2 || load<uint32_t>(h + 20) != m_port || load<uint16_t>(h + 28) != 1) {
        queue_reply(h, OP_RST, "");
        return;
    }
    m_log.guest_cid = load<uint64_t>(h);
    switch (op) {
    case OP_REQUEST: m_log.connected = true; m_log.port = m_port; queue_reply(h, OP_RESPONSE, ""); break;
    case OP_RW:
        m_log.received += data;
        m_fwd_cnt += static_cast<uint32_t>(data.size());
        queue_reply(h, OP_RW, data);
        break;
    case OP_SHUTDOWN: m_log.shutdown = true; queue_reply(h, OP_RST, ""); break;
    case OP_CREDIT_REQUEST: queue_reply(h, OP_CREDIT_UPDATE, ""); break;
    default: break;
    }
}

void Session::process_rings()
{
    for (size_t q : { size_t { 1 }, size_t { 0 } }) {
        Ring& ring = m_rings[q];
        if (!ready(ring))
            continue;
        uint8_t* avail = translate_uva(ring.avail, 4 + 2ull * ring.num);
        uint8_t* desc = translate_uva(ring.desc, 16ull * ring.num);
        if (!avail || !desc) {
            fail("ring addresses outside guest memory");
            continue;
        }
        while (load<uint16_t>(avail + 2) != ring.last_avail && (q == 1 || !m_pending.empty())) {
            std::atomic_thread_fence(std::memory_order_acquire);
            uint16_t head = load<uint16_t>(avail + 4 + 2 * (ring.last_avail % ring.num));
            ring.last_avail++;
            std::vector<uint8_t> bytes;
            std::vector<uint8_t> const* out = q == 0 ? &m_pending.front() : nullptr;
            uint32_t written = 0;
            for (uint16_t i = head, n = 0; i < ring.num && n < ring.num; n++) {
                uint8_t* d = desc + 16 * i;
                uint64_t addr = load<uint64_t>(d);
                uint32_t length = load<uint32_t>(d + 8);
                uint16_t flags = load<uint16_t>(d + 12);
                uint8_t* buffer = translate_gpa(addr, length);
                if (!buffer) {
                    fail("descriptor outside guest memory");
                    break;
                }
                if (q == 1 && !(flags & 2))
                    bytes.insert(bytes.end(), buffer, buffer + length);
                if (q == 0 && (flags & 2) && written < out->size()) {
                    uint32_t n_copy = std::min<uint32_t>(length, static_cast<uint32_t>(out->size() - written));
                    std::memcpy(buffer, out->data() + written, n_copy);
                    written += n_copy;
                }
                if (!(flags & 1))
                    break;
                i = load<uint16_t>(d + 14);
            }
            if (q == 0) {
                if (written < m_pending.front().size())
                    fail("rx buffer too small for a reply");
                m_pending.pop_front();
            }
            push_used(ring, head, written);
            if (q == 1)
                packet(bytes);
        }
    }
}

} // namespace

VhostUserVsock::VhostUserVsock(std::string socket_path, uint64_t guest_cid, uint32_t port)
    : m_path(std::move(socket_path))
    , m_guest_cid(guest_cid)
    , m_port(port)
{
    m_listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, m_path.c_str(), sizeof(address.sun_path) - 1);
    // SAFETY: sockaddr_un is the sockaddr for AF_UNIX; the length says which.
    if (m_listen_fd < 0 || ::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0
        || ::listen(m_listen_fd, 1) != 0)
        m_log.error = "cannot listen on " + m_path;
    m_thread = std::thread([this] { serve(); });
}

VhostUserVsock::~VhostUserVsock()
{
    stop();
    if (m_listen_fd >= 0)
        ::close(m_listen_fd);
}

void VhostUserVsock::stop()
{
    {
        std::lock_guard lock { m_mutex };
        m_stop = true;
    }
    if (m_thread.joinable())
        m_thread.join();
}

VsockLog VhostUserVsock::log() const
{
    std::lock_guard lock { m_mutex };
    return m_log;
}

void VhostUserVsock::serve()
{
    auto stopping = [this] { std::lock_guard lock { m_mutex }; return m_stop; };
    int connection = -1;
    while (connection < 0 && m_listen_fd >= 0 && !stopping()) {
        pollfd p { m_listen_fd, POLLIN, 0 };
        if (::poll(&p, 1, 50) > 0)
            connection = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (connection < 0)
        return;
    {
        Session session { connection, m_guest_cid, m_port, m_log, m_mutex };
        while (!stopping()) {
            pollfd p { connection, POLLIN, 0 };
            int ready = ::poll(&p, 1, 1);
            if (ready > 0 && !session.handle_message())
                break; // QEMU closed the connection
            session.process_rings();
        }
    }
    ::close(connection);
}

} // namespace monarch::test::virtio
