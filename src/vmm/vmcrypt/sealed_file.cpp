// SPDX-License-Identifier: Apache-2.0
// file:// URLs and exclusive, owner-only output files.
#include "vmm/vmcrypt/sealed_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::vmm::vmcrypt {

Result<std::string> path_from_file_url(std::string_view url)
{
    constexpr std::string_view scheme = "file://";
    if (!url.starts_with(scheme))
        return fail(Errc::InvalidArgument, "URL: only file:///PATH is supported");
    std::string_view path = url.substr(scheme.size());
    // RFC 8089: file://host/path; only the empty host (the local machine) is accepted.
    if (!path.starts_with('/') || path.size() < 2)
        return fail(Errc::InvalidArgument, "URL: file:// needs an absolute path (file:///PATH)");
    if (path.find_first_of("?#") != std::string_view::npos || path.find('\0') != std::string_view::npos)
        return fail(Errc::InvalidArgument, "URL: a query, fragment or NUL is not allowed in a file URL");
    return std::string(path);
}

Result<NewSealedFile> NewSealedFile::create(std::string path)
{
    // SAFETY: open(2) with a NUL-terminated path; the descriptor is owned at once.
    UniqueFd fd { ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) };
    if (!fd)
        return fail_errno("create sealed file");
    NewSealedFile file(std::move(path), std::move(fd));
    // The umask may only clear bits, but be explicit: owner read/write, nothing else.
    if (::fchmod(file.fd(), 0600) != 0)
        return fail_errno("chmod sealed file");
    return file;
}

NewSealedFile::~NewSealedFile()
{
    if (m_fd && !m_keep)
        (void)::unlink(m_path.c_str());
}

Result<void> NewSealedFile::commit()
{
    if (::fsync(m_fd.get()) != 0)
        return fail_errno("fsync sealed file");
    m_keep = true;
    return {};
}

} // namespace monarch::vmm::vmcrypt
