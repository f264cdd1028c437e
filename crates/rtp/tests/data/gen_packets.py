#!/usr/bin/env python3
"""Writes the golden RTP and RTCP packets of crates/rtp/tests/packets.rs.

The packets are laid out here straight from RFC 3550 (§5.1 RTP, §6.4.1 SR, §6.4.2 RR,
§6.5 SDES, §6.6 BYE) and RFC 4733 §2.3 with struct.pack, independently of the Rust
builders, so the test that compares the two checks the builders against the RFCs.
The fuzz script (scripts/fuzz.sh) seeds its corpora from these files.

Run from this directory: python3 gen_packets.py
"""
import struct


def rtp(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, padding=0):
    first = 0x80 | (0x20 if padding else 0) | (0x10 if ext else 0) | len(csrcs)
    out = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    for c in csrcs:
        out += struct.pack("!I", c)
    if ext:
        profile, data = ext
        out += struct.pack("!HH", profile, len(data) // 4) + data
    out += payload
    if padding:
        out += b"\0" * (padding - 1) + bytes([padding])
    return out


def header(count, pt, body_len):
    return struct.pack("!BBH", 0x80 | count, pt, (4 + body_len) // 4 - 1)


def report_block(ssrc, fraction, lost, highest, jitter, lsr, dlsr):
    return struct.pack("!IIIIII", ssrc, fraction << 24 | (lost & 0xFFFFFF), highest, jitter, lsr, dlsr)


def sdes_cname(ssrc, cname):
    chunk = struct.pack("!IBB", ssrc, 1, len(cname)) + cname
    chunk += b"\0" * (4 - len(chunk) % 4)  # null item, then pad to 32 bits
    return header(1, 202, len(chunk)) + chunk


def main():
    files = {
        "rtp/pcmu.bin": rtp(0, 0x1234, 0xDEADBEEF, 0x01020304, b"\xff" * 160, marker=True),
        "rtp/csrc-extension-padding.bin": rtp(
            96, 0xFFFF, 0, 0xCAFEBABE, b"abc",
            csrcs=(0x11111111, 0x22222222), ext=(0xBEDE, b"\x10\xaa\x00\x00"), padding=4,
        ),
        # RFC 4733 §2.3: event 1, E=0, volume 10, duration 160.
        "rtp/telephone-event.bin": rtp(
            101, 7, 8000, 0x01020304, struct.pack("!BBH", 1, 10, 160), marker=True,
        ),
    }
    sr_body = struct.pack("!IIIIII", 0x01020304, 0xE8000000, 0x80000000, 16000, 50, 8000)
    sr_body += report_block(0x05060708, 10, 3, 0x00011000, 40, 0x12345678, 0x00010000)
    files["rtcp/sr-sdes.bin"] = header(1, 200, len(sr_body)) + sr_body + sdes_cname(
        0x01020304, b"alice@example.com"
    )
    rr = header(0, 201, 4) + struct.pack("!I", 0x0A0B0C0D)
    reason = b"bye"
    bye_body = struct.pack("!IB", 0x0A0B0C0D, len(reason)) + reason
    bye_body += b"\0" * (-len(bye_body) % 4)
    bye = header(1, 203, len(bye_body)) + bye_body
    files["rtcp/rr-sdes-bye.bin"] = rr + sdes_cname(0x0A0B0C0D, b"b") + bye
    # RFC 3611 §4.7: an RR with one block, then an XR with a VoIP Metrics block (BT 7,
    # block length 8): loss 13/256, discard 2/256, burst/gap densities 40 and 5, burst
    # 120 ms, gap 3000 ms, round trip 180 ms, end system 60 ms, signal -20 dBm0, noise
    # -70 dBm0, RERL 127, Gmin 16, R 85, external R 127, MOS-LQ 4.1, MOS-CQ 4.0, RX config
    # 0x80, JB 40/80/200 ms.
    rr_xr = header(1, 201, 28) + struct.pack("!I", 0x0A0B0C0D)
    rr_xr += report_block(0x01020304, 13, 7, 0x00010100, 80, 0, 0)
    voip = struct.pack("!BBH", 7, 0, 8) + struct.pack(
        "!IBBBBHHHHbbBBBBBBBBHHH",
        0x01020304, 13, 2, 40, 5, 120, 3000, 180, 60, -20, -70, 127, 16,
        85, 127, 41, 40, 0x80, 0, 40, 80, 200,
    )
    xr_body = struct.pack("!I", 0x0A0B0C0D) + voip
    files["rtcp/rr-xr-voip.bin"] = rr_xr + header(0, 207, len(xr_body)) + xr_body
    for name, data in files.items():
        with open(name, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
