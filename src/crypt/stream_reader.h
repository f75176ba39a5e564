// SPDX-License-Identifier: Apache-2.0
// StreamReader: opens a sealed stream with the owner's key and hands out its records, each
// only after every one of its units has been authenticated.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "crypt/byte_stream.h"
#include "crypt/owner_key.h"
#include "crypt/stream_format.h"
#include "crypt/stream_keys.h"

#include <optional>
#include <string>
#include <vector>

namespace monarch::crypt {

using format::RecordType;

// What the stream header says, once authenticated.
struct StreamInfo {
    uint16_t version { 0 };
    Cipher cipher { Cipher::XChaCha20Poly1305 };
    KeyWrap wrap { KeyWrap::XChaCha20Poly1305 };
    VmUuid vm;
    Generation generation;
    StreamId stream;
};

// One authenticated record. `data` and `name` stay valid until the next call to next().
struct Record {
    RecordType type { RecordType::End };
    uint64_t index { 0 };
    GuestPhysAddr gpa;                 // MemoryPages: the first page's address
    std::string_view name;             // State
    std::span<std::byte const> data;   // MemoryPages: whole 4 KiB pages; State: the blob
    uint64_t total_records { 0 };      // End: records in the stream, End included
    uint64_t total_pages { 0 };        // End: memory pages in the stream
};

// Where reading failed, beside the Error (whose context is a static literal).
struct ReadFailure {
    uint64_t offset { 0 };                 // byte offset of the failing record in the stream
    std::optional<uint64_t> record_index;  // the record being read
    std::optional<GuestPhysAddr> gpa;      // the page that failed authentication
};

class StreamReader {
public:
    // Reads and checks the header, unwraps the data key with `owner` and verifies the
    // header MAC. Every failure is Errc::Corrupt, except I/O (Errc::Sys) and a cipher this
    // host cannot run (Errc::Unsupported).
    [[nodiscard]] static Result<StreamReader> open(ByteSource source, OwnerKey const& owner);

    StreamReader(StreamReader&&) = default;
    StreamReader& operator=(StreamReader&&) = default;
    ~StreamReader();

    [[nodiscard]] StreamInfo const& info() const { return m_info; }

    // The next record. The stream is complete and intact only once a record of type End has
    // been returned: that check covers truncation, so act on earlier records provisionally
    // (a restore must not start the guest before it). After a failure every call fails again.
    [[nodiscard]] Result<Record> next();
    [[nodiscard]] ReadFailure const& failure() const { return m_failure; }

private:
    StreamReader(ByteSource source, format::Header header, StreamKeys keys, StreamInfo info)
        : m_source(std::move(source)), m_header(header), m_keys(std::move(keys)), m_info(info) {}

    [[nodiscard]] Result<Record> read_record();
    [[nodiscard]] Result<format::RecordHeader> read_record_header();
    [[nodiscard]] Result<void> open_units(format::RecordHeader const&, std::span<std::byte const, format::record_header_size>);
    [[nodiscard]] Result<Record> finish_end_record(format::RecordHeader const&);
    void clear_plaintext();

    ByteSource m_source;
    format::Header m_header;
    StreamKeys m_keys;
    StreamInfo m_info;
    std::vector<std::byte> m_sealed;
    std::vector<std::byte> m_plain;  // authenticated plaintext of the current record
    std::string m_name;
    uint64_t m_offset { format::header_size };
    uint64_t m_record_index { 0 };
    uint64_t m_next_unit { 0 };
    uint64_t m_pages { 0 };
    bool m_ended { false };
    std::optional<Error> m_error;
    ReadFailure m_failure;
};

} // namespace monarch::crypt
