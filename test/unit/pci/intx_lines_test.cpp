// SPDX-License-Identifier: Apache-2.0
// IntxLines: sources that share a GSI are OR-ed; each GSI line sees only real transitions.
#include "vmm/devices/pci/intx_lines.h"

#include <catch2/catch.hpp>
#include <map>
#include <vector>

using namespace monarch::vmm;
using namespace monarch::vmm::pci;

namespace {

class RecordingLine final : public IrqLine {
public:
    void set_level(bool asserted) override { history.push_back(asserted); }
    std::vector<bool> history;
};

struct Fixture {
    std::map<uint32_t, RecordingLine> lines;
    std::vector<uint32_t> asked;
    IntxLines intx { [this](uint32_t gsi) -> IrqLine& {
        asked.push_back(gsi);
        return lines[gsi];
    } };
};

} // namespace

TEST_CASE("intx: each of the 8 GSIs is asked for once", "[unit][pci]")
{
    Fixture f;
    CHECK(f.asked == std::vector<uint32_t> { 16, 17, 18, 19, 20, 21, 22, 23 });
}

TEST_CASE("intx: a pin drives the GSI of the swizzle", "[unit][pci]")
{
    Fixture f;
    f.intx.line(3, 0).set_level(true); // slot 3 INTA -> GSI 19
    f.intx.line(3, 2).set_level(true); // slot 3 INTC -> GSI 21
    CHECK(f.lines[19].history == std::vector<bool> { true });
    CHECK(f.lines[21].history == std::vector<bool> { true });
    CHECK(f.lines[16].history.empty());
}

TEST_CASE("intx: devices sharing a GSI keep it asserted until the last one lowers", "[unit][pci]")
{
    Fixture f;
    auto& first = f.intx.line(1, 0);  // GSI 17
    auto& second = f.intx.line(9, 0); // GSI 17 too (9 mod 8 == 1)
    auto& third = f.intx.line(8, 1);  // GSI 17 as well: slot 8, INTB
    first.set_level(true);
    second.set_level(true);
    first.set_level(true); // repeated: no double count
    third.set_level(true);
    first.set_level(false);
    second.set_level(false);
    CHECK(f.lines[17].history == std::vector<bool> { true });
    third.set_level(false);
    third.set_level(false);
    CHECK(f.lines[17].history == std::vector<bool> { true, false });
    second.set_level(true);
    CHECK(f.lines[17].history == std::vector<bool> { true, false, true });
}
