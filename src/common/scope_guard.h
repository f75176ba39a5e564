// SPDX-License-Identifier: Apache-2.0
// ScopeGuard: runs a rollback on scope exit unless dismissed (multi-step set-up).
#pragma once

#include <utility>

namespace monarch {

template<typename Callback>
class ScopeGuard {
public:
    explicit ScopeGuard(Callback callback) : m_callback(std::move(callback)) {}
    ScopeGuard(ScopeGuard const&) = delete;
    ScopeGuard& operator=(ScopeGuard const&) = delete;
    ~ScopeGuard()
    {
        if (m_armed)
            m_callback();
    }
    void dismiss() { m_armed = false; }

private:
    Callback m_callback;
    bool m_armed { true };
};

} // namespace monarch
