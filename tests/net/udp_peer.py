#!/usr/bin/env python3
"""UDP on the host side of scenario.net_udp, both ways.

echo NAME COUNT: on the UDP socket the scenario runner hands it
($CAPOS_UDP_<NAME>), sends each of COUNT datagrams back to where it came
from, then exits 0.

send PORT COUNT: sends COUNT datagrams (64 to 1,064 bytes, each with its
sequence number) to 127.0.0.1:PORT (QEMU's hostfwd to a UDP echo server in
the guest) one at a time, and waits for each to come back unchanged
(nothing is lost on QEMU's user network: a datagram that does not come
back within 60 s is an error). Exits 0 when every one came back, 1
otherwise.
"""
import os
import socket
import sys

TIMEOUT_S = 60


def datagram(sequence):
    length = 64 + (sequence * 37) % 1001
    return sequence.to_bytes(4, "little") + bytes(
        (sequence * 7 + i) & 0xFF for i in range(4, length))


def echo(name, count):
    variable = "CAPOS_UDP_" + name.upper().replace("-", "_")
    s = socket.socket(fileno=int(os.environ[variable]))
    s.settimeout(TIMEOUT_S)
    for _ in range(count):
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)
    print(f"udp_peer: {count} datagrams echoed")
    return 0


def send(port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT_S)
    for sequence in range(1, count + 1):
        data = datagram(sequence)
        s.sendto(data, ("127.0.0.1", port))
        try:
            back, _ = s.recvfrom(65536)
        except socket.timeout:
            print(f"udp_peer: datagram {sequence} never came back", file=sys.stderr)
            return 1
        if back != data:
            print(f"udp_peer: datagram {sequence} came back changed", file=sys.stderr)
            return 1
    print(f"udp_peer: {count} datagrams sent and back")
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("echo", "send"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "echo":
        return echo(sys.argv[2], int(sys.argv[3]))
    return send(int(sys.argv[2]), int(sys.argv[3]))


if __name__ == "__main__":
    sys.exit(main())
