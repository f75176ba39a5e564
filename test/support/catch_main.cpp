// SPDX-License-Identifier: Apache-2.0
// Catch2's main, in one object of its own so that no other test file pays for compiling it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
