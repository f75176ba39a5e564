// SPDX-License-Identifier: Apache-2.0
// DirtyBitmap: page marks in atomic u64 words.
#include "vmm/memory/dirty_bitmap.h"

#include <algorithm>
#include <bit>

namespace monarch::vmm {

DirtyBitmap::DirtyBitmap(uint64_t pages)
    : m_words(std::make_unique<std::atomic<uint64_t>[]>((pages + 63) / 64))
    , m_pages(pages)
{
    clear();
}

void DirtyBitmap::mark_bytes(uint64_t offset, uint64_t length)
{
    if (length == 0 || offset >= m_pages * DIRTY_PAGE_SIZE)
        return;
    uint64_t const last = std::min(offset + (length - 1), m_pages * DIRTY_PAGE_SIZE - 1);
    uint64_t const first_page = offset / DIRTY_PAGE_SIZE;
    mark_pages(first_page, last / DIRTY_PAGE_SIZE - first_page + 1);
}

void DirtyBitmap::mark_pages(uint64_t first, uint64_t count)
{
    if (first >= m_pages)
        return;
    uint64_t const end = first + std::min(count, m_pages - first);
    for (uint64_t page = first; page < end;) {
        uint64_t const bit = page % 64;
        uint64_t const span = std::min<uint64_t>(64 - bit, end - page);
        uint64_t const mask = (span == 64 ? ~uint64_t { 0 } : ((uint64_t { 1 } << span) - 1)) << bit;
        m_words[page / 64].fetch_or(mask, std::memory_order_relaxed);
        page += span;
    }
}

Result<void> DirtyBitmap::merge_words(std::span<uint64_t const> log)
{
    if (log.size() != words())
        return fail(Errc::InvalidArgument, "dirty log: not the size of the memory slot");
    if (m_pages % 64 != 0 && !log.empty() && (log.back() >> (m_pages % 64)) != 0)
        return fail(Errc::InvalidArgument, "dirty log: a page past the end of the slot is dirty");
    for (size_t i = 0; i < log.size(); ++i)
        if (log[i] != 0)
            m_words[i].fetch_or(log[i], std::memory_order_relaxed);
    return {};
}

bool DirtyBitmap::test(uint64_t page) const
{
    return page < m_pages && ((m_words[page / 64].load(std::memory_order_relaxed) >> (page % 64)) & 1) != 0;
}

uint64_t DirtyBitmap::count() const
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < words(); ++i)
        total += static_cast<uint64_t>(std::popcount(m_words[i].load(std::memory_order_relaxed)));
    return total;
}

namespace {

template<typename Load>
std::vector<DirtyRun> collect_runs(uint64_t words, Load load)
{
    std::vector<DirtyRun> out;
    for (uint64_t i = 0; i < words; ++i) {
        uint64_t word = load(i);
        while (word != 0) {
            uint64_t const bit = static_cast<uint64_t>(std::countr_zero(word));
            uint64_t const page = i * 64 + bit;
            if (!out.empty() && out.back().first + out.back().count == page)
                ++out.back().count;
            else
                out.push_back(DirtyRun { page, 1 });
            word &= word - 1;
        }
    }
    return out;
}

} // namespace

std::vector<DirtyRun> DirtyBitmap::runs() const
{
    return collect_runs(words(), [this](uint64_t i) { return m_words[i].load(std::memory_order_relaxed); });
}

std::vector<DirtyRun> DirtyBitmap::take_runs()
{
    return collect_runs(words(), [this](uint64_t i) { return m_words[i].exchange(0, std::memory_order_relaxed); });
}

void DirtyBitmap::clear()
{
    for (uint64_t i = 0; i < words(); ++i)
        m_words[i].store(0, std::memory_order_relaxed);
}

} // namespace monarch::vmm
