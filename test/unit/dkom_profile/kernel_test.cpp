// SPDX-License-Identifier: Apache-2.0
// Profiles made from Debian's real cloud kernel (scripts/fetch-linux-kernel), checked against
// the image's own bytes through its ELF program headers (read here, independently), and
// against pahole's reading of the same BTF.
#include "dkom/profile/profile.h"
#include "dkom/profile/read_file.h"

#include "support/skip.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <sstream>

using namespace monarch;
using namespace monarch::dkom;

namespace {

struct Kernel {
    std::string directory;
    std::string release; // e.g. 6.1.0-28-cloud-amd64
    std::vector<std::byte> vmlinux;
};

Kernel const& kernel()
{
    static Kernel const cached = [] {
        auto fetched = test::run_process({ MONARCH_SOURCE_DIR "/scripts/fetch-linux-kernel" }, { .timeout = std::chrono::seconds(280) });
        if (!fetched.exited || fetched.exit_code != 0)
            test::skip("scripts/fetch-linux-kernel failed (no network to the Debian archive?): " + test::describe(fetched));
        Kernel k;
        k.directory = fetched.output.substr(0, fetched.output.find_last_not_of("\n") + 1);
        k.directory = k.directory.substr(k.directory.find_last_of('\n') + 1); // the last line
        std::ifstream(k.directory + "/version") >> k.release;
        auto bytes = read_whole_file(k.directory + "/vmlinux");
        REQUIRE(bytes);
        k.vmlinux = std::move(*bytes);
        return k;
    }();
    return cached;
}

Profile const& profile()
{
    static Profile const cached = [] {
        auto made = Profile::from_kernel_image(kernel().vmlinux);
        INFO((made ? std::string() : to_string(made.error())));
        REQUIRE(made);
        return *made;
    }();
    return cached;
}

// The file bytes at a link-time virtual address, through the PT_LOAD program headers.
std::span<std::byte const> image_at(uint64_t address, size_t length)
{
    auto const& bytes = kernel().vmlinux;
    Elf64_Ehdr header;
    std::memcpy(&header, bytes.data(), sizeof header);
    for (size_t i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr phdr;
        std::memcpy(&phdr, bytes.data() + header.e_phoff + i * sizeof phdr, sizeof phdr);
        if (phdr.p_type == PT_LOAD && address >= phdr.p_vaddr && address + length <= phdr.p_vaddr + phdr.p_filesz)
            return std::span(bytes).subspan(phdr.p_offset + (address - phdr.p_vaddr), length);
    }
    FAIL("address " << std::hex << address << " is in no PT_LOAD segment");
    return {};
}

template<typename T>
T image_value(uint64_t address)
{
    T value;
    std::memcpy(&value, image_at(address, sizeof value).data(), sizeof value);
    return value;
}

uint64_t symbol(char const* name)
{
    auto address = profile().symbol_address(name);
    INFO(name);
    REQUIRE(address);
    return *address;
}

uint64_t offset_of(char const* type, char const* path)
{
    auto field = profile().field(type, path);
    INFO(type << "." << path);
    REQUIRE(field);
    return field->offset;
}

// One member line of pahole's C output: "<tab>type name[N];   /* offset size */". Bitfields
// (whose comment reads "offset: bit size") and function pointers are left out. Only lines
// indented by one tab (members of the struct itself) unless `any_depth`.
struct PaholeMember {
    std::string name;
    uint64_t offset;
    uint64_t size;
};

std::optional<PaholeMember> parse_pahole_member(std::string_view line, bool any_depth)
{
    if (!line.starts_with('\t') || (!any_depth && line.size() > 1 && line[1] == '\t'))
        return std::nullopt;
    auto comment = line.find("/*");
    auto semicolon = line.rfind(';', comment);
    if (comment == std::string_view::npos || semicolon == std::string_view::npos)
        return std::nullopt;
    auto declaration = line.substr(0, semicolon);
    auto numbers = line.substr(comment + 2);
    if (declaration.find('(') != std::string_view::npos || numbers.find(':') != std::string_view::npos)
        return std::nullopt;
    while (declaration.ends_with(']')) // array dimensions
        declaration = declaration.substr(0, declaration.rfind('['));
    size_t start = declaration.size();
    while (start > 0 && (std::isalnum(static_cast<unsigned char>(declaration[start - 1])) || declaration[start - 1] == '_'))
        --start;
    PaholeMember member { std::string(declaration.substr(start)), 0, 0 };
    std::istringstream values { std::string(numbers) };
    if (member.name.empty() || !(values >> member.offset >> member.size))
        return std::nullopt;
    return member;
}

} // namespace

TEST_CASE("kernel: kallsyms has the symbols introspection needs", "[unit][kernel]")
{
    CHECK(profile().symbol_count() > 50000);
    CHECK(profile().type_count() > 5000);
    for (auto const* name : { "init_task", "linux_banner", "init_top_pgt", "idt_table", "entry_SYSCALL_64",
             "__per_cpu_offset", "_text", "init_stack", "runqueues" })
        CHECK(profile().symbol_address(name));
    CHECK((profile().symbol_address("pcpu_hot") || profile().symbol_address("current_task")));
    // _text is where the kernel's first loadable segment starts (the ELF says so, not kallsyms).
    Elf64_Ehdr header;
    std::memcpy(&header, kernel().vmlinux.data(), sizeof header);
    Elf64_Phdr first;
    std::memcpy(&first, kernel().vmlinux.data() + header.e_phoff, sizeof first);
    CHECK(symbol("_text") == first.p_vaddr);
}

TEST_CASE("kernel: linux_banner points at the banner of the fetched release", "[unit][kernel]")
{
    auto bytes = image_at(symbol("linux_banner"), 256);
    std::string text(reinterpret_cast<char const*>(bytes.data()), bytes.size());
    std::string expected = "Linux version " + kernel().release + " ";
    CHECK(text.substr(0, expected.size()) == expected);
    auto banner = profile().kernel_banner();
    REQUIRE(banner);
    CHECK(banner->starts_with(expected));
    CHECK(*banner == text.substr(0, text.find_first_of(std::string("\n\0", 2))));
}

TEST_CASE("kernel: init_task read through BTF offsets is the idle task", "[unit][kernel]")
{
    uint64_t init_task = symbol("init_task");
    auto comm = image_at(init_task + offset_of("task_struct", "comm"), 16);
    CHECK(std::string(reinterpret_cast<char const*>(comm.data())) == "swapper");
    CHECK(profile().field("task_struct", "pid")->size == 4);
    CHECK(image_value<int32_t>(init_task + offset_of("task_struct", "pid")) == 0);
    CHECK(image_value<int32_t>(init_task + offset_of("task_struct", "tgid")) == 0);
    // LIST_HEAD_INIT(init_task.tasks): the static list points at itself.
    uint64_t tasks = init_task + offset_of("task_struct", "tasks");
    CHECK(image_value<uint64_t>(tasks + offset_of("list_head", "next")) == tasks);
    CHECK(image_value<uint64_t>(tasks + offset_of("list_head", "prev")) == tasks);
    // .stack = init_stack, .real_parent = &init_task (init/init_task.c)
    CHECK(image_value<uint64_t>(init_task + offset_of("task_struct", "stack")) == symbol("init_stack"));
    CHECK(image_value<uint64_t>(init_task + offset_of("task_struct", "real_parent")) == init_task);
    CHECK(profile().field("task_struct", "se.sum_exec_runtime")->size == 8);
    // include/linux/pid.h: enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX }
    CHECK(profile().enum_value("pid_type", "PIDTYPE_TGID") == 1);
    CHECK(profile().enum_value("pid_type", "PIDTYPE_MAX") == 4);
    CHECK(profile().type_size("task_struct") > offset_of("task_struct", "comm"));
}

TEST_CASE("kernel: struct layouts agree with pahole", "[unit][kernel]")
{
    test::require_program("pahole");
    for (auto const* type : { "task_struct", "mm_struct", "sched_entity", "list_head", "cred", "rq", "pid" }) {
        auto run = test::run_process({ "pahole", "-C", type, kernel().directory + "/vmlinux" });
        INFO(test::describe(run));
        REQUIRE(run.exit_code == 0);
        std::istringstream lines(run.output);
        std::string line;
        size_t compared = 0;
        while (std::getline(lines, line)) {
            // mm_struct's members sit in an anonymous struct at offset 0 (pahole indents them).
            bool is_pgd = std::string_view(type) == "mm_struct" && line.find(" pgd;") != std::string::npos;
            auto member = parse_pahole_member(line, is_pgd);
            if (!member)
                continue;
            auto field = profile().field(type, member->name);
            INFO(type << ": " << line);
            REQUIRE(field);
            CHECK(field->offset == member->offset);
            CHECK(field->size == member->size);
            ++compared;
        }
        INFO(type);
        CHECK(compared >= 1);
        if (std::string_view(type) == "task_struct")
            CHECK(compared > 80);
    }
}

TEST_CASE("kernel: the ISF round trip keeps symbols and layouts", "[unit][kernel]")
{
    auto again = Profile::from_isf_json(profile().to_isf_json());
    INFO((again ? std::string() : to_string(again.error())));
    REQUIRE(again);
    CHECK(again->symbol_count() == profile().symbol_count());
    CHECK(again->type_count() == profile().type_count());
    CHECK(again->kernel_banner() == profile().kernel_banner());
    for (auto const* name : { "init_task", "linux_banner", "init_top_pgt", "idt_table", "__per_cpu_offset", "runqueues" })
        CHECK(again->symbol_address(name) == profile().symbol_address(name));
    for (auto const* path : { "pid", "tgid", "comm", "tasks", "se.sum_exec_runtime", "mm", "__state", "static_prio", "policy" }) {
        auto a = profile().field("task_struct", path);
        auto b = again->field("task_struct", path);
        INFO(path);
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->offset == b->offset);
        CHECK(a->size == b->size);
        CHECK(a->type_name == b->type_name);
    }
}

TEST_CASE("kernel: the bzImage gives the same profile as its vmlinux", "[unit][kernel]")
{
    auto bytes = read_whole_file(kernel().directory + "/vmlinuz");
    REQUIRE(bytes);
    auto from_bz = Profile::from_kernel_image(*bytes);
    INFO((from_bz ? std::string() : to_string(from_bz.error())));
    REQUIRE(from_bz);
    CHECK(from_bz->symbol_count() == profile().symbol_count());
    CHECK(from_bz->type_count() == profile().type_count());
    CHECK(from_bz->kernel_banner() == profile().kernel_banner());
    CHECK(from_bz->symbol_address("init_task") == profile().symbol_address("init_task"));
    CHECK(from_bz->field("task_struct", "comm")->offset == profile().field("task_struct", "comm")->offset);
}

TEST_CASE("kernel: truncated, garbage and BTF-less images are clear errors", "[unit][kernel]")
{
    auto const& vmlinux = kernel().vmlinux;
    auto truncated = Profile::from_kernel_image(std::span(vmlinux).first(vmlinux.size() / 2));
    REQUIRE_FALSE(truncated);
    CHECK((truncated.error().code == Errc::BadImage));

    auto bz = read_whole_file(kernel().directory + "/vmlinuz");
    REQUIRE(bz);
    auto half_bz = Profile::from_kernel_image(std::span(*bz).first(bz->size() / 2));
    REQUIRE_FALSE(half_bz);

    std::vector<std::byte> garbage(1 << 20, std::byte { 0x37 });
    auto not_kernel = Profile::from_kernel_image(garbage);
    REQUIRE_FALSE(not_kernel);
    CHECK((not_kernel.error().code == Errc::BadImage));

    auto no_btf = vmlinux; // rename the .BTF section in the section name table
    std::string_view view(reinterpret_cast<char const*>(no_btf.data()), no_btf.size());
    auto at = view.rfind(std::string_view(".BTF\0", 5));
    REQUIRE(at != std::string_view::npos);
    no_btf[at + 1] = std::byte { 'X' };
    auto without = Profile::from_kernel_image(no_btf);
    REQUIRE_FALSE(without);
    CHECK((without.error().code == Errc::NotFound));
}
