// SPDX-License-Identifier: Apache-2.0
// Files that hold sealed streams: Cloud Hypervisor's file:// URLs, and a file created for
// writing that never replaces anything (O_EXCL, mode 0600) and is removed again unless committed.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <string>
#include <string_view>

namespace monarch::vmm::vmcrypt {

// "file:///abs/path" -> "/abs/path" (CH's destination_url / source_url). Only absolute
// file URLs without host or query: InvalidArgument otherwise.
[[nodiscard]] Result<std::string> path_from_file_url(std::string_view url);

class NewSealedFile {
public:
    // O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 whatever the umask: Errc::Sys (EEXIST) if it exists.
    [[nodiscard]] static Result<NewSealedFile> create(std::string path);
    NewSealedFile(NewSealedFile&&) = default;
    NewSealedFile& operator=(NewSealedFile&&) = default;
    ~NewSealedFile(); // removes the file unless commit() succeeded

    [[nodiscard]] int fd() const { return m_fd.get(); }
    // fsync and keep the file.
    [[nodiscard]] Result<void> commit();

private:
    NewSealedFile(std::string path, UniqueFd fd) : m_path(std::move(path)), m_fd(std::move(fd)) {}
    std::string m_path;
    UniqueFd m_fd;
    bool m_keep { false };
};

} // namespace monarch::vmm::vmcrypt
