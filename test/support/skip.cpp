// SPDX-License-Identifier: Apache-2.0
#include "support/skip.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::test {

namespace {

bool module_loaded(char const* name)
{
    struct stat st {};
    return ::stat((std::string("/sys/module/") + name).c_str(), &st) == 0;
}

} // namespace

std::string kvm_unavailable_reason()
{
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return {};
    }
    int error = errno;
    std::string reason = std::string("/dev/kvm cannot be opened (") + std::strerror(error) + ")";
    if (error == ENOENT && module_loaded("kvm_pvm"))
        reason += ": kvm_pvm is loaded but did not bind, as happens when this host is itself a PVM guest";
    else if (error == ENOENT)
        reason += ": no KVM module is loaded on this host";
    return reason;
}

std::string hardware_kvm_unavailable_reason()
{
    if (auto reason = kvm_unavailable_reason(); !reason.empty())
        return reason;
    if (module_loaded("kvm_intel") || module_loaded("kvm_amd"))
        return {};
    return "/dev/kvm is not hardware virtualization (neither kvm_intel nor kvm_amd is loaded): "
           "stock kernels run their ring-0 code emulated here";
}

std::string program_unavailable_reason(char const* program)
{
    char const* path = std::getenv("PATH");
    std::istringstream directories(path ? path : "/usr/bin:/bin");
    std::string directory;
    while (std::getline(directories, directory, ':')) {
        if (::access((directory + "/" + program).c_str(), X_OK) == 0)
            return {};
    }
    return std::string(program) + " is not installed (run scripts/setup-deps)";
}

} // namespace monarch::test
