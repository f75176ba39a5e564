// SPDX-License-Identifier: Apache-2.0
#include "common/read_file.h"
#include "common/unique_fd.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <string_view>
#include <unistd.h>

using namespace monarch;

namespace {

// A pipe holding `content`, its write end closed: a file with no size to hint at.
UniqueFd pipe_with(std::string_view content)
{
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fds[1]);
    return UniqueFd { fds[0] };
}

} // namespace

TEST_CASE("read_to_end reads past a wrong size hint to the real end", "[unit][read_file]")
{
    std::string content(10000, 'x');
    content.back() = 'y';
    auto fd = pipe_with(content);
    auto bytes = read_to_end(fd.get(), 3, 1 << 20);
    REQUIRE(bytes);
    REQUIRE(bytes->size() == content.size());
    REQUIRE(static_cast<char>(bytes->back()) == 'y');
}

TEST_CASE("read_to_end refuses more than the limit", "[unit][read_file]")
{
    auto fd = pipe_with("0123456789");
    auto bytes = read_to_end(fd.get(), 0, 9);
    REQUIRE_FALSE(bytes);
    REQUIRE(bytes.error().code == Errc::OutOfRange);

    auto exact = pipe_with("0123456789");
    REQUIRE(read_to_end(exact.get(), 10, 10)->size() == 10);
}

TEST_CASE("read_to_end reports a read error with errno", "[unit][read_file]")
{
    UniqueFd directory { ::open("/", O_RDONLY | O_DIRECTORY) };
    auto bytes = read_to_end(directory.get(), 0, 100);
    REQUIRE_FALSE(bytes);
    REQUIRE(bytes.error().code == Errc::Sys);
    REQUIRE(bytes.error().sys_errno == EISDIR);
}
