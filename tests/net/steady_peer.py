#!/usr/bin/env python3
"""The host side of scenario.net_restart: a connection that must live
through the guest's NIC driver crashing.

Connects to 127.0.0.1:PORT (QEMU's hostfwd to net-restart-test's port 7)
twice. On the first connection it sends PARKED bytes at once, which the
guest reads only after the crashes (so the guest's stack holds them through
each), then nothing until the end. On the second it sends COUNT messages of
SIZE bytes one at a time, each read back whole before the next (the bytes
are a pattern of their offset in the stream), then finishes sending and
reads to the end; then it finishes sending on the first and reads it to
the end. Exits 0 when every message came back unchanged and the guest
closed both.
"""
import socket
import sys

TIMEOUT_S = 60
PARKED_START = 1 << 20  # the first connection's pattern starts here


def pattern(start, size):
    return bytes(((at * 13) + (at >> 9)) & 0xFF for at in range(start, start + size))


def main():
    port, count, size, parked = (int(arg) for arg in sys.argv[1:5])
    first = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    first.settimeout(TIMEOUT_S)
    first.sendall(pattern(PARKED_START, parked))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
        s.settimeout(TIMEOUT_S)
        for index in range(count):
            message = pattern(index * size, size)
            s.sendall(message)
            back = b""
            while len(back) < size:
                chunk = s.recv(size - len(back))
                if not chunk:
                    print(f"steady_peer: the connection ended at message {index}",
                          file=sys.stderr)
                    return 1
                back += chunk
            if back != message:
                print(f"steady_peer: message {index} came back changed", file=sys.stderr)
                return 1
        s.shutdown(socket.SHUT_WR)
        if s.recv(1):
            print("steady_peer: bytes after the last message", file=sys.stderr)
            return 1
    with first:
        first.shutdown(socket.SHUT_WR)
        if first.recv(1):
            print("steady_peer: bytes on the first connection", file=sys.stderr)
            return 1
    print(f"steady_peer: {count} messages of {size} bytes echoed, {parked} bytes parked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
