// SPDX-License-Identifier: Apache-2.0
// monarch-profile: makes a Volatility 3 ISF profile from a stock kernel image (bzImage or
// vmlinux) using only what the image holds: BTF for types, kallsyms for symbols.
#include "dkom/profile/profile.h"
#include "dkom/profile/read_file.h"

#include "common/log.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace {

// Exit statuses (docs/monarch-profile.md).
enum ExitStatus : int {
    ExitOk = 0,
    ExitFailure = 1,   // the output could not be written
    ExitUsage = 2,
    ExitCannotRead = 3,
    ExitNotAKernel = 4, // not a kernel image, or no BTF, or no kallsyms
};

bool write_all(int fd, std::string_view text)
{
    while (!text.empty()) {
        ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return false;
        text.remove_prefix(static_cast<size_t>(written));
    }
    return true;
}

int write_output(std::string const& path, std::string const& json)
{
    if (path.empty() || path == "-")
        return write_all(STDOUT_FILENO, json) ? ExitOk : ExitFailure;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "monarch-profile: %s: %s\n", path.c_str(), std::strerror(errno));
        return ExitFailure;
    }
    bool ok = write_all(fd, json);
    ok = ::close(fd) == 0 && ok;
    if (!ok)
        std::fprintf(stderr, "monarch-profile: %s: write failed: %s\n", path.c_str(), std::strerror(errno));
    return ok ? ExitOk : ExitFailure;
}

int run(std::string const& image_path, std::string const& output_path, bool quiet)
{
    auto bytes = monarch::dkom::read_whole_file(image_path);
    if (!bytes) {
        std::fprintf(stderr, "monarch-profile: %s: %s\n", image_path.c_str(), monarch::to_string(bytes.error()).c_str());
        return ExitCannotRead;
    }
    auto profile = monarch::dkom::Profile::from_kernel_image(*bytes);
    if (!profile) {
        std::fprintf(stderr, "monarch-profile: %s: %s\n", image_path.c_str(), monarch::to_string(profile.error()).c_str());
        return profile.error().code == monarch::Errc::Sys ? ExitCannotRead : ExitNotAKernel;
    }
    int status = write_output(output_path, profile->to_isf_json());
    if (!quiet && status == ExitOk) {
        auto banner = profile->kernel_banner();
        std::fprintf(stderr, "monarch-profile: %zu types, %zu symbols, banner %s\n", profile->type_count(),
            profile->symbol_count(), banner ? banner->c_str() : "(unknown)");
    }
    return status;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app { "Make a Volatility 3 ISF profile (JSON) from a Linux kernel image: types from its BTF, "
                   "symbols from its kallsyms tables.",
        "monarch-profile" };
    std::string image_path;
    std::string output_path;
    bool quiet = false;
    app.add_option("IMAGE", image_path, "bzImage (gzip, xz, LZ4 or zstd payload) or vmlinux ELF")->required();
    app.add_option("-o,--output", output_path, "write the profile here instead of standard output");
    app.add_flag("-q,--quiet", quiet, "no summary on standard error");
    try {
        app.parse(argc, argv);
    } catch (CLI::ParseError const& error) {
        int code = app.exit(error);
        return code == 0 ? ExitOk : ExitUsage;
    }
    try {
        return run(image_path, output_path, quiet);
    } catch (std::exception const& error) {
        std::fprintf(stderr, "monarch-profile: %s\n", error.what());
        return ExitFailure;
    }
}
