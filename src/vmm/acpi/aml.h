// SPDX-License-Identifier: Apache-2.0
// A very small AML encoder (ACPI 6.x, chapter 20 "ACPI Machine Language Specification"):
// just the terms Monarch's DSDT needs, Name, Scope, Device, Package, Buffer, integers and
// strings. Each function returns the encoded bytes of one term.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::acpi::aml {

using Bytes = std::vector<std::byte>;

// PkgLength (20.2.4) for a body of `body_length` bytes: 1 to 4 bytes, counting itself.
[[nodiscard]] Bytes package_length(size_t body_length);
// Integer constant with the smallest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix).
[[nodiscard]] Bytes integer(uint64_t value);
// String constant (StringPrefix, ASCII, NUL).
[[nodiscard]] Bytes string(std::string_view text);
// A name path: "_S5_", "\\_SB_", "COM1". Each segment is 4 characters, the caller pads with '_'.
[[nodiscard]] Bytes name_string(std::string_view path);
// Name(path, object)
[[nodiscard]] Bytes name(std::string_view path, Bytes const& object);
// Package() { elements... } of already-encoded data objects.
[[nodiscard]] Bytes package(std::span<Bytes const> elements);
// Buffer() { data }
[[nodiscard]] Bytes buffer(std::span<std::byte const> data);
// Scope(path) { terms }  and  Device(path) { terms }
[[nodiscard]] Bytes scope(std::string_view path, Bytes const& terms);
[[nodiscard]] Bytes device(std::string_view path, Bytes const& terms);
// EISAID("PNP0501") as the 32-bit compressed ID the ASL compiler emits.
[[nodiscard]] uint32_t eisa_id(std::string_view id);

void append(Bytes& to, Bytes const& from);

// Resource descriptors (6.4): small I/O port descriptor (16-bit decode), IRQ mask, end tag.
[[nodiscard]] Bytes io_port_resource(uint16_t base, uint8_t length);
[[nodiscard]] Bytes irq_resource(uint8_t irq);
[[nodiscard]] Bytes end_tag_resource();
// Large resource descriptors for a host bridge's windows (6.4.3.5), each a producer with
// fixed minimum and maximum, positive decode, granularity 0, no translation; `first` and
// `last` are inclusive. Memory windows are cacheable, read-write (as QEMU and firmware
// declare them; the OS maps BARs uncached regardless).
[[nodiscard]] Bytes word_bus_number_resource(uint16_t first, uint16_t last);  // WordBusNumber
[[nodiscard]] Bytes word_io_resource(uint16_t first, uint16_t last);          // WordIO, entire range
[[nodiscard]] Bytes dword_memory_resource(uint32_t first, uint32_t last);     // DWordMemory
[[nodiscard]] Bytes qword_memory_resource(uint64_t first, uint64_t last);     // QWordMemory
// Memory32Fixed (6.4.3.4), read-write: a fixed range a device consumes (PNP0C02 reservations).
[[nodiscard]] Bytes memory32_fixed_resource(uint32_t base, uint32_t length);

} // namespace monarch::vmm::acpi::aml
