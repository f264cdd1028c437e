#!/usr/bin/env python3
"""Writes the G.711 golden files of crates/rtp/tests/codec_g711.rs.

The reference is CPython's `audioop` module (an independent C implementation of
ITU-T G.711, deprecated since Python 3.11 and removed in 3.13: run this with
Python 3.12 or older). The files were generated once and committed; run this
script again only to re-check them:

    cd crates/rtp/tests/data/codec && python3 gen_g711.py && git diff --stat .

Files (all little-endian, no header):

  ulaw_encode.bin  65,536 bytes: the mu-law code of every 16-bit linear sample,
                   in input order -32768, -32767, ..., 32767 (audioop.lin2ulaw)
  alaw_encode.bin  the same for A-law (audioop.lin2alaw)
  ulaw_decode.bin  256 x i16: the linear value of each mu-law code 0..255
                   (audioop.ulaw2lin, width 2)
  alaw_decode.bin  the same for A-law (audioop.alaw2lin)
"""
import struct
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

every_sample = struct.pack("<65536h", *range(-32768, 32768))
every_code = bytes(range(256))

outputs = {
    "ulaw_encode.bin": audioop.lin2ulaw(every_sample, 2),
    "alaw_encode.bin": audioop.lin2alaw(every_sample, 2),
    "ulaw_decode.bin": audioop.ulaw2lin(every_code, 2),
    "alaw_decode.bin": audioop.alaw2lin(every_code, 2),
}
# audioop works in the machine's byte order; the files are little-endian.
if struct.pack("=h", 1) != struct.pack("<h", 1):
    for name in ("ulaw_decode.bin", "alaw_decode.bin"):
        outputs[name] = audioop.byteswap(outputs[name], 2)

for name, data in outputs.items():
    with open(name, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")
