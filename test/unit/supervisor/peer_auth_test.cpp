// SPDX-License-Identifier: Apache-2.0
// PeerAuthorizer: root, the daemon's user, and members of the group (primary or supplementary).
#include "supervisor/peer_auth.h"

#include <catch2/catch.hpp>
#include <grp.h>
#include <pwd.h>

using namespace monarch::supervisor;

TEST_CASE("root and the daemon's own user are admitted", "[unit][supervisor]")
{
    PeerAuthorizer const authorizer("monarch-no-such-group", 4242);
    CHECK(authorizer.authorize(0).allowed);
    CHECK(authorizer.authorize(4242).allowed);
    CHECK_FALSE(authorizer.authorize(static_cast<uid_t>(-1)).allowed);
}

TEST_CASE("a user outside the group is refused and a member admitted", "[unit][supervisor]")
{
    passwd const* nobody = ::getpwnam("nobody");
    if (!nobody)
        FAIL("no user 'nobody' on this host");
    group const* primary = ::getgrgid(nobody->pw_gid);
    REQUIRE(primary);
    std::string const primary_name = primary->gr_name;

    auto const refused = PeerAuthorizer("monarch-no-such-group", 0).authorize(nobody->pw_uid);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.reason.find("monarch-no-such-group") != std::string::npos);
    // root's group: nobody is not in it.
    CHECK_FALSE(PeerAuthorizer("root", 0).authorize(nobody->pw_uid).allowed);
    // nobody's primary group counts as membership.
    CHECK(PeerAuthorizer(primary_name, 0).authorize(nobody->pw_uid).allowed);
    // A uid without a passwd entry belongs to no group.
    CHECK_FALSE(PeerAuthorizer(primary_name, 0).authorize(54321).allowed);
}
