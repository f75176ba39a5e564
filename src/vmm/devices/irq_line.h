// SPDX-License-Identifier: Apache-2.0
// IrqLine: a level-triggered interrupt line as a device model sees it. The VMM backs it with
// KVM_IRQ_LINE (or an irqfd); unit tests with a flag.
#pragma once

namespace monarch::vmm {

class IrqLine {
public:
    virtual ~IrqLine() = default;
    virtual void set_level(bool asserted) = 0;
};

} // namespace monarch::vmm
