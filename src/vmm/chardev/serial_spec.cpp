// SPDX-License-Identifier: Apache-2.0
// parse_serial_spec: the --serial argument's grammar.
#include "vmm/chardev/char_backend.h"

#include <sys/un.h>

namespace monarch::vmm {

namespace {
constexpr std::string_view ACCEPTED = "serial: expected stdio, file:PATH, pty, socket:PATH or off";

Result<std::string> parse_path(std::string_view path)
{
    if (path.empty())
        return fail(Errc::InvalidArgument, "serial: file: and socket: need a PATH");
    if (path.find('\0') != std::string_view::npos)
        return fail(Errc::InvalidArgument, "serial: PATH contains a NUL byte");
    return std::string(path);
}
} // namespace

Result<SerialSpec> parse_serial_spec(std::string_view text)
{
    using Kind = SerialSpec::Kind;
    if (text == "stdio")
        return SerialSpec { Kind::Stdio, {} };
    if (text == "pty")
        return SerialSpec { Kind::Pty, {} };
    if (text == "off")
        return SerialSpec { Kind::Off, {} };
    if (text.starts_with("file:"))
        return SerialSpec { Kind::File, TRY(parse_path(text.substr(5))) };
    if (text.starts_with("socket:")) {
        auto path = TRY(parse_path(text.substr(7)));
        // sun_path holds the path and its terminating NUL.
        if (path.size() >= sizeof(sockaddr_un::sun_path))
            return fail(Errc::InvalidArgument, "serial: socket PATH longer than 107 bytes");
        return SerialSpec { Kind::Socket, std::move(path) };
    }
    return fail(Errc::InvalidArgument, ACCEPTED);
}

std::string to_string(SerialSpec const& spec)
{
    switch (spec.kind) {
    case SerialSpec::Kind::Stdio: return "stdio";
    case SerialSpec::Kind::File: return "file:" + spec.path;
    case SerialSpec::Kind::Pty: return "pty";
    case SerialSpec::Kind::Socket: return "socket:" + spec.path;
    case SerialSpec::Kind::Off: return "off";
    }
    return "off";
}

} // namespace monarch::vmm
