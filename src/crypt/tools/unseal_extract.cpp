// SPDX-License-Identifier: Apache-2.0
// monarch-unseal extract: memory pages at their GPAs in a sparse raw image, state blobs as
// files. If the stream fails verification anywhere, everything written is removed again.
#include "crypt/tools/unseal_commands.h"

#include "common/unique_fd.h"
#include "crypt/sodium.h"
#include "crypt/stream_reader.h"
#include "crypt/tools/unseal_common.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace monarch::crypt::unseal {
namespace {

class Extraction {
public:
    explicit Extraction(ExtractOptions const& options) : m_options(options) {}
    ~Extraction()
    {
        if (m_committed)
            return;
        // An unverified stream leaves nothing behind.
        for (auto const& path : m_created)
            ::unlink(path.c_str());
    }

    Result<void> begin()
    {
        if (m_options.memory) {
            m_memory = UniqueFd { ::open(m_options.memory->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) };
            if (!m_memory)
                return fail_errno("memory image: open");
            m_created.push_back(*m_options.memory);
        }
        if (m_options.state_dir && ::mkdir(m_options.state_dir->c_str(), 0700) != 0 && errno != EEXIST)
            return fail_errno("state directory: mkdir");
        return {};
    }

    Result<void> add(Record const& record)
    {
        if (record.type == RecordType::MemoryPages)
            return add_pages(record);
        if (record.type == RecordType::State)
            return add_state(record);
        if (m_memory && ::ftruncate(m_memory.get(), static_cast<off_t>(m_memory_end)) != 0)
            return fail_errno("memory image: ftruncate");
        m_committed = true;
        return {};
    }

private:
    Result<void> add_pages(Record const& record)
    {
        if (!m_memory)
            return {};
        uint64_t end = record.gpa.raw() + record.data.size();
        if (end > uint64_t { INT64_MAX })
            return fail(Errc::OutOfRange, "memory image: GPA beyond the largest file offset");
        for (size_t offset = 0; offset < record.data.size(); offset += format::page_size) {
            auto page = record.data.subspan(offset, format::page_size);
            // All-zero pages stay holes: the image is sparse, like guest memory mostly is.
            if (std::all_of(page.begin(), page.end(), [](std::byte b) { return b == std::byte(0); }))
                continue;
            TRY_VOID(write_at(m_memory.get(), page, record.gpa.raw() + offset));
        }
        m_memory_end = std::max(m_memory_end, end);
        return {};
    }

    Result<void> add_state(Record const& record)
    {
        if (!m_options.state_dir)
            return {};
        // The name was checked by the reader (format::valid_state_name): no '/', no leading '.'.
        std::string path = *m_options.state_dir + "/" + std::string(record.name);
        UniqueFd fd { ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) };
        if (!fd)
            return fail_errno("state file: open");
        m_created.push_back(path);
        return write_at(fd.get(), record.data, 0);
    }

    static Result<void> write_at(int fd, std::span<std::byte const> bytes, uint64_t offset)
    {
        while (!bytes.empty()) {
            ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return fail_errno("extract: write");
            bytes = bytes.subspan(static_cast<size_t>(n));
            offset += static_cast<uint64_t>(n);
        }
        return {};
    }

    ExtractOptions const& m_options;
    UniqueFd m_memory;
    uint64_t m_memory_end { 0 };
    std::vector<std::string> m_created;
    bool m_committed { false };
};

} // namespace

int extract(KeySource const& key, ExtractOptions const& options)
{
    auto opened = open_stream(key, options.stream);
    if (auto* status = std::get_if<int>(&opened))
        return *status;
    auto& reader = std::get<OpenStream>(opened).reader;
    Extraction extraction { options };
    if (auto begun = extraction.begin(); !begun)
        return report(options.stream, begun.error());
    for (;;) {
        auto record = reader.next();
        if (!record)
            return report_read_failure(options.stream, record.error(), reader.failure());
        if (auto added = extraction.add(*record); !added)
            return report(options.stream, added.error());
        if (record->type == RecordType::End)
            break;
    }
    std::printf("extracted %s: every record authenticated, stream complete\n", options.stream.c_str());
    return Ok;
}

} // namespace monarch::crypt::unseal
