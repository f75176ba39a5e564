// SPDX-License-Identifier: Apache-2.0
// Everything of monarch::vmm::arch in one include, for the VMM's vCPU set-up.
#pragma once

#include "vmm/arch/boot_state.h"
#include "vmm/arch/boot_tables.h"
#include "vmm/arch/cpuid.h"
#include "vmm/arch/msrs.h"
#include "vmm/arch/topology.h"
