// SPDX-License-Identifier: Apache-2.0
// Placeholder for the ISF reader/writer and the kernel-image reader (replaced next).
#include "dkom/profile/profile_data.h"

namespace monarch::dkom {

Result<Profile> Profile::from_isf_json(std::string_view) { return fail(Errc::Unsupported, "ISF: not implemented yet"); }
Result<Profile> Profile::from_isf_file(std::string const&) { return fail(Errc::Unsupported, "ISF: not implemented yet"); }
Result<Profile> Profile::from_kernel_image(std::span<std::byte const>) { return fail(Errc::Unsupported, "kernel image: not implemented yet"); }
std::string Profile::to_isf_json() const { return "{}"; }

} // namespace monarch::dkom
