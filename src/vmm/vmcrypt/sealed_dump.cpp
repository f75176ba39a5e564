// SPDX-License-Identifier: Apache-2.0
// Writing the sealed dump file.
#include "vmm/vmcrypt/sealed_dump.h"

#include "crypt/byte_stream.h"
#include "vmm/vmcrypt/sealed_file.h"

#include <fmt/format.h>

namespace monarch::vmm::vmcrypt {

std::string dump_info_json(GuestMemory const& memory, crypt::VmUuid const& vm, DumpContents const& contents)
{
    // Names are static literals of our own and the note is ours: nothing here needs escaping
    // beyond what fmt writes, but quotes are refused from the note to keep the JSON valid.
    std::string text = fmt::format(R"({{"format":"monarch-dump/1","vm":"{}","ram":[)", vm.to_string());
    bool first = true;
    for (auto const& range : memory.ranges()) {
        text += fmt::format(R"({}{{"gpa":{},"size":{}}})", first ? "" : ",", range.base.raw(), range.size);
        first = false;
    }
    text += R"(],"clear_regions":[)";
    first = true;
    if (contents.clear_regions) {
        for (auto const& region : contents.clear_regions->list()) {
            text += fmt::format(R"({}{{"name":"{}","gpa":{},"size":{}}})", first ? "" : ",", region.name, region.base.raw(), region.size);
            first = false;
        }
    }
    std::string note = contents.vcpu_state_note;
    std::erase_if(note, [](char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; });
    text += fmt::format(R"(],"vcpus":{},"vcpu_records":{},"note":"{}"}})", contents.vcpu_count, contents.states.size(), note);
    return text;
}

Result<crypt::Generation> write_sealed_dump(std::string const& path, GuestMemory& memory, VmSealing& sealing,
    DumpContents const& contents, Progress const& progress)
{
    auto pieces = TRY(view_pieces(memory, std::nullopt));
    auto file = TRY(NewSealedFile::create(path));
    auto const generation = sealing.next_generation();
    auto writer = TRY(crypt::StreamWriter::create(crypt::fd_sink(file.fd()), sealing.keys(), generation));
    auto const info = dump_info_json(memory, sealing.vm(), contents);
    TRY_VOID(writer.append_state("dump.info", std::as_bytes(std::span { info })));
    for (auto const& state : contents.states)
        TRY_VOID(writer.append_state(state.name, state.bytes));
    TRY(append_memory(memory, pieces, writer, progress));
    TRY_VOID(writer.finish());
    TRY_VOID(file.commit());
    return generation;
}

} // namespace monarch::vmm::vmcrypt
