// SPDX-License-Identifier: Apache-2.0
// StateDir: atomic replacement of files, listing and removal of VM directories.
#include "supervisor/state_dir.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>

using namespace monarch::supervisor;
using monarch::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("a file is replaced atomically and no temporary file is left", "[unit][supervisor]")
{
    TempDir dir;
    std::string const file = dir.path + "/state.json";
    REQUIRE(write_file_atomically(file, "first\n"));
    REQUIRE(read_text_file(file) == std::string("first\n"));
    REQUIRE(write_file_atomically(file, "second, longer\n"));
    CHECK(read_text_file(file) == std::string("second, longer\n"));
    CHECK_FALSE(fs::exists(file + ".tmp"));
    struct stat info {};
    REQUIRE(::stat(file.c_str(), &info) == 0);
    CHECK((info.st_mode & 0007) == 0); // nothing for others
}

TEST_CASE("a failed write leaves the old file in place", "[unit][supervisor]")
{
    TempDir dir;
    std::string const file = dir.path + "/definition.json";
    REQUIRE(write_file_atomically(file, "old"));
    // The temporary file cannot be created where a directory of its name stands.
    fs::create_directory(file + ".tmp");
    CHECK_FALSE(write_file_atomically(file, "new"));
    CHECK(read_text_file(file) == std::string("old"));
}

TEST_CASE("the state directory lists and creates and removes VM directories", "[unit][supervisor]")
{
    TempDir dir;
    auto state = StateDir::open(dir.path + "/nested/state/");
    REQUIRE(state);
    CHECK(state->root() == dir.path + "/nested/state");
    REQUIRE(state->create_vm_dir("alpha"));
    REQUIRE(state->create_vm_dir("beta"));
    CHECK_FALSE(state->create_vm_dir("alpha"));
    fs::create_directory(dir.path + "/nested/state/vms/.not-a-vm");
    REQUIRE(write_file_atomically(state->definition_path("alpha"), "{}"));
    REQUIRE(write_file_atomically(state->log_path("alpha"), "log"));
    auto names = state->list_vms();
    REQUIRE(names);
    std::sort(names->begin(), names->end());
    CHECK(*names == std::vector<std::string> { "alpha", "beta" });
    REQUIRE(state->remove_vm_dir("alpha"));
    CHECK_FALSE(fs::exists(state->vm_dir("alpha")));
    CHECK_FALSE(StateDir::open("relative/path"));
}
