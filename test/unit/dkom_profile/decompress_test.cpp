// SPDX-License-Identifier: Apache-2.0
// Payload decompression (each format made here with its own library) and bzImage payload
// location through the setup header and by scanning.
#include "dkom/profile/bzimage.h"
#include "dkom/profile/decompress.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

using namespace monarch;
using namespace monarch::dkom;

namespace {

// 256 KiB of compressible but not trivial bytes, starting like an ELF file.
std::vector<std::byte> make_payload()
{
    std::vector<std::byte> data(256 << 10);
    uint32_t state = 12345;
    for (size_t i = 0; i < data.size(); ++i) {
        state = state * 1103515245 + 12345;
        data[i] = std::byte((state >> 16) % 7 + 'a');
    }
    std::memcpy(data.data(), "\x7f" "ELF", 4);
    return data;
}

std::vector<std::byte> gzip(std::vector<std::byte> const& in)
{
    z_stream stream {};
    REQUIRE(deflateInit2(&stream, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::vector<std::byte> out(deflateBound(&stream, in.size()) + 64);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    stream.avail_in = uInt(in.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = uInt(out.size());
    REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return out;
}

std::vector<std::byte> xz(std::vector<std::byte> const& in)
{
    std::vector<std::byte> out(in.size() + 4096);
    size_t used = 0;
    REQUIRE(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<uint8_t const*>(in.data()), in.size(),
                reinterpret_cast<uint8_t*>(out.data()), &used, out.size())
        == LZMA_OK);
    out.resize(used);
    return out;
}

void put32(std::vector<std::byte>& out, uint32_t value)
{
    auto const* p = reinterpret_cast<std::byte const*>(&value);
    out.insert(out.end(), p, p + 4);
}

// lz4 -l: magic 0x184c2102, then (u32 size, block) per block of input (8 MiB in lz4 itself); the kernel's build
// appends the decompressed size.
std::vector<std::byte> lz4_legacy(std::vector<std::byte> const& in, size_t block = 8 << 20)
{
    std::vector<std::byte> out;
    put32(out, 0x184c2102);
    for (size_t at = 0; at < in.size(); at += block) {
        int n = int(std::min(block, in.size() - at));
        std::vector<char> packed(size_t(LZ4_compressBound(n)));
        int size = LZ4_compress_default(reinterpret_cast<char const*>(in.data() + at), packed.data(), n, int(packed.size()));
        REQUIRE(size > 0);
        put32(out, uint32_t(size));
        auto const* p = reinterpret_cast<std::byte const*>(packed.data());
        out.insert(out.end(), p, p + size);
    }
    put32(out, uint32_t(in.size()));
    return out;
}

std::vector<std::byte> zstd(std::vector<std::byte> const& in)
{
    std::vector<std::byte> out(ZSTD_compressBound(in.size()));
    size_t size = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(size));
    out.resize(size);
    return out;
}

struct Case {
    char const* name;
    Compression format;
    std::vector<std::byte> (*compress)(std::vector<std::byte> const&);
};

std::vector<std::byte> lz4_default(std::vector<std::byte> const& in) { return lz4_legacy(in, 64 << 10); }

constexpr Case cases[] = {
    { "gzip", Compression::Gzip, gzip },
    { "xz", Compression::Xz, xz },
    { "lz4", Compression::Lz4Legacy, lz4_default },
    { "zstd", Compression::Zstd, zstd },
};

} // namespace

TEST_CASE("each payload format decompresses to what was compressed, trailing bytes ignored", "[unit][decompress]")
{
    auto payload = make_payload();
    for (auto const& c : cases) {
        INFO(c.name);
        auto packed = c.compress(payload);
        REQUIRE(detect_compression(packed) == c.format);
        packed.insert(packed.end(), 100, std::byte { 0x5a }); // what follows the stream in a bzImage
        auto out = decompress(c.format, packed);
        INFO((out ? std::string() : to_string(out.error())));
        REQUIRE(out);
        CHECK(*out == payload);
    }
}

TEST_CASE("truncated, corrupt or oversized payloads fail", "[unit][decompress]")
{
    auto payload = make_payload();
    for (auto const& c : cases) {
        INFO(c.name);
        auto packed = c.compress(payload);
        auto truncated = decompress(c.format, std::span(packed).first(packed.size() / 2));
        if (c.format != Compression::Lz4Legacy) { // a legacy LZ4 stream has no end marker
            REQUIRE_FALSE(truncated);
            CHECK((truncated.error().code == Errc::BadImage));
        } else {
            CHECK((!truncated || truncated->size() < payload.size()));
        }
        auto limited = decompress(c.format, packed, 64 << 10);
        REQUIRE_FALSE(limited);
        CHECK((limited.error().code == Errc::BadImage));
        auto corrupt = packed;
        for (size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i)
            corrupt[i] ^= std::byte { 0xa5 };
        auto damaged = decompress(c.format, corrupt);
        CHECK((!damaged || *damaged != payload));
    }
    CHECK_FALSE(detect_compression(std::vector<std::byte>(16, std::byte { 0 })));
}

TEST_CASE("bzImage: the payload named by the setup header, or found by scanning", "[unit][bzimage]")
{
    auto payload = make_payload();
    auto packed = lz4_legacy(payload, 64 << 10);
    std::vector<std::byte> image(5 * 512); // boot sector + 4 setup sectors
    image[0x1f1] = std::byte { 4 };        // setup_sects
    std::memcpy(image.data() + 0x202, "HdrS", 4);
    uint16_t version = 0x020f;
    std::memcpy(image.data() + 0x206, &version, 2);
    image.insert(image.end(), 300, std::byte { 0x90 }); // decompressor code before the payload
    uint32_t offset = 300, length = uint32_t(packed.size());
    std::memcpy(image.data() + 0x248, &offset, 4);
    std::memcpy(image.data() + 0x24c, &length, 4);
    image.insert(image.end(), packed.begin(), packed.end());
    image.insert(image.end(), 1000, std::byte { 0xcc });
    REQUIRE(looks_like_bzimage(image));
    auto vmlinux = extract_vmlinux(image);
    REQUIRE(vmlinux);
    CHECK(*vmlinux == payload);

    uint32_t wrong = 7; // a damaged header: the scan still finds the stream
    std::memcpy(image.data() + 0x248, &wrong, 4);
    vmlinux = extract_vmlinux(image);
    REQUIRE(vmlinux);
    CHECK(*vmlinux == payload);

    std::memcpy(image.data() + 5 * 512 + 300 + 8, "garbage!", 8); // first block broken
    auto broken = extract_vmlinux(image);
    REQUIRE_FALSE(broken);
    CHECK((broken.error().code == Errc::BadImage));
    CHECK_FALSE(extract_vmlinux(std::vector<std::byte>(4096, std::byte { 1 })));
}
