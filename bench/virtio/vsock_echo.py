#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench/virtio/vsock_echo.py: the host side of testos's virtio-vsock-bench (and virtio-vsock):
# an echo server for stream connections from the guest.
#   --unix PATH   monarch-vmm (Firecracker's scheme): a guest connection to host port P arrives
#                 as a connection to the Unix socket PATH_P, so listen there (PATH is the
#                 --vsock socket=PATH, P the guest's testos.vsock.port=).
#   --vsock PORT  QEMU with vhost-vsock-pci: listen on AF_VSOCK, any CID, port PORT.
# Serves connections one at a time until killed; prints one line per connection with the bytes
# echoed. Exit status: 0 on SIGTERM/SIGINT, 2 usage, 1 the socket could not be set up.
import argparse
import os
import signal
import socket
import sys


def serve(listener):
    while True:
        connection, _ = listener.accept()
        total = 0
        with connection:
            while True:
                data = connection.recv(65536)
                if not data:
                    break
                connection.sendall(data)
                total += len(data)
        print(f"vsock_echo: connection closed after {total} bytes", flush=True)


def main():
    parser = argparse.ArgumentParser(description="echo server for testos's vsock workloads")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix", metavar="PATH", help="listen on this Unix socket path (PATH_P for monarch-vmm)")
    where.add_argument("--vsock", metavar="PORT", type=int, help="listen on AF_VSOCK port PORT")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if arguments.unix:
            if os.path.exists(arguments.unix):
                os.unlink(arguments.unix)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(arguments.unix)
        else:
            listener = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            listener.bind((socket.VMADDR_CID_ANY, arguments.vsock))
        listener.listen(1)
    except OSError as error:
        print(f"vsock_echo: {error}", file=sys.stderr)
        return 1
    print("vsock_echo: listening", flush=True)
    try:
        serve(listener)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
