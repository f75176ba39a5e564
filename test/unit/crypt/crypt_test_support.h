// SPDX-License-Identifier: Apache-2.0
// Helpers for the sealing tests: libsodium set-up, deterministic test data, streams in
// memory, reading a whole stream back, and temporary directories.
#pragma once

#include "crypt/data_key.h"
#include "crypt/sodium.h"
#include "crypt/stream_reader.h"
#include "crypt/stream_writer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sys/stat.h>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace monarch::crypt::sealtest {

using Bytes = std::vector<std::byte>;

inline void init()
{
    REQUIRE(initialize().has_value());
}

// Pseudo-random bytes from a seed (xorshift64*): reproducible, and different per seed.
inline Bytes pattern_bytes(size_t size, uint64_t seed)
{
    Bytes bytes(size);
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (auto& byte : bytes) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        byte = std::byte((state * 0x2545f4914f6cdd1dull) >> 56);
    }
    return bytes;
}

inline VmUuid uuid_filled(uint8_t value)
{
    VmUuid uuid;
    uuid.bytes.fill(std::byte(value));
    return uuid;
}

inline std::vector<Cipher> ciphers_here()
{
    std::vector<Cipher> ciphers { Cipher::XChaCha20Poly1305 };
    if (cipher_available(Cipher::Aes256Gcm))
        ciphers.push_back(Cipher::Aes256Gcm);
    return ciphers;
}

inline ByteSink vector_sink(Bytes& out)
{
    return [&out](std::span<std::byte const> bytes) -> Result<void> {
        out.insert(out.end(), bytes.begin(), bytes.end());
        return {};
    };
}

inline ByteSource vector_source(Bytes const& in)
{
    auto position = std::make_shared<size_t>(0);
    return [&in, position](std::span<std::byte> buffer) -> Result<size_t> {
        size_t n = std::min(buffer.size(), in.size() - *position);
        std::copy_n(in.begin() + static_cast<ptrdiff_t>(*position), n, buffer.begin());
        *position += n;
        return n;
    };
}

// Writes a stream with `body` appending records, then finish().
inline Bytes write_stream(SealingKeys const& keys, Generation generation, std::function<void(StreamWriter&)> const& body,
    std::optional<StreamId> stream = std::nullopt)
{
    Bytes out;
    auto writer = stream ? StreamWriter::create_with_stream_id_for_testing(vector_sink(out), keys, generation, *stream)
                         : StreamWriter::create(vector_sink(out), keys, generation);
    REQUIRE(writer.has_value());
    body(*writer);
    REQUIRE(writer->finish().has_value());
    return out;
}

struct OwnedRecord {
    RecordType type;
    uint64_t gpa;
    std::string name;
    Bytes data;
    bool operator==(OwnedRecord const&) const = default;
};

struct ReadResult {
    std::optional<StreamInfo> info;
    std::vector<OwnedRecord> records;   // every record returned, End included
    std::optional<Error> error;         // the first failure, if any
    ReadFailure failure;
};

inline ReadResult read_stream(Bytes const& bytes, OwnerKey const& owner)
{
    ReadResult result;
    auto reader = StreamReader::open(vector_source(bytes), owner);
    if (!reader) {
        result.error = reader.error();
        return result;
    }
    result.info = reader->info();
    for (;;) {
        auto record = reader->next();
        if (!record) {
            result.error = record.error();
            result.failure = reader->failure();
            return result;
        }
        result.records.push_back({ record->type, record->gpa.raw(), std::string(record->name),
            Bytes(record->data.begin(), record->data.end()) });
        if (record->type == RecordType::End)
            return result;
    }
}

struct TempDir {
    std::filesystem::path path;
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "monarch-crypt-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    [[nodiscard]] std::string file(std::string const& name) const { return (path / name).string(); }
};

inline Bytes read_file(std::string const& path)
{
    FILE* file = std::fopen(path.c_str(), "rb");
    REQUIRE(file != nullptr);
    Bytes bytes;
    std::byte buffer[65536];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
        bytes.insert(bytes.end(), buffer, buffer + n);
    std::fclose(file);
    return bytes;
}

inline void write_file(std::string const& path, std::span<std::byte const> bytes, unsigned mode)
{
    FILE* file = std::fopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size());
    std::fclose(file);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

} // namespace monarch::crypt::sealtest
