#!/usr/bin/env python3
"""A TCP echo server's client, the host side of scenario.net_tcp_echo.

Opens CONNECTIONS connections to 127.0.0.1:PORT (QEMU's hostfwd to the
guest's echo server), PARALLEL at a time, sends each its share of TOTAL
bytes (some none, most a few KiB, a few large ones), finishes sending
(shutdown) and reads until the server closes, and compares what came back
with what was sent. The bytes are pseudo-random from a fixed seed, so a
failure is the same each run. Prints a summary; exits 0 when every
connection echoed exactly its bytes, 1 otherwise.
"""
import argparse
import random
import socket
import sys
import threading

TIMEOUT_S = 120


def shares(connections, total, seed):
    """Bytes per connection: sums to `total`; a few large, some empty."""
    rng = random.Random(seed)
    weights = []
    for i in range(connections):
        if i % 97 == 0:
            weights.append(0)
        elif i % 50 == 7:
            weights.append(rng.randint(40, 120))
        else:
            weights.append(rng.randint(1, 3))
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    sizes[-1] += total - sum(sizes)
    if sizes[-1] < 0:
        raise SystemExit("bad share computation")
    return sizes


def payload(index, size, seed):
    return random.Random(seed * 1_000_003 + index).randbytes(size)


def echo_one(port, data):
    """Sends `data` on a new connection and returns what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
        s.settimeout(TIMEOUT_S)
        sender_error = []

        def send():
            try:
                view = memoryview(data)
                while view:
                    sent = s.send(view[:65536])
                    view = view[sent:]
                s.shutdown(socket.SHUT_WR)
            except OSError as error:
                sender_error.append(error)

        sender = threading.Thread(target=send)
        sender.start()
        received = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        sender.join()
        if sender_error:
            raise sender_error[0]
        return bytes(received)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("connections", type=int)
    parser.add_argument("total", type=int)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()

    sizes = shares(args.connections, args.total, args.seed)
    lock = threading.Lock()
    next_index = [0]
    failures = []
    echoed = [0]

    def worker():
        while True:
            with lock:
                if next_index[0] == len(sizes) or failures:
                    return
                index = next_index[0]
                next_index[0] += 1
            data = payload(index, sizes[index], args.seed)
            try:
                back = echo_one(args.port, data)
            except OSError as error:
                with lock:
                    failures.append(f"connection {index}: {error}")
                return
            with lock:
                if back != data:
                    failures.append(
                        f"connection {index}: sent {len(data)} bytes, "
                        f"got {len(back)} back, differing")
                echoed[0] += len(back)

    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        for failure in failures[:10]:
            print(f"tcp_echo_client: {failure}", file=sys.stderr)
        return 1
    print(f"tcp_echo_client: {len(sizes)} connections, {echoed[0]} bytes echoed and equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
