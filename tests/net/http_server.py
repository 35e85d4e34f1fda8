#!/usr/bin/env python3
"""A small HTTP/1.1 server, the host side of scenario.net_fetch.

Serves, on the listening socket the scenario runner hands it (the file
descriptor in $CAPOS_TCP_<NAME>), one request per connection, REQUESTS of
them, then exits 0. Each request must be a well-formed GET with a Host
field and "Connection: close" (what capOS's fetch sends); anything else
exits 1 at once. The paths:

  /hello     a short body with a Content-Length
  /chunked   a chunked body (with a chunk extension and a trailer field)
  /close     a body that ends with the connection (no length)
  /big       1 MiB of a fixed pattern (big_body), with a Content-Length
  anything   404 with a short body
"""
import argparse
import hashlib
import os
import socket
import sys

TIMEOUT_S = 60


def big_body():
    return bytes((i * 131 + (i >> 11)) & 0xFF for i in range(1 << 20))


def read_request(connection):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            raise ValueError("the connection ended inside the request")
        data += chunk
        if len(data) > 16384:
            raise ValueError("the request's head is too long")
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.split("\r\n")
    method, target, version = lines[0].split(" ")
    fields = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        fields[name.strip().lower()] = value.strip()
    if method != "GET" or version != "HTTP/1.1":
        raise ValueError(f"not a GET of HTTP/1.1: {lines[0]!r}")
    if "host" not in fields or fields.get("connection") != "close":
        raise ValueError(f"fields missing: {fields!r}")
    return target, fields


def respond(connection, target):
    if target == "/hello":
        body = b"hello from the host\n"
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    elif target == "/chunked":
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"6\r\nchunks\r\n1;note=x\r\n \r\n"
                           b"0c\r\nof the body\n\r\n0\r\nX-Trailer: yes\r\n\r\n")
    elif target == "/close":
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil the connection ends\n")
    elif target == "/big":
        body = big_body()
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        connection.sendall(body)
    else:
        body = b"no such page\n"
        connection.sendall(b"HTTP/1.1 404 Not Found\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name", help="the runner's port name ({port:NAME})")
    parser.add_argument("requests", type=int)
    parser.add_argument("--digest", action="store_true",
                        help="print /big's SHA-256 and exit")
    args = parser.parse_args()
    if args.digest:
        print(hashlib.sha256(big_body()).hexdigest())
        return 0
    variable = "CAPOS_TCP_" + args.name.upper().replace("-", "_")
    listener = socket.socket(fileno=int(os.environ[variable]))
    listener.settimeout(TIMEOUT_S)
    for _ in range(args.requests):
        connection, peer = listener.accept()
        with connection:
            connection.settimeout(TIMEOUT_S)
            try:
                target, _ = read_request(connection)
            except (ValueError, OSError) as error:
                print(f"http_server: bad request from {peer}: {error}", file=sys.stderr)
                return 1
            print(f"http_server: GET {target}")
            respond(connection, target)
            connection.shutdown(socket.SHUT_WR)
            # The client closes once it has the whole response.
            while connection.recv(4096):
                pass
    print(f"http_server: {args.requests} requests served")
    return 0


if __name__ == "__main__":
    sys.exit(main())
