// SPDX-License-Identifier: Apache-2.0
// Who may use monarchd's API: root, the user monarchd runs as, and members of one group
// (`monarch` by default), decided on the peer's uid from SO_PEERCRED, never on file modes
// alone. Membership counts the primary group and every supplementary group of the peer's
// user (getgrouplist), looked up at each request so that a change in /etc/group applies.
#pragma once

#include <string>
#include <sys/types.h>

namespace monarch::supervisor {

struct AuthDecision {
    bool allowed { false };
    std::string reason; // for the structured log and the 403 message
};

class PeerAuthorizer {
public:
    explicit PeerAuthorizer(std::string group_name, uid_t daemon_uid)
        : m_group_name(std::move(group_name))
        , m_daemon_uid(daemon_uid)
    {
    }

    [[nodiscard]] AuthDecision authorize(uid_t peer_uid) const;
    [[nodiscard]] std::string const& group_name() const { return m_group_name; }

private:
    std::string m_group_name;
    uid_t m_daemon_uid;
};

} // namespace monarch::supervisor
