// SPDX-License-Identifier: Apache-2.0
// monarch-vmm: one KVM virtual machine per process (docs/monarch-vmm.md).
#include "vmm/cli/main_logic.h"

int main(int argc, char** argv)
{
    return monarch::vmm::cli::run_monarch_vmm(argc, argv);
}
