#!/usr/bin/env python3
"""A hostile network, the host side of scenario.net_hostile.

QEMU's `-netdev socket,connect=` carries the guest's Ethernet frames to the
listening socket the runner hands this script ($CAPOS_TCP_<NAME>), each
after its length in 4 bytes, big-endian: this script is the whole network
the guest's NIC sees. It plays a DHCP server, and before its one good
offer sends malformed ones; once the guest holds its address it sends an
ARP storm (then one echo request, which must be answered), an ICMP echo
flood and TCP SYNs with malformed options to port 7, then one good SYN,
which must be answered with a SYN-ACK; then it tells
the guest it is done (a UDP datagram "done" to port 9) and answers the
guest's echo request. Every frame is built here, checksums included.

Exits 0 when the guest was bound by the good offer, answered echo requests
of the flood, answered the good SYN, and pinged back after it all; 1
otherwise (each failure said on standard error).

With --renew (scenario.net_dhcp_renew) it sends nothing hostile: its one
offer leases the address for 300 s with a renewal time (T1) of 30 s, and
it waits for the guest to renew
the lease (a REQUEST from 10.0.3.15, within 150 s: lwIP looks at its
leases once a minute), acknowledges it, then says "done" and answers the
guest's echo as above.
"""
import os
import random
import socket
import struct
import sys
import threading
import time

TIMEOUT_S = 90
GUEST_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("525400aabbcc")
BROADCAST = b"\xff" * 6
PEER_IP = bytes([10, 0, 3, 2])
GUEST_IP = bytes([10, 0, 3, 15])
MASK = bytes([255, 255, 255, 0])
ETH_IP, ETH_ARP = 0x0800, 0x0806
DHCP_MAGIC = b"\x63\x82\x53\x63"
STORM_ARPS = 3000
FLOOD_ECHOES = 2000
BAD_SYNS = 300
# The lease of --renew, and its renewal time: lwIP counts leases in ticks of
# a minute, and a lease of one tick would end (a new DISCOVER) before it is
# renewed; T1 of 30 s is one tick, the lease five.
RENEW_LEASE = 300
RENEW_T1 = 30


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ethernet(destination, kind, payload):
    return destination + PEER_MAC + struct.pack("!H", kind) + payload


def ipv4(source, destination, protocol, payload, ident=0):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64,
                         protocol, 0, source, destination)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(source, destination, source_port, destination_port, payload):
    length = 8 + len(payload)
    pseudo = source + destination + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", source_port, destination_port, length, 0)
    total = checksum(pseudo + header + payload) or 0xFFFF
    return struct.pack("!HHHH", source_port, destination_port, length, total) + payload


def tcp(source, destination, source_port, destination_port, sequence, flags, options=b"",
        ack=0, offset_words=None):
    words = offset_words if offset_words is not None else 5 + (len(options) + 3) // 4
    options = options + b"\0" * ((-len(options)) % 4)
    header = struct.pack("!HHIIBBHHH", source_port, destination_port, sequence, ack,
                         (words & 0xF) << 4, flags, 8192, 0, 0) + options
    pseudo = source + destination + struct.pack("!BBH", 0, 6, len(header))
    total = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", total) + header[18:]


def arp(operation, sender_mac, sender_ip, target_mac, target_ip, hlen=6):
    return struct.pack("!HHBBH", 1, 0x0800, hlen, 4, operation) + sender_mac + sender_ip + \
        target_mac + target_ip


class Wire:
    """The QEMU socket: frames out, and a reader that answers ARP for the
    peer and keeps what it is asked to watch for."""

    def __init__(self, connection):
        self.connection = connection
        self.lock = threading.Lock()
        self.frames = []
        self.condition = threading.Condition()
        self.closed = False
        threading.Thread(target=self.read, daemon=True).start()

    def send(self, frame):
        with self.lock:
            self.connection.sendall(struct.pack("!I", len(frame)) + frame)

    def read_exact(self, size):
        data = b""
        while len(data) < size:
            chunk = self.connection.recv(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def read(self):
        try:
            while True:
                (length,) = struct.unpack("!I", self.read_exact(4))
                frame = self.read_exact(length)
                self.answer_arp(frame)
                with self.condition:
                    self.frames.append(frame)
                    self.condition.notify_all()
        except (EOFError, OSError):
            with self.condition:
                self.closed = True
                self.condition.notify_all()

    def answer_arp(self, frame):
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            return
        operation = struct.unpack("!H", frame[20:22])[0]
        if operation == 1 and frame[38:42] == PEER_IP:
            self.send(ethernet(frame[6:12], ETH_ARP,
                               arp(2, PEER_MAC, PEER_IP, frame[22:28], frame[28:32])))

    def wait_for(self, test, what, timeout=TIMEOUT_S):
        """The first frame received (from the start) that `test` takes."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.condition:
            while True:
                for frame in self.frames[seen:]:
                    if test(frame):
                        return frame
                seen = len(self.frames)
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"no {what}")
                self.condition.wait(left)

    def count(self, test):
        with self.condition:
            return sum(1 for frame in self.frames if test(frame))


def dhcp_of(frame):
    """(message type, xid, the whole BOOTP payload) of a DHCP frame from the guest."""
    if len(frame) < 282 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    header = (frame[14] & 0xF) * 4
    bootp = frame[14 + header + 8:]
    if struct.unpack("!H", frame[14 + header + 2:14 + header + 4])[0] != 67:
        return None
    if len(bootp) < 240 or bootp[236:240] != DHCP_MAGIC:
        return None
    at, kind = 240, None
    while at + 1 < len(bootp) and bootp[at] != 255:
        if bootp[at] == 0:
            at += 1
            continue
        if bootp[at] == 53:
            kind = bootp[at + 2]
        at += 2 + bootp[at + 1]
    return kind, bootp[4:8]


def bootp_reply(xid, options, yiaddr=GUEST_IP, magic=DHCP_MAGIC):
    return struct.pack("!BBBB", 2, 1, 6, 0) + xid + b"\0" * 8 + yiaddr + PEER_IP + \
        b"\0" * 4 + GUEST_MAC + b"\0" * 10 + b"\0" * 192 + magic + options


def dhcp_frame(payload):
    return ethernet(BROADCAST, ETH_IP,
                    ipv4(PEER_IP, b"\xff" * 4, 17, udp(PEER_IP, b"\xff" * 4, 67, 68, payload)))


def good_options(kind, lease=3600, renew=None):
    """A good offer's or acknowledgement's options; with `renew`, a renewal
    time (T1) of that many seconds and a rebinding time (T2) past it."""
    times = b"" if renew is None else bytes([58, 4]) + struct.pack("!I", renew) + \
        bytes([59, 4]) + struct.pack("!I", lease * 2 // 3)
    return bytes([53, 1, kind, 54, 4]) + PEER_IP + bytes([51, 4]) + struct.pack("!I", lease) + \
        times + bytes([1, 4]) + MASK + bytes([3, 4]) + PEER_IP + bytes([6, 4]) + PEER_IP + b"\xff"


def serve_dhcp(wire, lease=3600, renew=None, hostile=True):
    discover = wire.wait_for(lambda f: (d := dhcp_of(f)) is not None and d[0] == 1,
                             "DHCP discover")
    xid = dhcp_of(discover)[1]
    bad = [
        bootp_reply(xid, good_options(2))[:100],                       # cut short
        bootp_reply(xid, good_options(2), magic=b"\x01\x02\x03\x04"),  # no magic cookie
        bootp_reply(xid, bytes([53, 200, 2]) + b"\xff"),               # an option past the end
        bootp_reply(xid, bytes([53, 1, 2, 54, 3]) + PEER_IP + b"\xff"),  # a bad server id
        bootp_reply(xid, bytes([53, 1, 2, 1, 0, 3, 0]) + b"\xff"),     # empty mask and router
        bootp_reply(xid, bytes([53, 1, 2]) + b"\0" * 40),              # no end, no server id
        bootp_reply(xid, good_options(2), yiaddr=b"\0" * 4),           # no address offered
    ]
    for _ in range(5 if hostile else 0):
        for payload in bad:
            wire.send(dhcp_frame(payload))
    wire.send(dhcp_frame(bootp_reply(xid, good_options(2, lease, renew))))
    request = wire.wait_for(lambda f: (d := dhcp_of(f)) is not None and d[0] == 3,
                            "DHCP request")
    wire.send(dhcp_frame(bootp_reply(dhcp_of(request)[1], good_options(5, lease, renew))))


def renewal(frame):
    """A DHCP REQUEST from the bound address (RFC 2131 4.3.2: ciaddr set)."""
    return (d := dhcp_of(frame)) is not None and d[0] == 3 and from_guest_ip(frame)


def serve_renewal(wire):
    request = wire.wait_for(renewal, "renewal of the lease", timeout=150)
    reply = ethernet(GUEST_MAC, ETH_IP,
                     ipv4(PEER_IP, GUEST_IP, 17,
                          udp(PEER_IP, GUEST_IP, 67, 68,
                              bootp_reply(dhcp_of(request)[1],
                                          good_options(5, RENEW_LEASE, RENEW_T1)))))
    wire.send(reply)


def from_guest_ip(frame):
    return len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[26:30] == GUEST_IP


def arp_storm(wire):
    rng = random.Random(5)
    for i in range(STORM_ARPS):
        mac = bytes([2]) + rng.randbytes(5)
        ip = bytes([10, 0, 3, rng.randrange(20, 250)])
        kind = i % 4
        if kind == 0:    # requests for the guest from many "hosts"
            body = arp(1, mac, ip, b"\0" * 6, GUEST_IP)
        elif kind == 1:  # replies nobody asked for
            body = arp(2, mac, ip, GUEST_MAC, GUEST_IP)
        elif kind == 2:  # gratuitous announcements
            body = arp(1, mac, ip, b"\0" * 6, ip)
        else:            # malformed: a hardware length of 9, or cut short
            body = arp(1, mac, ip, b"\0" * 6, GUEST_IP, hlen=9) if i % 8 == 3 else \
                arp(1, mac, ip, b"\0" * 6, GUEST_IP)[:20]
        wire.send(ethernet(BROADCAST if kind != 1 else GUEST_MAC, ETH_ARP, body))


def icmp_echo(ident, sequence, payload):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, sequence) + payload
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def is_echo_reply(frame, ident):
    return from_guest_ip(frame) and frame[23] == 1 and len(frame) >= 42 and \
        frame[34] == 0 and struct.unpack("!H", frame[38:40])[0] == ident


def icmp_flood(wire):
    for sequence in range(FLOOD_ECHOES):
        wire.send(ethernet(GUEST_MAC, ETH_IP,
                           ipv4(PEER_IP, GUEST_IP, 1,
                                icmp_echo(0x7777, sequence, b"flood" * 10), sequence)))
    # A few that are not echoes at all: bad checksums, cut short, unknown types.
    for sequence in range(100):
        body = icmp_echo(0x7778, sequence, b"x" * 20)
        body = body[:2] + b"\0\0" + body[4:] if sequence % 3 == 0 else \
            body[:3] if sequence % 3 == 1 else bytes([42]) + body[1:]
        wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 1, body, sequence)))


def bad_syns(wire):
    rng = random.Random(9)
    shapes = [
        lambda: bytes([2, 0]),                    # MSS of length 0
        lambda: bytes([2, 3, 5]),                 # MSS of length 3
        lambda: bytes([3, 30, 1]),                # window scale running past the header
        lambda: bytes([8, 1]),                    # timestamp of length 1
        lambda: bytes([rng.randrange(256) for _ in range(rng.randrange(1, 40))]),
    ]
    for i in range(BAD_SYNS):
        options = shapes[i % len(shapes)]()
        offset = None if i % 7 else 15            # a data offset past the segment
        sequence = rng.getrandbits(32)
        segment = tcp(PEER_IP, GUEST_IP, 20000 + i, 7, sequence, 0x02, options,
                      offset_words=offset)
        wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 6, segment, i)))
        # Each half-open connection a SYN made is reset at once: a flood of
        # SYNs is not what is tested here (lwIP keeps no SYN cookies).
        reset = tcp(PEER_IP, GUEST_IP, 20000 + i, 7, (sequence + 1) & 0xFFFFFFFF, 0x04)
        wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 6, reset, i)))


def good_syn(wire):
    sequence = 123456
    segment = tcp(PEER_IP, GUEST_IP, 40000, 7, sequence, 0x02, bytes([2, 4, 0x05, 0xb4]))
    wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 6, segment, 1)))

    def syn_ack(frame):
        return from_guest_ip(frame) and frame[23] == 6 and \
            struct.unpack("!HH", frame[34:38]) == (7, 40000) and frame[47] & 0x12 == 0x12 and \
            struct.unpack("!I", frame[42:46])[0] == sequence + 1
    reply = wire.wait_for(syn_ack, "SYN-ACK to the good SYN")
    their = struct.unpack("!I", reply[38:42])[0]
    reset = tcp(PEER_IP, GUEST_IP, 40000, 7, sequence + 1, 0x04, ack=their + 1)
    wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 6, reset, 2)))


def main():
    variable = "CAPOS_TCP_" + sys.argv[1].upper().replace("-", "_")
    listener = socket.socket(fileno=int(os.environ[variable]))
    listener.settimeout(TIMEOUT_S)
    connection, _ = listener.accept()
    wire = Wire(connection)
    renew = "--renew" in sys.argv[2:]
    try:
        if renew:
            serve_dhcp(wire, lease=RENEW_LEASE, renew=RENEW_T1, hostile=False)
            serve_renewal(wire)
            done_and_echo(wire)
            print("wire_peer: the lease was renewed")
            return close_when_done(wire)
        serve_dhcp(wire)
        # Bound: the guest announces its address (a gratuitous ARP) or sends from it.
        wire.wait_for(lambda f: (f[12:14] == b"\x08\x06" and f[28:32] == GUEST_IP) or
                      from_guest_ip(f), "frame from 10.0.3.15")
        arp_storm(wire)
        # The storm's requests made the guest learn many neighbours, evicting
        # the peer's entry: one echo answered (the guest asking for the
        # peer's address again) before the flood, so that the flood's
        # replies are not all waiting behind one unresolved entry.
        wire.send(ethernet(GUEST_MAC, ETH_IP,
                           ipv4(PEER_IP, GUEST_IP, 1, icmp_echo(0x7776, 1, b"storm"), 8)))
        wire.wait_for(lambda f: is_echo_reply(f, 0x7776), "echo reply after the storm")
        icmp_flood(wire)
        bad_syns(wire)
        good_syn(wire)
        # The guest's listener and stack still serve: a last echo must come back.
        wire.send(ethernet(GUEST_MAC, ETH_IP,
                           ipv4(PEER_IP, GUEST_IP, 1, icmp_echo(0x7779, 1, b"after"), 9)))
        wire.wait_for(lambda f: is_echo_reply(f, 0x7779), "echo reply after it all")
        replies = wire.count(lambda f: is_echo_reply(f, 0x7777))
        if replies == 0:
            raise TimeoutError("no reply to the flood")
        done_and_echo(wire)
    except TimeoutError as error:
        print(f"wire_peer: {error}", file=sys.stderr)
        with wire.condition:
            kinds = {}
            for frame in wire.frames:
                key = frame[12:14].hex() + (f"/{frame[23]}" if frame[12:14] == b"\x08\x00" else "")
                kinds[key] = kinds.get(key, 0) + 1
        print(f"wire_peer: the guest sent {kinds}", file=sys.stderr)
        return 1
    print(f"wire_peer: DHCP with 35 bad offers, {STORM_ARPS} ARPs, {FLOOD_ECHOES} echoes "
          f"({replies} answered), {BAD_SYNS} bad SYNs; the good SYN answered")
    return close_when_done(wire)


def done_and_echo(wire):
    """Tells the guest it is done (UDP "done" to port 9) and answers its echo."""
    wire.send(ethernet(GUEST_MAC, ETH_IP,
                       ipv4(PEER_IP, GUEST_IP, 17, udp(PEER_IP, GUEST_IP, 9999, 9, b"done"))))

    def guest_echo(frame):
        return from_guest_ip(frame) and frame[23] == 1 and frame[34] == 8
    request = wire.wait_for(guest_echo, "the guest's echo request")
    header = (request[14] & 0xF) * 4
    body = bytearray(request[14 + header:])
    body[0] = 0
    body[2:4] = b"\0\0"
    body[2:4] = struct.pack("!H", checksum(bytes(body)))
    wire.send(ethernet(GUEST_MAC, ETH_IP, ipv4(PEER_IP, GUEST_IP, 1, bytes(body), 10)))


def close_when_done(wire):
    """Keeps the wire open (QEMU may still send) until the guest ends."""
    with wire.condition:
        while not wire.closed:
            wire.condition.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
