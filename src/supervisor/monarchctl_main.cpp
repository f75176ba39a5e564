// SPDX-License-Identifier: Apache-2.0
// monarchctl: the command-line client of monarchd (docs/monarchctl.md).
#include "supervisor/ctl_commands.h"

int main(int argc, char** argv)
{
    return monarch::supervisor::ctl::run_monarchctl(argc, argv);
}
