// SPDX-License-Identifier: Apache-2.0
// monarch-unseal: the VM owner's tool to inspect and extract sealed snapshots and dumps,
// and to create owner keys. Command-line parsing only; the work is in unseal_commands.cpp.
#include "crypt/sodium.h"
#include "crypt/tools/unseal_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

using namespace monarch::crypt;

namespace {

int run(int argc, char** argv)
{
    CLI::App app { "monarch-unseal: open sealed Monarch snapshots and dumps with the VM owner's key" };
    app.require_subcommand(1);
    app.fallthrough(); // --key-file may also follow the subcommand
    unseal::KeySource key;
    std::string key_file;
    int key_fd = -1;
    auto* file_option = app.add_option("--key-file", key_file, "owner key file (mode 600; 32 raw bytes or 64 hex digits)");
    auto* fd_option = app.add_option("--key-fd", key_fd, "read the 32-byte owner key from this inherited descriptor");
    file_option->excludes(fd_option);

    std::string keygen_path;
    auto* keygen = app.add_subcommand("keygen", "create a new owner key file (mode 600; never overwrites)");
    keygen->add_option("KEY", keygen_path, "the key file to create")->required();

    std::string inspect_stream;
    auto* inspect = app.add_subcommand("inspect", "verify a sealed stream and list its header and records");
    inspect->add_option("STREAM", inspect_stream, "the sealed stream")->required();

    unseal::ExtractOptions extract_options;
    auto* extract = app.add_subcommand("extract", "verify a sealed stream and write out its memory and state");
    extract->add_option("STREAM", extract_options.stream, "the sealed stream")->required();
    extract->add_option("--memory", extract_options.memory, "raw memory image to write (pages at their GPAs, sparse)");
    extract->add_option("--state-dir", extract_options.state_dir, "directory for the state blobs (created if missing)");

    try {
        app.parse(argc, argv);
    } catch (CLI::ParseError const& error) {
        return app.exit(error) == 0 ? unseal::Ok : unseal::Usage;
    }
    if (*file_option)
        key.file = key_file;
    if (*fd_option)
        key.fd = key_fd;

    if (auto init = initialize(); !init) {
        std::fprintf(stderr, "monarch-unseal: %s\n", monarch::to_string(init.error()).c_str());
        return unseal::IoError;
    }
    if (*keygen)
        return unseal::keygen(keygen_path);
    if (!key.file && !key.fd) {
        std::fprintf(stderr, "monarch-unseal: give the owner key with --key-file KEY or --key-fd N\n");
        return unseal::Usage;
    }
    if (*inspect)
        return unseal::inspect(key, inspect_stream);
    if (!extract_options.memory && !extract_options.state_dir) {
        std::fprintf(stderr, "monarch-unseal: extract needs --memory OUT.raw, --state-dir DIR, or both\n");
        return unseal::Usage;
    }
    return unseal::extract(key, extract_options);
}

} // namespace

int main(int argc, char** argv)
{
    // CLI11 throws; nothing else here does. Whatever escapes is reported, never unwound past main.
    try {
        return run(argc, argv);
    } catch (std::exception const& error) {
        std::fprintf(stderr, "monarch-unseal: %s\n", error.what());
    } catch (...) {
        std::fprintf(stderr, "monarch-unseal: unexpected error\n");
    }
    return unseal::IoError;
}
