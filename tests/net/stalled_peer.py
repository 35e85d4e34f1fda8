#!/usr/bin/env python3
"""The host side of scenario.net_stack's sockets: a reader that stops.

Connects twice to 127.0.0.1:PORT (QEMU's hostfwd to net-test's port 7).
Each connection's first byte is its tag. "S" then sends 1 MiB of a
pattern (pattern()) that net-test does not read until "E" is done, and
finishes sending; "E" sends 200,000 bytes of the same pattern and reads
them back, which must happen while S waits unread, then reads to the end.
Finally S reads to its end (net-test closes it after reading it all).
Exits 0 when E came back whole and unchanged and S was all taken.
"""
import socket
import sys
import threading

TIMEOUT_S = 120
STALLED_BYTES = 1 << 20
ECHOED_BYTES = 200_000


def pattern(size):
    return bytes((i * 7 + (i >> 10)) & 0xFF for i in range(size))


def main():
    port = int(sys.argv[1])
    stalled = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    echoed = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    errors = []

    def send_stalled():
        try:
            stalled.sendall(b"S" + pattern(STALLED_BYTES))
            stalled.shutdown(socket.SHUT_WR)
        except OSError as error:
            errors.append(f"S: {error}")

    sender = threading.Thread(target=send_stalled)
    sender.start()
    data = b"E" + pattern(ECHOED_BYTES)

    def send_echoed():
        try:
            echoed.sendall(data)
            echoed.shutdown(socket.SHUT_WR)
        except OSError as error:
            errors.append(f"E: {error}")

    echo_sender = threading.Thread(target=send_echoed)
    echo_sender.start()
    back = bytearray()
    while True:
        chunk = echoed.recv(65536)
        if not chunk:
            break
        back += chunk
    echo_sender.join()
    if bytes(back) != data[1:]:
        print(f"stalled_peer: E came back as {len(back)} bytes, not the "
              f"{ECHOED_BYTES} sent", file=sys.stderr)
        return 1
    sender.join()
    while stalled.recv(65536):
        pass
    if errors:
        print(f"stalled_peer: {errors}", file=sys.stderr)
        return 1
    print("stalled_peer: E echoed whole while S waited; S taken whole")
    return 0


if __name__ == "__main__":
    sys.exit(main())
