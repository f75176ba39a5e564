// SPDX-License-Identifier: Apache-2.0
// Sealing records: every unit is sealed with its stream position as nonce and with the
// stream header, the record header and its GPA as additional data.
#include "crypt/stream_writer.h"

#include "common/scope_guard.h"

#include <algorithm>
#include <cstring>
#include <sodium.h>

namespace monarch::crypt {

Result<StreamWriter> StreamWriter::create(ByteSink sink, SealingKeys const& keys, Generation generation)
{
    StreamId stream;
    randombytes_buf(stream.bytes.data(), stream.bytes.size());
    return create_with_stream_id_for_testing(std::move(sink), keys, generation, stream);
}

Result<StreamWriter> StreamWriter::create_with_stream_id_for_testing(ByteSink sink, SealingKeys const& keys,
    Generation generation, StreamId stream)
{
    format::Header header;
    header.cipher = keys.cipher;
    header.wrap = KeyWrap::XChaCha20Poly1305;
    header.vm = keys.vm;
    header.generation = generation;
    header.stream = stream;
    header.wrapped = keys.wrapped;
    auto stream_keys = TRY(derive_stream_keys(keys.data, keys.cipher, generation, stream));
    auto bytes = format::encode_header(header);
    header.mac = format::header_mac(bytes, stream_keys.header_mac);
    bytes = format::encode_header(header);
    TRY_VOID(sink(bytes));
    return StreamWriter(std::move(sink), header, std::move(stream_keys));
}

Result<void> StreamWriter::check_writable() const
{
    if (m_failed)
        return fail(Errc::Busy, "sealed stream: writer failed earlier");
    if (m_finished)
        return fail(Errc::Busy, "sealed stream: already finished");
    return {};
}

Result<void> StreamWriter::append_pages(GuestPhysAddr gpa, std::span<std::byte const> pages)
{
    TRY_VOID(check_writable());
    if (pages.empty() || pages.size() % format::page_size != 0 || gpa.raw() % format::page_size != 0)
        return fail(Errc::InvalidArgument, "sealed stream: pages must be whole, page-aligned 4 KiB pages");
    if (!checked_add(gpa, pages.size() - 1))
        return fail(Errc::OutOfRange, "sealed stream: pages run past the end of the address space");
    size_t max_bytes = size_t { format::max_pages_per_record } * format::page_size;
    while (!pages.empty()) {
        auto chunk = pages.first(std::min(pages.size(), max_bytes));
        format::RecordHeader record;
        record.type = format::RecordType::MemoryPages;
        record.unit_count = static_cast<uint32_t>(chunk.size() / format::page_size);
        record.argument = gpa.raw();
        TRY_VOID(write_record(record, {}, gpa.raw(), chunk, format::page_size));
        m_pages += record.unit_count;
        gpa = GuestPhysAddr(gpa.raw() + chunk.size());
        pages = pages.subspan(chunk.size());
    }
    return {};
}

Result<void> StreamWriter::append_state(std::string_view name, std::span<std::byte const> bytes)
{
    TRY_VOID(check_writable());
    if (!format::valid_state_name(name))
        return fail(Errc::InvalidArgument, "sealed stream: state name must be 1-255 of [A-Za-z0-9._-], not starting with '.'");
    if (bytes.size() > format::max_state_size)
        return fail(Errc::OutOfRange, "sealed stream: state blob larger than 64 MiB");
    format::RecordHeader record;
    record.type = format::RecordType::State;
    record.name_length = static_cast<uint8_t>(name.size());
    record.unit_count = format::state_unit_count(bytes.size());
    record.argument = bytes.size();
    return write_record(record, name, 0, bytes, format::state_chunk_size);
}

Result<void> StreamWriter::finish()
{
    TRY_VOID(check_writable());
    // The end record seals the totals, so that a stream cut short is detected even at a
    // record boundary (the reader insists on it and on nothing after it).
    std::array<std::byte, format::end_payload_size> totals {};
    format::store_le64(totals, m_record_index + 1);
    format::store_le64(std::span(totals).subspan(8), m_next_unit + 1);
    format::store_le64(std::span(totals).subspan(16), m_pages);
    format::RecordHeader record;
    record.type = format::RecordType::End;
    record.unit_count = 1;
    TRY_VOID(write_record(record, {}, 0, totals, format::end_payload_size));
    m_finished = true;
    return {};
}

Result<void> StreamWriter::write_record(format::RecordHeader record, std::string_view name, uint64_t gpa,
    std::span<std::byte const> payload, size_t unit_size)
{
    record.record_index = m_record_index;
    record.first_unit = m_next_unit;
    // The unit index is the nonce: it must never wrap under this stream's key.
    if (!checked_add(m_next_unit, record.unit_count))
        return fail(Errc::OutOfRange, "sealed stream: unit counter exhausted");
    auto record_bytes = format::encode_record_header(record);
    m_buffer.resize(format::record_header_size + name.size() + format::sealed_payload_size(record));
    std::memcpy(m_buffer.data(), record_bytes.data(), record_bytes.size());
    std::memcpy(m_buffer.data() + format::record_header_size, name.data(), name.size());
    format::UnitAd ad { m_header, record_bytes, name };
    size_t out = format::record_header_size + name.size();
    for (uint32_t unit = 0; unit < record.unit_count; ++unit) {
        auto plain = payload.subspan(std::min(payload.size(), size_t { unit } * unit_size));
        plain = plain.first(std::min(plain.size(), unit_size));
        uint64_t unit_gpa = record.type == format::RecordType::MemoryPages ? gpa + uint64_t { unit } * unit_size : 0;
        auto sealed = std::span(m_buffer).subspan(out, plain.size() + tag_size);
        m_keys.units.seal(record.first_unit + unit, ad.for_unit(record.first_unit + unit, unit_gpa), plain, sealed);
        out += sealed.size();
    }
    ScopeGuard poison { [this] { m_failed = true; } };
    TRY_VOID(m_sink(m_buffer));
    poison.dismiss();
    m_record_index += 1;
    m_next_unit += record.unit_count;
    return {};
}

} // namespace monarch::crypt
