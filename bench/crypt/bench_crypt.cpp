// SPDX-License-Identifier: Apache-2.0
// Sealing and unsealing throughput on one core, in GiB/s, for each AEAD this host has,
// against plain memcpy, over a buffer of 4 KiB pages; prints Markdown table rows.
// Usage: monarch-bench-crypt [MiB (default 256)] [repetitions (default 3, best kept)]
#include "crypt/data_key.h"
#include "crypt/sodium.h"
#include "crypt/stream_reader.h"
#include "crypt/stream_writer.h"
#include "crypt/unit_cipher.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sodium.h>
#include <string>
#include <vector>

using namespace monarch;
using namespace monarch::crypt;

namespace {

constexpr size_t page = format::page_size;

// Best (shortest) wall time of `repetitions` runs, as GiB/s over `bytes`.
double best_rate(size_t bytes, int repetitions, std::function<void()> const& work)
{
    double best = 1e30;
    for (int i = 0; i < repetitions; ++i) {
        auto start = std::chrono::steady_clock::now();
        work();
        std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        best = std::min(best, elapsed.count());
    }
    return double(bytes) / double(1ull << 30) / best;
}

void row(char const* operation, std::string_view cipher, double rate)
{
    std::printf("| %s | %.*s | %.2f |\n", operation, int(cipher.size()), cipher.data(), rate);
    std::fflush(stdout);
}

void bench_units(Cipher cipher, std::vector<std::byte> const& plain, int repetitions)
{
    auto key = SecretBuffer::create(unit_key_size);
    if (!key)
        std::exit(1);
    randombytes_buf(key->data(), key->size());
    auto unit = UnitCipher::create(cipher, std::move(*key));
    if (!unit)
        std::exit(1);
    size_t pages = plain.size() / page;
    std::vector<std::byte> sealed(pages * (page + tag_size));
    std::vector<std::byte> opened(plain.size());
    std::array<std::byte, 120> ad {}; // the size of a memory page's additional data
    row("seal pages (AEAD per 4 KiB page)", to_string(cipher), best_rate(plain.size(), repetitions, [&] {
        for (size_t i = 0; i < pages; ++i)
            unit->seal(i, ad, std::span(plain).subspan(i * page, page), std::span(sealed).subspan(i * (page + tag_size), page + tag_size));
    }));
    bool ok = true;
    row("unseal pages (AEAD per 4 KiB page)", to_string(cipher), best_rate(plain.size(), repetitions, [&] {
        for (size_t i = 0; i < pages; ++i)
            ok &= unit->open(i, ad, std::span(sealed).subspan(i * (page + tag_size), page + tag_size), std::span(opened).subspan(i * page, page));
    }));
    if (!ok || opened != plain) {
        std::fprintf(stderr, "monarch-bench-crypt: unsealed pages differ\n");
        std::exit(1);
    }
}

void bench_stream(Cipher cipher, std::vector<std::byte> const& plain, int repetitions)
{
    auto owner = OwnerKey::generate();
    auto keys = owner ? SealingKeys::create(*owner, VmUuid {}, cipher) : Result<SealingKeys>(Failure(owner.error()));
    if (!keys)
        std::exit(1);
    std::vector<std::byte> stream;
    stream.reserve(plain.size() + plain.size() / 200 + 4096);
    row("write sealed stream (memory records)", to_string(cipher), best_rate(plain.size(), repetitions, [&] {
        stream.clear();
        auto writer = StreamWriter::create([&](std::span<std::byte const> b) -> Result<void> {
            stream.insert(stream.end(), b.begin(), b.end());
            return {};
        }, *keys, Generation(1));
        if (!writer || !writer->append_pages(GuestPhysAddr(0), plain) || !writer->finish())
            std::exit(1);
    }));
    row("read sealed stream (memory records)", to_string(cipher), best_rate(plain.size(), repetitions, [&] {
        size_t position = 0;
        auto reader = StreamReader::open([&](std::span<std::byte> b) -> Result<size_t> {
            size_t n = std::min(b.size(), stream.size() - position);
            std::memcpy(b.data(), stream.data() + position, n);
            position += n;
            return n;
        }, *owner);
        if (!reader)
            std::exit(1);
        for (;;) {
            auto record = reader->next();
            if (!record)
                std::exit(1);
            if (record->type == RecordType::End)
                break;
        }
    }));
}

} // namespace

int main(int argc, char** argv)
{
    size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    int repetitions = argc > 2 ? std::atoi(argv[2]) : 3;
    if (mib == 0 || repetitions <= 0 || !initialize()) {
        std::fprintf(stderr, "usage: monarch-bench-crypt [MiB] [repetitions]\n");
        return 2;
    }
    std::vector<std::byte> plain(mib << 20);
    randombytes_buf(plain.data(), plain.size());
    std::vector<std::byte> copy(plain.size());
    std::printf("| operation (%zu MiB of 4 KiB pages, one core, best of %d) | cipher | GiB/s |\n", mib, repetitions);
    std::printf("| --- | --- | --- |\n");
    row("memcpy per 4 KiB page", "none", best_rate(plain.size(), repetitions, [&] {
        for (size_t i = 0; i < plain.size(); i += page)
            std::memcpy(copy.data() + i, plain.data() + i, page);
    }));
    for (auto cipher : { Cipher::Aes256Gcm, Cipher::XChaCha20Poly1305 }) {
        if (!cipher_available(cipher)) {
            std::printf("| (not available on this host) | %s | - |\n", std::string(to_string(cipher)).c_str());
            continue;
        }
        bench_units(cipher, plain, repetitions);
        bench_stream(cipher, plain, repetitions);
    }
    return 0;
}
