#!/usr/bin/env python3
"""A small DNS server, the host side of scenario.net_dns.

Answers queries on the UDP socket the scenario runner hands it (the file
descriptor in $CAPOS_UDP_<NAME>) from a fixed table, with its answers'
owner names compressed (a pointer to the question), until it is asked for
done.test; then it exits 0. A malformed query exits 1 at once.

  capos.test    A 10.0.2.2, AAAA fec0::2
  multi.test    A 192.0.2.1, 192.0.2.2, 192.0.2.3
  alias.test    CNAME capos.test, then capos.test's record
  v6only.test   AAAA 2001:db8::1 (no A)
  missing.test  NXDOMAIN
  broken.test   SERVFAIL
  quiet.test    no answer at all
  done.test     NXDOMAIN, and the server exits
"""
import ipaddress
import os
import socket
import struct
import sys

TIMEOUT_S = 120
A, AAAA, CNAME = 1, 28, 5
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3

RECORDS = {
    "capos.test": {A: ["10.0.2.2"], AAAA: ["fec0::2"]},
    "multi.test": {A: ["192.0.2.1", "192.0.2.2", "192.0.2.3"]},
    "v6only.test": {AAAA: ["2001:db8::1"]},
}
ALIASES = {"alias.test": "capos.test"}


def encode_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def read_question(query):
    if len(query) < 12:
        raise ValueError("shorter than a header")
    ident, flags, qdcount = struct.unpack(">HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        raise ValueError(f"not one question: flags {flags:#x}, {qdcount} questions")
    at, labels = 12, []
    while query[at] != 0:
        length = query[at]
        labels.append(query[at + 1:at + 1 + length].decode("ascii"))
        at += 1 + length
    qtype, qclass = struct.unpack(">HH", query[at + 1:at + 5])
    return ident, flags, ".".join(labels), qtype, qclass, query[12:at + 5]


def record(owner, rtype, data, ttl=300):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(data)) + data


def answer(query):
    ident, flags, name, qtype, qclass, question = read_question(query)
    lower = name.lower()
    if lower == "quiet.test":
        return None, lower
    rcode, answers = NOERROR, []
    pointer = b"\xc0\x0c"  # the question's name
    owner = pointer
    if lower in ALIASES:
        target = ALIASES[lower]
        answers.append(record(pointer, CNAME, encode_name(target)))
        owner, lower_target = encode_name(target), target
    else:
        lower_target = lower
    if lower in ("missing.test", "done.test"):
        rcode = NXDOMAIN
    elif lower == "broken.test":
        rcode = SERVFAIL
    elif lower_target in RECORDS:
        for text in RECORDS[lower_target].get(qtype, []):
            answers.append(record(owner, qtype, ipaddress.ip_address(text).packed))
    elif lower not in ALIASES:
        rcode = NXDOMAIN
    header = struct.pack(">HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1,
                         len(answers), 0, 0)
    return header + question + b"".join(answers), lower


def main():
    variable = "CAPOS_UDP_" + sys.argv[1].upper().replace("-", "_")
    server = socket.socket(fileno=int(os.environ[variable]))
    server.settimeout(TIMEOUT_S)
    while True:
        query, peer = server.recvfrom(4096)
        try:
            response, name = answer(query)
        except (ValueError, IndexError, UnicodeDecodeError, struct.error) as error:
            print(f"dns_server: malformed query from {peer}: {error}", file=sys.stderr)
            return 1
        print(f"dns_server: {name} type {struct.unpack('>H', query[-4:-2])[0]}")
        if response is not None:
            server.sendto(response, peer)
        if name == "done.test":
            return 0


if __name__ == "__main__":
    sys.exit(main())
