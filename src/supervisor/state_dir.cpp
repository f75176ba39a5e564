// SPDX-License-Identifier: Apache-2.0
// The state directory on disk: creation, the atomic replacement of a file, listing and
// removal of VM directories.
#include "supervisor/state_dir.h"

#include "common/read_file.h"
#include "common/unique_fd.h"
#include "supervisor/vm_definition.h"

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::supervisor {

std::string default_state_dir()
{
    if (::geteuid() == 0)
        return "/var/lib/monarch";
    if (char const* xdg = std::getenv("XDG_STATE_HOME"); xdg && xdg[0] == '/')
        return std::string(xdg) + "/monarch";
    char const* home = std::getenv("HOME");
    if (!home || home[0] != '/') {
        passwd const* entry = ::getpwuid(::geteuid());
        home = entry ? entry->pw_dir : "/tmp";
    }
    return std::string(home) + "/.local/state/monarch";
}

namespace {

Result<void> make_dirs(std::string const& path, mode_t mode)
{
    // Each prefix in turn, as mkdir -p does; an existing directory is fine.
    for (size_t slash = path.find('/', 1); ; slash = path.find('/', slash + 1)) {
        std::string const prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
            return fail_errno("state directory: mkdir");
        if (slash == std::string::npos)
            break;
    }
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return fail_errno("state directory: stat");
    if (!S_ISDIR(info.st_mode))
        return fail(Errc::InvalidArgument, "state directory: not a directory");
    return {};
}

Result<void> fsync_dir(std::string const& dir)
{
    UniqueFd fd { ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
    if (!fd)
        return fail_errno("state directory: open directory for fsync");
    if (::fsync(fd.get()) != 0)
        return fail_errno("state directory: fsync directory");
    return {};
}

} // namespace

Result<void> write_file_atomically(std::string const& path, std::string_view contents)
{
    std::string const temporary = path + ".tmp";
    UniqueFd fd { ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) };
    if (!fd)
        return fail_errno("state file: create temporary file");
    for (size_t done = 0; done < contents.size();) {
        ssize_t const n = ::write(fd.get(), contents.data() + done, contents.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ::unlink(temporary.c_str());
            return fail_errno("state file: write");
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
        ::unlink(temporary.c_str());
        return fail_errno("state file: fsync");
    }
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        ::unlink(temporary.c_str());
        return fail_errno("state file: rename");
    }
    auto const slash = path.rfind('/');
    return fsync_dir(slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash));
}

Result<std::string> read_text_file(std::string const& path, uint64_t limit)
{
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return fail_errno("open");
    auto bytes = TRY(read_to_end(fd.get(), 0, limit));
    // SAFETY: std::byte and char have the same size and alignment; the text is copied out.
    return std::string(reinterpret_cast<char const*>(bytes.data()), bytes.size());
}

Result<StateDir> StateDir::open(std::string root)
{
    while (root.size() > 1 && root.back() == '/')
        root.pop_back();
    if (root.empty() || root[0] != '/')
        return fail(Errc::InvalidArgument, "state directory: the path must be absolute");
    TRY_VOID(make_dirs(root + "/vms", 0750));
    return StateDir(std::move(root));
}

std::string StateDir::vm_dir(std::string_view name) const
{
    return m_root + "/vms/" + std::string(name);
}

Result<std::vector<std::string>> StateDir::list_vms() const
{
    std::string const vms = m_root + "/vms";
    DIR* dir = ::opendir(vms.c_str());
    if (!dir)
        return fail_errno("state directory: opendir vms");
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        std::string_view const name = entry->d_name;
        if (is_valid_vm_name(name))
            names.emplace_back(name);
    }
    ::closedir(dir);
    return names;
}

Result<void> StateDir::create_vm_dir(std::string_view name) const
{
    if (::mkdir(vm_dir(name).c_str(), 0750) != 0)
        return fail_errno("state directory: mkdir VM directory");
    return fsync_dir(m_root + "/vms");
}

Result<void> StateDir::remove_vm_dir(std::string_view name) const
{
    std::string const dir_path = vm_dir(name);
    DIR* dir = ::opendir(dir_path.c_str());
    if (!dir)
        return fail_errno("state directory: opendir VM directory");
    while (dirent* entry = ::readdir(dir)) {
        std::string_view const file = entry->d_name;
        if (file == "." || file == "..")
            continue;
        ::unlink((dir_path + "/" + std::string(file)).c_str());
    }
    ::closedir(dir);
    if (::rmdir(dir_path.c_str()) != 0)
        return fail_errno("state directory: rmdir VM directory");
    return fsync_dir(m_root + "/vms");
}

} // namespace monarch::supervisor
