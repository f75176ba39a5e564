// SPDX-License-Identifier: Apache-2.0
// Key loading, stream opening and error reporting for monarch-unseal.
#include "crypt/tools/unseal_common.h"

#include "crypt/sodium.h"

#include <cinttypes>
#include <cstdio>
#include <fcntl.h>

namespace monarch::crypt::unseal {
namespace {

Result<OwnerKey> load_key(KeySource const& source)
{
    // Keys are about to be in memory: no core file, no ptrace by others, from here on.
    TRY_VOID(make_process_undumpable());
    if (source.fd)
        return OwnerKey::from_fd(UniqueFd(*source.fd));
    return OwnerKey::from_file(*source.file);
}

} // namespace

int status_for(Error const& error)
{
    switch (error.code) {
    case Errc::Corrupt: return VerificationFailed;
    case Errc::InvalidArgument: return Usage;
    default: return IoError;
    }
}

int report(std::string const& what, Error const& error)
{
    std::fprintf(stderr, "monarch-unseal: %s: %s\n", what.c_str(), to_string(error).c_str());
    return status_for(error);
}

int report_read_failure(std::string const& stream, Error const& error, ReadFailure const& where)
{
    std::string detail = "offset " + std::to_string(where.offset);
    if (where.record_index)
        detail += ", record " + std::to_string(*where.record_index);
    if (where.gpa) {
        char gpa[32];
        std::snprintf(gpa, sizeof gpa, ", GPA 0x%" PRIx64, where.gpa->raw());
        detail += gpa;
    }
    std::fprintf(stderr, "monarch-unseal: %s: %s (%s)\n", stream.c_str(), to_string(error).c_str(), detail.c_str());
    return status_for(error);
}

std::variant<OpenStream, int> open_stream(KeySource const& key_source, std::string const& path)
{
    auto key = load_key(key_source);
    if (!key)
        return report(key_source.file ? *key_source.file : std::string("key fd"), key.error());
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return report(path, Error::from_errno("open"));
    auto reader = StreamReader::open(fd_source(fd.get()), *key);
    if (!reader)
        return report(path, reader.error());
    return OpenStream { std::move(fd), std::move(*reader) };
}

} // namespace monarch::crypt::unseal
