// SPDX-License-Identifier: Apache-2.0
// Reading a sealed stream: header checks, key unwrap, then record by record with every
// unit authenticated before any of its plaintext is returned.
#include "crypt/stream_reader.h"

#include <cstring>
#include <sodium.h>

namespace monarch::crypt {

Result<StreamReader> StreamReader::open(ByteSource source, OwnerKey const& owner)
{
    std::array<std::byte, format::header_size> bytes {};
    if (TRY(read_fully(source, bytes)) != bytes.size())
        return fail(Errc::Corrupt, "sealed stream: truncated (incomplete header)");
    auto header = TRY(format::decode_header(bytes));
    if (!cipher_available(header.cipher))
        return fail(Errc::Unsupported, "sealed stream: its cipher (AES-256-GCM) needs AES-NI, absent on this host");
    // The wrap binds the UUID and the cipher id, so a header whose UUID or cipher was
    // changed fails here like a wrong owner key would.
    auto data = TRY(unwrap_data_key(owner, header.wrapped, header.vm, header.cipher));
    auto keys = TRY(derive_stream_keys(data, header.cipher, header.generation, header.stream));
    auto mac = format::header_mac(bytes, keys.header_mac);
    if (sodium_memcmp(mac.data(), header.mac.data(), mac.size()) != 0)
        return fail(Errc::Corrupt, "sealed stream: header authentication failed");
    StreamInfo info { format::version, header.cipher, header.wrap, header.vm, header.generation, header.stream };
    return StreamReader(std::move(source), header, std::move(keys), info);
}

StreamReader::~StreamReader() { clear_plaintext(); }

void StreamReader::clear_plaintext()
{
    if (!m_plain.empty())
        sodium_memzero(m_plain.data(), m_plain.size());
}

Result<Record> StreamReader::next()
{
    if (m_error)
        return Failure(*m_error);
    if (m_ended)
        return fail(Errc::InvalidArgument, "sealed stream: read past the end record");
    clear_plaintext();
    m_failure = ReadFailure { m_offset, m_record_index, std::nullopt };
    auto record = read_record();
    if (!record) {
        clear_plaintext();
        m_plain.clear();
        m_error = record.error();
    }
    return record;
}

Result<format::RecordHeader> StreamReader::read_record_header()
{
    std::array<std::byte, format::record_header_size> bytes {};
    size_t got = TRY(read_fully(m_source, bytes));
    if (got == 0)
        return fail(Errc::Corrupt, "sealed stream: truncated (end record missing)");
    if (got != bytes.size())
        return fail(Errc::Corrupt, "sealed stream: truncated (inside a record header)");
    auto record = TRY(format::decode_record_header(bytes));
    // Records carry their position: a record moved, dropped or taken from elsewhere shows
    // here, and if these fields were rewritten, the units' additional data no longer match.
    if (record.record_index != m_record_index || record.first_unit != m_next_unit)
        return fail(Errc::Corrupt, "sealed stream: record out of order");
    if (record.type == RecordType::MemoryPages)
        m_failure.gpa = GuestPhysAddr(record.argument);
    return record;
}

Result<Record> StreamReader::read_record()
{
    auto record = TRY(read_record_header());
    m_name.assign(record.name_length, '\0');
    if (record.name_length > 0) {
        // SAFETY: std::byte view of the string's own characters.
        std::span<std::byte> name { reinterpret_cast<std::byte*>(m_name.data()), m_name.size() };
        if (TRY(read_fully(m_source, name)) != name.size())
            return fail(Errc::Corrupt, "sealed stream: truncated (inside a state name)");
        if (!format::valid_state_name(m_name))
            return fail(Errc::Corrupt, "sealed stream: bad state name");
    }
    m_sealed.resize(format::sealed_payload_size(record));
    if (TRY(read_fully(m_source, m_sealed)) != m_sealed.size())
        return fail(Errc::Corrupt, "sealed stream: truncated (inside a record)");
    TRY_VOID(open_units(record, format::encode_record_header(record)));
    m_offset += format::record_header_size + record.name_length + m_sealed.size();
    m_record_index += 1;
    m_next_unit += record.unit_count;
    if (record.type == RecordType::End)
        return finish_end_record(record);
    Record out;
    out.type = record.type;
    out.index = record.record_index;
    out.data = m_plain;
    if (record.type == RecordType::MemoryPages) {
        out.gpa = GuestPhysAddr(record.argument);
        m_pages += record.unit_count;
    } else {
        out.name = m_name;
    }
    return out;
}

Result<void> StreamReader::open_units(format::RecordHeader const& record,
    std::span<std::byte const, format::record_header_size> record_bytes)
{
    size_t unit_size = record.type == RecordType::MemoryPages ? format::page_size
        : record.type == RecordType::State                    ? format::state_chunk_size
                                                              : format::end_payload_size;
    m_plain.resize(m_sealed.size() - uint64_t { record.unit_count } * tag_size);
    format::UnitAd ad { m_header, record_bytes, m_name };
    size_t in = 0;
    size_t out = 0;
    for (uint32_t unit = 0; unit < record.unit_count; ++unit) {
        size_t plain_size = std::min(unit_size, m_plain.size() - out);
        uint64_t gpa = record.type == RecordType::MemoryPages ? record.argument + uint64_t { unit } * unit_size : 0;
        uint64_t index = record.first_unit + unit;
        auto sealed = std::span<std::byte const>(m_sealed).subspan(in, plain_size + tag_size);
        if (!m_keys.units.open(index, ad.for_unit(index, gpa), sealed, std::span(m_plain).subspan(out, plain_size))) {
            switch (record.type) {
            case RecordType::MemoryPages:
                m_failure.gpa = GuestPhysAddr(gpa);
                return fail(Errc::Corrupt, "sealed stream: authentication failed (page at GPA)");
            case RecordType::State: return fail(Errc::Corrupt, "sealed stream: authentication failed (state record)");
            case RecordType::End: return fail(Errc::Corrupt, "sealed stream: authentication failed (end record)");
            }
        }
        in += sealed.size();
        out += plain_size;
    }
    return {};
}

Result<Record> StreamReader::finish_end_record(format::RecordHeader const& record)
{
    uint64_t records = format::load_le64(std::span<std::byte const>(m_plain).subspan(0, 8));
    uint64_t units = format::load_le64(std::span<std::byte const>(m_plain).subspan(8, 8));
    uint64_t pages = format::load_le64(std::span<std::byte const>(m_plain).subspan(16, 8));
    if (records != m_record_index || units != m_next_unit || pages != m_pages)
        return fail(Errc::Corrupt, "sealed stream: end record does not match the records read");
    std::array<std::byte, 1> extra {};
    if (TRY(read_fully(m_source, extra)) != 0)
        return fail(Errc::Corrupt, "sealed stream: data after the end record");
    m_ended = true;
    Record out;
    out.type = RecordType::End;
    out.index = record.record_index;
    out.total_records = records;
    out.total_pages = pages;
    return out;
}

} // namespace monarch::crypt
