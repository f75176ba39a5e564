// SPDX-License-Identifier: Apache-2.0
// read_image_file: a whole file back, and errors that say which file and why.
#include "vmm/boot/boot_loader.h"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;

namespace {

// A file under the test binary's directory, removed at the end of the test.
struct TempFile {
    std::string path;
    explicit TempFile(std::string const& contents)
        : path(std::string(MONARCH_BINARY_DIR) + "/boot_image_test." + std::to_string(::getpid()))
    {
        std::ofstream(path, std::ios::binary) << contents;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

} // namespace

TEST_CASE("read_image_file: a missing file is a Sys error naming the image", "[unit][boot]")
{
    auto result = boot::read_image_file("/nonexistent/monarch/vmlinuz", boot::ImageKind::Kernel);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == Errc::Sys);
    CHECK(result.error().sys_errno == ENOENT);
    CHECK(result.error().context == "open kernel");
    CHECK(boot::read_image_file("/nonexistent/initrd", boot::ImageKind::Initrd).error().context == "open initrd");
}

TEST_CASE("read_image_file: an empty file is a bad image", "[unit][boot]")
{
    TempFile file("");
    auto result = boot::read_image_file(file.path, boot::ImageKind::Initrd);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == Errc::BadImage);
    CHECK(result.error().context == "initrd is empty");
}

TEST_CASE("read_image_file: a directory cannot be read", "[unit][boot]")
{
    auto result = boot::read_image_file("/", boot::ImageKind::Kernel);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == Errc::Sys);
    CHECK(result.error().sys_errno == EISDIR);
    CHECK(result.error().context == "read kernel");
}

TEST_CASE("read_image_file: returns the file's bytes", "[unit][boot]")
{
    std::string contents(300000, 'x');
    for (size_t i = 0; i < contents.size(); ++i)
        contents[i] = static_cast<char>(i * 31);
    TempFile file(contents);
    auto result = boot::read_image_file(file.path, boot::ImageKind::Kernel);
    REQUIRE(result);
    REQUIRE(result->size() == contents.size());
    CHECK(std::memcmp(result->data(), contents.data(), contents.size()) == 0);
}
