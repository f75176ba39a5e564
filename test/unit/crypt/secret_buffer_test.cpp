// SPDX-License-Identifier: Apache-2.0
// SecretBuffer, initialize() and make_process_undumpable().
#include "crypt/secret_buffer.h"
#include "crypt_test_support.h"

#include <sys/prctl.h>

using namespace monarch;
using namespace monarch::crypt;

TEST_CASE("secret buffer holds its bytes and wipe() zeroes them", "[unit][crypt]")
{
    sealtest::init();
    auto buffer = SecretBuffer::create(64);
    REQUIRE(buffer.has_value());
    REQUIRE(buffer->size() == 64);
    auto pattern = sealtest::pattern_bytes(64, 1);
    std::copy(pattern.begin(), pattern.end(), buffer->bytes().begin());
    REQUIRE(std::equal(pattern.begin(), pattern.end(), buffer->bytes().begin()));
    buffer->wipe();
    REQUIRE(std::all_of(buffer->bytes().begin(), buffer->bytes().end(), [](std::byte b) { return b == std::byte(0); }));
}

// The destructor calls wipe() and then sodium_free (which wipes again and unmaps the
// pages); reading the memory after that would be undefined behaviour (it faults, as the
// guard pages are meant to), so the test checks wipe() itself and the move semantics.
TEST_CASE("secret buffer moves its memory and leaves the source empty", "[unit][crypt]")
{
    sealtest::init();
    auto first = SecretBuffer::create(32);
    REQUIRE(first.has_value());
    first->bytes()[0] = std::byte(0x5a);
    auto const* address = first->data();
    SecretBuffer second = std::move(*first);
    REQUIRE(first->empty());
    REQUIRE(first->bytes().empty());
    REQUIRE(second.data() == address);
    REQUIRE(second.bytes()[0] == std::byte(0x5a));
    SecretBuffer third;
    third = std::move(second);
    REQUIRE(second.empty());
    REQUIRE(third.size() == 32);
    STATIC_REQUIRE(!std::is_copy_constructible_v<SecretBuffer>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<SecretBuffer>);
}

TEST_CASE("secret buffer refuses a zero size", "[unit][crypt]")
{
    sealtest::init();
    auto buffer = SecretBuffer::create(0);
    REQUIRE_FALSE(buffer.has_value());
    REQUIRE(buffer.error().code == Errc::InvalidArgument);
}

TEST_CASE("initialize() may be called twice", "[unit][crypt]")
{
    REQUIRE(initialize().has_value());
    REQUIRE(initialize().has_value());
}

TEST_CASE("make_process_undumpable() clears the dumpable flag", "[unit][crypt]")
{
    // ctest runs every test case in a process of its own, so this flag stays here.
    REQUIRE(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
    REQUIRE(make_process_undumpable().has_value());
    REQUIRE(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
}
