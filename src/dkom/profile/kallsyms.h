// SPDX-License-Identifier: Apache-2.0
// The kernel's own symbol table (CONFIG_KALLSYMS, scripts/kallsyms.c), found inside a vmlinux
// by the shape of its data, with no System.map and no debug information.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace monarch::dkom {

struct KallsymsSymbol {
    std::string name;
    char type { '?' }; // nm's letter: T t D d R r B b A ...
    uint64_t address { 0 };
};

// Where each table was found (byte offsets into the searched span), for diagnostics and tests.
struct KallsymsLayout {
    size_t token_table { 0 };
    size_t token_index { 0 };
    size_t markers { 0 };
    size_t names { 0 };
    size_t num_syms { 0 };
    size_t offsets { 0 };
    uint64_t relative_base { 0 };
    bool absolute_percpu { false };
};

struct Kallsyms {
    std::vector<KallsymsSymbol> symbols; // in table order (sorted by address)
    KallsymsLayout layout;
};

// Finds and decodes the tables of the 6.1 layout (scripts/kallsyms.c write_src(), every label
// 8-byte aligned): kallsyms_offsets, kallsyms_relative_base, kallsyms_num_syms,
// kallsyms_names, kallsyms_markers (u32), [kallsyms_seqs_of_names,] kallsyms_token_table,
// kallsyms_token_index; offsets and base after the token index are tried as well.
[[nodiscard]] Result<Kallsyms> find_kallsyms(std::span<std::byte const> image);

} // namespace monarch::dkom
