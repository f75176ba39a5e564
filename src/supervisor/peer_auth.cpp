// SPDX-License-Identifier: Apache-2.0
// PeerAuthorizer: the uid/group test behind every management API request.
#include "supervisor/peer_auth.h"

#include <fmt/format.h>
#include <grp.h>
#include <optional>
#include <pwd.h>
#include <vector>

namespace monarch::supervisor {

namespace {

std::optional<gid_t> group_id(std::string const& name)
{
    group entry {};
    group* found = nullptr;
    std::vector<char> buffer(16 * 1024);
    if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
        return std::nullopt;
    return found->gr_gid;
}

// The primary and supplementary groups of the user `uid`; empty when the uid has no passwd entry.
std::vector<gid_t> groups_of(uid_t uid, std::string& user_name)
{
    passwd entry {};
    passwd* found = nullptr;
    std::vector<char> buffer(16 * 1024);
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
        return {};
    user_name = found->pw_name;
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 4; ++attempt) {
        int count = static_cast<int>(groups.size());
        if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) >= 0) {
            groups.resize(static_cast<size_t>(count));
            return groups;
        }
        groups.resize(static_cast<size_t>(count) + 16); // count holds the size needed
    }
    return { found->pw_gid };
}

} // namespace

AuthDecision PeerAuthorizer::authorize(uid_t peer_uid) const
{
    if (peer_uid == static_cast<uid_t>(-1))
        return { false, "the peer's credentials are unknown" };
    if (peer_uid == 0)
        return { true, "root" };
    if (peer_uid == m_daemon_uid)
        return { true, "the daemon's own user" };
    auto const gid = group_id(m_group_name);
    if (!gid)
        return { false, fmt::format("uid {} is not root and group '{}' does not exist", peer_uid, m_group_name) };
    std::string user;
    for (gid_t member_of : groups_of(peer_uid, user)) {
        if (member_of == *gid)
            return { true, fmt::format("user '{}' is in group '{}'", user, m_group_name) };
    }
    return { false, fmt::format("uid {} ({}) is not root and not in group '{}'", peer_uid,
                        user.empty() ? "no passwd entry" : user, m_group_name) };
}

} // namespace monarch::supervisor
