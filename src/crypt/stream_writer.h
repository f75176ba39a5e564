// SPDX-License-Identifier: Apache-2.0
// StreamWriter: seals guest memory pages and state blobs into a sealed stream
// (docs/vmcrypt.md). Each writer picks a random stream id, so each has keys of its own.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "crypt/byte_stream.h"
#include "crypt/data_key.h"
#include "crypt/stream_format.h"
#include "crypt/stream_keys.h"

#include <string_view>
#include <vector>

namespace monarch::crypt {

class StreamWriter {
public:
    // Writes the stream header to `sink`. `generation` must grow with every snapshot of
    // the VM: the reader reports it, and the restoring side compares it with what it expects.
    [[nodiscard]] static Result<StreamWriter> create(ByteSink sink, SealingKeys const& keys, Generation generation);
    // As create(), with a chosen stream id instead of a random one. Only for tests that must
    // build two streams under one key schedule; reusing an id with one data key and
    // generation reuses nonces.
    [[nodiscard]] static Result<StreamWriter> create_with_stream_id_for_testing(ByteSink sink, SealingKeys const& keys,
        Generation generation, StreamId stream);

    StreamWriter(StreamWriter&&) = default;
    StreamWriter& operator=(StreamWriter&&) = default;

    // Whole 4 KiB pages starting at page-aligned `gpa`, written as records of at most
    // format::max_pages_per_record pages.
    [[nodiscard]] Result<void> append_pages(GuestPhysAddr gpa, std::span<std::byte const> pages);
    // A named blob (vCPU registers, a device's state); see format::valid_state_name.
    [[nodiscard]] Result<void> append_state(std::string_view name, std::span<std::byte const> bytes);
    // Writes the end record, which carries the record count; no appends after it.
    [[nodiscard]] Result<void> finish();

    [[nodiscard]] StreamId const& stream_id() const { return m_header.stream; }
    [[nodiscard]] uint64_t records_written() const { return m_record_index; }

private:
    StreamWriter(ByteSink sink, format::Header header, StreamKeys keys)
        : m_sink(std::move(sink)), m_header(header), m_keys(std::move(keys)) {}

    [[nodiscard]] Result<void> check_writable() const;
    [[nodiscard]] Result<void> write_record(format::RecordHeader record, std::string_view name, uint64_t gpa,
        std::span<std::byte const> payload, size_t unit_size);

    ByteSink m_sink;
    format::Header m_header;
    StreamKeys m_keys;
    std::vector<std::byte> m_buffer; // one record, sealed, before it goes to the sink
    uint64_t m_record_index { 0 };
    uint64_t m_next_unit { 0 };
    uint64_t m_pages { 0 };
    bool m_finished { false };
    bool m_failed { false };
};

} // namespace monarch::crypt
