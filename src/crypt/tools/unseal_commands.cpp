// SPDX-License-Identifier: Apache-2.0
// keygen and inspect.
#include "crypt/tools/unseal_commands.h"

#include "crypt/tools/unseal_common.h"

#include "common/unique_fd.h"
#include "crypt/sodium.h"
#include "crypt/stream_reader.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace monarch::crypt::unseal {
namespace {

void print_header(StreamInfo const& info)
{
    std::printf("format version: %u\n", unsigned { info.version });
    std::printf("cipher: %s\n", std::string(to_string(info.cipher)).c_str());
    std::printf("key wrap: %s\n", std::string(to_string(info.wrap)).c_str());
    std::printf("vm uuid: %s\n", info.vm.to_string().c_str());
    std::printf("generation: %" PRIu64 "\n", info.generation.raw());
    std::printf("stream id: %s\n", info.stream.to_string().c_str());
}

void print_record(Record const& record)
{
    switch (record.type) {
    case RecordType::MemoryPages:
        std::printf("  #%" PRIu64 " memory gpa 0x%" PRIx64 " pages %zu\n", record.index, record.gpa.raw(),
            record.data.size() / format::page_size);
        break;
    case RecordType::State:
        std::printf("  #%" PRIu64 " state %.*s bytes %zu\n", record.index, static_cast<int>(record.name.size()),
            record.name.data(), record.data.size());
        break;
    case RecordType::End:
        std::printf("  #%" PRIu64 " end records %" PRIu64 " pages %" PRIu64 "\n", record.index, record.total_records,
            record.total_pages);
        break;
    }
}

} // namespace

int keygen(std::string const& path)
{
    if (auto made = generate_owner_key_file(path); !made)
        return report(path, made.error());
    std::printf("created owner key %s (mode 600); keep a copy: sealed data cannot be opened without it\n", path.c_str());
    return Ok;
}

int inspect(KeySource const& key, std::string const& path)
{
    auto opened = open_stream(key, path);
    if (auto* status = std::get_if<int>(&opened))
        return *status;
    auto& reader = std::get<OpenStream>(opened).reader;
    std::printf("stream: %s\n", path.c_str());
    print_header(reader.info());
    std::printf("records:\n");
    for (;;) {
        auto record = reader.next();
        if (!record)
            return report_read_failure(path, record.error(), reader.failure());
        print_record(*record);
        if (record->type == RecordType::End)
            break;
    }
    std::printf("verified: every record authenticated, stream complete\n");
    return Ok;
}

} // namespace monarch::crypt::unseal
