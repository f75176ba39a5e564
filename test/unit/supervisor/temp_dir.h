// SPDX-License-Identifier: Apache-2.0
// TempDir: a fresh directory under /tmp for one test, removed with everything in it after.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace monarch::test {

struct TempDir {
    TempDir()
    {
        char pattern[] = "/tmp/monarch-supervisor-XXXXXX"; // short: socket paths must fit sun_path
        char const* made = ::mkdtemp(pattern);
        path = made ? made : "";
    }
    ~TempDir()
    {
        if (!path.empty())
            std::filesystem::remove_all(path);
    }
    TempDir(TempDir const&) = delete;
    TempDir& operator=(TempDir const&) = delete;
    std::string path;
};

} // namespace monarch::test
