// SPDX-License-Identifier: Apache-2.0
// gzip (zlib), xz (liblzma), legacy LZ4 (liblz4 blocks) and zstd (libzstd) stream decoding
// into a growing buffer with a size limit.
#include "dkom/profile/decompress.h"

#include <cstring>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

namespace monarch::dkom {

namespace {

constexpr size_t chunk = size_t { 1 } << 20;

bool starts_with(std::span<std::byte const> data, std::initializer_list<uint8_t> magic)
{
    if (data.size() < magic.size())
        return false;
    size_t i = 0;
    for (uint8_t byte : magic) {
        if (std::to_integer<uint8_t>(data[i++]) != byte)
            return false;
    }
    return true;
}

uint32_t load_le32(std::byte const* p)
{
    uint32_t value;
    std::memcpy(&value, p, sizeof value);
    return value; // x86-64 only: little-endian host
}

Result<std::vector<std::byte>> gunzip(std::span<std::byte const> data, size_t limit)
{
    z_stream stream {};
    // 16 + MAX_WBITS: expect a gzip header and trailer (RFC 1952), not a raw zlib stream.
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
        return fail(Errc::Sys, "gzip: inflateInit2 failed");
    std::vector<std::byte> out;
    // SAFETY: zlib reads next_in only (z_const), within avail_in bytes.
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(data.data()));
    stream.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), UINT32_MAX));
    int status = Z_OK;
    while (status == Z_OK) {
        if (out.size() >= limit) {
            inflateEnd(&stream);
            return fail(Errc::BadImage, "gzip: output exceeds the size limit");
        }
        size_t used = out.size();
        out.resize(used + chunk);
        // SAFETY: writes at most avail_out bytes into the space just added.
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        stream.avail_out = chunk;
        status = inflate(&stream, Z_NO_FLUSH);
        out.resize(used + chunk - stream.avail_out);
        if (status == Z_BUF_ERROR && stream.avail_in == 0)
            break;
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END)
        return fail(Errc::BadImage, "gzip: corrupt or truncated stream");
    if (out.size() > limit)
        return fail(Errc::BadImage, "gzip: output exceeds the size limit");
    return out;
}

Result<std::vector<std::byte>> unxz(std::span<std::byte const> data, size_t limit)
{
    lzma_stream stream = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&stream, UINT64_MAX, 0) != LZMA_OK)
        return fail(Errc::Sys, "xz: lzma_stream_decoder failed");
    std::vector<std::byte> out;
    // SAFETY: std::byte and uint8_t have the same representation.
    stream.next_in = reinterpret_cast<uint8_t const*>(data.data());
    stream.avail_in = data.size();
    lzma_ret status = LZMA_OK;
    while (status == LZMA_OK) {
        if (out.size() >= limit) {
            lzma_end(&stream);
            return fail(Errc::BadImage, "xz: output exceeds the size limit");
        }
        size_t used = out.size();
        out.resize(used + chunk);
        stream.next_out = reinterpret_cast<uint8_t*>(out.data() + used);
        stream.avail_out = chunk;
        status = lzma_code(&stream, LZMA_FINISH);
        out.resize(used + chunk - stream.avail_out);
    }
    lzma_end(&stream);
    if (status != LZMA_STREAM_END)
        return fail(Errc::BadImage, "xz: corrupt or truncated stream");
    if (out.size() > limit)
        return fail(Errc::BadImage, "xz: output exceeds the size limit");
    return out;
}

// The legacy LZ4 format (lz4 -l, what the kernel's build makes): a magic number, then blocks,
// each a little-endian u32 compressed size and an LZ4 block of at most 8 MiB decompressed.
// The kernel appends the decompressed size as a u32, which ends the stream here too.
Result<std::vector<std::byte>> unlz4_legacy(std::span<std::byte const> data, size_t limit)
{
    constexpr size_t legacy_block = size_t { 8 } << 20;
    constexpr uint32_t legacy_magic = 0x184c2102;
    if (data.size() < 4 || load_le32(data.data()) != legacy_magic)
        return fail(Errc::BadImage, "lz4: not a legacy LZ4 stream");
    std::vector<std::byte> out;
    size_t at = 4;
    while (data.size() - at >= 8) {
        uint32_t size = load_le32(data.data() + at);
        at += 4;
        if (size == legacy_magic)
            continue; // concatenated streams
        if (size == 0 || size > data.size() - at || size > static_cast<uint32_t>(LZ4_compressBound(static_cast<int>(legacy_block))))
            break; // the appended size field, or trailing bytes: the stream ended
        size_t used = out.size();
        out.resize(used + legacy_block);
        // SAFETY: LZ4_decompress_safe reads `size` bytes (checked above) and writes at most
        // legacy_block bytes into the space just added.
        int produced = LZ4_decompress_safe(reinterpret_cast<char const*>(data.data() + at),
            reinterpret_cast<char*>(out.data() + used), static_cast<int>(size), static_cast<int>(legacy_block));
        if (produced < 0)
            return fail(Errc::BadImage, "lz4: corrupt block");
        out.resize(used + static_cast<size_t>(produced));
        if (out.size() > limit)
            return fail(Errc::BadImage, "lz4: output exceeds the size limit");
        at += size;
    }
    if (out.empty())
        return fail(Errc::BadImage, "lz4: no block decoded");
    return out;
}

Result<std::vector<std::byte>> unzstd(std::span<std::byte const> data, size_t limit)
{
    ZSTD_DStream* stream = ZSTD_createDStream();
    if (!stream)
        return fail(Errc::Sys, "zstd: ZSTD_createDStream failed");
    std::vector<std::byte> out;
    ZSTD_inBuffer in { data.data(), data.size(), 0 };
    size_t status = 1;
    while (status != 0) {
        if (out.size() >= limit) {
            ZSTD_freeDStream(stream);
            return fail(Errc::BadImage, "zstd: output exceeds the size limit");
        }
        size_t used = out.size();
        out.resize(used + chunk);
        ZSTD_outBuffer buffer { out.data() + used, chunk, 0 };
        size_t before = in.pos;
        status = ZSTD_decompressStream(stream, &buffer, &in);
        out.resize(used + buffer.pos);
        if (ZSTD_isError(status) || (buffer.pos == 0 && in.pos == before && in.pos == in.size))
            break;
    }
    ZSTD_freeDStream(stream);
    if (status != 0)
        return fail(Errc::BadImage, "zstd: corrupt or truncated stream");
    if (out.size() > limit)
        return fail(Errc::BadImage, "zstd: output exceeds the size limit");
    return out;
}

} // namespace

std::optional<Compression> detect_compression(std::span<std::byte const> data)
{
    if (starts_with(data, { 0x1f, 0x8b }))
        return Compression::Gzip;
    if (starts_with(data, { 0xfd, '7', 'z', 'X', 'Z', 0x00 }))
        return Compression::Xz;
    if (starts_with(data, { 0x02, 0x21, 0x4c, 0x18 }))
        return Compression::Lz4Legacy;
    if (starts_with(data, { 0x28, 0xb5, 0x2f, 0xfd }))
        return Compression::Zstd;
    return std::nullopt;
}

Result<std::vector<std::byte>> decompress(Compression format, std::span<std::byte const> data, size_t limit)
{
    switch (format) {
    case Compression::Gzip: return gunzip(data, limit);
    case Compression::Xz: return unxz(data, limit);
    case Compression::Lz4Legacy: return unlz4_legacy(data, limit);
    case Compression::Zstd: return unzstd(data, limit);
    }
    return fail(Errc::Unsupported, "unknown compression");
}

} // namespace monarch::dkom
