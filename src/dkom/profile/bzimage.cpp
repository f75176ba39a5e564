// SPDX-License-Identifier: Apache-2.0
// bzImage payload extraction. Offsets are those of Documentation/arch/x86/boot.rst ("The real-
// mode kernel header"): setup_sects at 0x1f1, "HdrS" at 0x202, version at 0x206,
// payload_offset and payload_length at 0x248 and 0x24c (relative to the protected-mode code).
#include "dkom/profile/bzimage.h"
#include "dkom/profile/decompress.h"
#include "dkom/profile/elf_image.h"

#include "common/byte_access.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace monarch::dkom {

namespace {

constexpr size_t setup_sects_offset = 0x1f1;
constexpr size_t header_magic_offset = 0x202;
constexpr size_t version_offset = 0x206;
constexpr size_t payload_offset_offset = 0x248;
constexpr size_t payload_length_offset = 0x24c;
constexpr uint16_t payload_fields_version = 0x0208;

// The payload named by the setup header, if the header has one that lies inside the file.
std::span<std::byte const> header_payload(std::span<std::byte const> image)
{
    if (!looks_like_bzimage(image) || load_le<uint16_t>(image, version_offset).value_or(0) < payload_fields_version)
        return {};
    uint64_t setup_sects = load_le<uint8_t>(image, setup_sects_offset).value_or(0);
    if (setup_sects == 0)
        setup_sects = 4; // boot.rst: "If this field is 0, the real value is 4."
    uint64_t start = (setup_sects + 1) * 512 + load_le<uint32_t>(image, payload_offset_offset).value_or(0);
    uint64_t length = load_le<uint32_t>(image, payload_length_offset).value_or(0);
    if (start > image.size() || length > image.size() - start || length == 0)
        return {};
    return image.subspan(start, length);
}

Result<std::vector<std::byte>> decompress_elf(std::span<std::byte const> stream)
{
    auto format = detect_compression(stream);
    if (!format)
        return fail(Errc::BadImage, "bzImage: payload of unknown compression");
    auto bytes = TRY(decompress(*format, stream));
    if (!ElfImage::has_elf_magic(bytes))
        return fail(Errc::BadImage, "bzImage: payload is not an ELF file");
    return bytes;
}

} // namespace

bool looks_like_bzimage(std::span<std::byte const> image)
{
    return image.size() > payload_length_offset + 4 && std::memcmp(image.data() + header_magic_offset, "HdrS", 4) == 0;
}

Result<std::vector<std::byte>> extract_vmlinux(std::span<std::byte const> image)
{
    if (auto payload = header_payload(image); !payload.empty()) {
        if (auto elf = decompress_elf(payload))
            return elf;
    }
    // No usable header (an old protocol, or a damaged one): try every place that starts
    // like a compressed stream, as the kernel's scripts/extract-vmlinux does.
    static constexpr std::array<std::array<uint8_t, 4>, 4> magics { {
        { 0x02, 0x21, 0x4c, 0x18 }, { 0x28, 0xb5, 0x2f, 0xfd }, { 0xfd, '7', 'z', 'X' }, { 0x1f, 0x8b, 0x08, 0x00 } } };
    for (size_t at = 0; at + 4 <= image.size(); ++at) {
        bool candidate = std::any_of(magics.begin(), magics.end(),
            [&](auto const& magic) { return std::memcmp(image.data() + at, magic.data(), 4) == 0; });
        if (!candidate)
            continue;
        if (auto elf = decompress_elf(image.subspan(at)))
            return elf;
    }
    if (looks_like_bzimage(image))
        return fail(Errc::BadImage, "bzImage: no decompressible ELF payload");
    return fail(Errc::BadImage, "kernel image: neither a bzImage nor an ELF vmlinux");
}

} // namespace monarch::dkom
