#!/usr/bin/env python3
"""UDP relay between sipp and a registrar for bench/registrar.sh (digest-auth part).

Why: itsp challenges with SHA-256 first and MD5 second (RFC 8760 §2.4); sipp 3.6.1
(Debian bookworm) answers only the first challenge and knows only MD5, so it gives up.
With --md5-only the relay drops the SHA-256 challenge lines from responses, so sipp
answers MD5 as it does for Kamailio. Both registrars' digest runs go through this relay,
so both see the same path.

What it does to the traffic, and nothing else:
  - requests (client -> server): ";rport" is appended to the top Via when absent, so the
    server answers to the relay's socket (RFC 3581) and not straight to the Via's port;
  - responses (server -> client): with --md5-only, WWW-Authenticate and
    Proxy-Authenticate lines with algorithm=SHA-256 are removed (header lines only, so
    Content-Length stays right).
Prints packet counts on stderr when stopped (SIGTERM or SIGINT).

Usage: sip-relay.py --listen 127.0.0.1:5098 --server 127.0.0.1:5070 [--md5-only]
"""

import argparse
import re
import select
import signal
import socket
import sys

SHA256_CHALLENGE = re.compile(
    rb"^(?:WWW|Proxy)-Authenticate:[^\r\n]*algorithm=\"?SHA-256\"?[^\r\n]*\r\n",
    re.IGNORECASE | re.MULTILINE,
)
TOP_VIA = re.compile(rb"^(?:Via|v)[ \t]*:[^\r\n]*", re.IGNORECASE | re.MULTILINE)
BUFFER = 4 << 20


def addr(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def add_rport(request):
    m = TOP_VIA.search(request)
    if m is None or b"rport" in m.group(0).lower():
        return request
    return request[: m.end()] + b";rport" + request[m.end():]


def udp(bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        s.setsockopt(socket.SOL_SOCKET, opt, BUFFER)
    s.bind(bind)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=addr, required=True, help="HOST:PORT sipp sends to")
    ap.add_argument("--server", type=addr, required=True, help="HOST:PORT of the registrar")
    ap.add_argument("--md5-only", action="store_true", help="drop SHA-256 challenges")
    args = ap.parse_args()

    front = udp(args.listen)
    back = udp((args.server[0], 0))
    client = None
    counts = {"requests": 0, "responses": 0, "stripped": 0, "no_client": 0}
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while running:
        try:
            ready, _, _ = select.select([front, back], [], [], 0.5)
        except InterruptedError:
            continue
        for s in ready:
            data, source = s.recvfrom(65535)
            if s is front:
                client = source
                back.sendto(add_rport(data), args.server)
                counts["requests"] += 1
            else:
                if args.md5_only:
                    data, n = SHA256_CHALLENGE.subn(b"", data)
                    counts["stripped"] += n
                if client is None:
                    counts["no_client"] += 1
                    continue
                front.sendto(data, client)
                counts["responses"] += 1
    print("sip-relay: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
