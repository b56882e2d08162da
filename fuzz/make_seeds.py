#!/usr/bin/env python3
"""Writes the committed seed corpus in fuzz/corpus/<target>/ (small, synthetic).

Each seed is a valid or nearly valid file of the kind the target reads, kept
to a few kilobytes so mutations stay fast. The real recordings in
../shared/data/real are not copied here; fuzz/run.sh passes their folders to
the fuzzers as extra corpus directories. Regression inputs (crashes a fuzzer
found, now fixed) are added by hand as corpus/<target>/regress-*.

Run from anywhere: python3 fuzz/make_seeds.py (standard library only).
"""
import math
import pathlib
import random
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def field(value, width, right=False):
    s = str(value)
    s = s.rjust(width) if right else s.ljust(width)
    assert len(s) == width, (value, width)
    return s.encode("latin-1")


def edf(signals, n_records=1, duration="1", bdf=False, reserved="", annotations=None, right_aligned=False):
    """signals: list of (label, unit, spr, pmin, pmax, dmin, dmax, samples per record list)."""
    ns = len(signals) + (1 if annotations is not None else 0)
    bps = 3 if bdf else 2
    head = (b"\xffBIOSEMI" if bdf else field("0", 8))
    head += field("X X X X", 80) + field("Startdate 01-JAN-2020 X X X", 80)
    head += field("01.01.20", 8) + field("10.00.00", 8) + field(256 * (ns + 1), 8)
    head += field(reserved, 44) + field(n_records, 8, right_aligned) + field(duration, 8) + field(ns, 4)
    labels = [s[0] for s in signals]
    sig_fields = []
    ann_label = "BDF Annotations" if bdf else "EDF Annotations"
    rows = list(signals)
    if annotations is not None:
        rows.append((ann_label, "", annotations, -1, 1, -32768, 32767, None))
    for col, width in ((0, 16), ("t", 80), (1, 8), (3, 8), (4, 8), (5, 8), (6, 8), ("p", 80), (2, 8), ("r", 32)):
        for r in rows:
            if col == "t":
                sig_fields.append(field("" if r[7] is None else "AgAgCl", width))
            elif col == "p":
                sig_fields.append(field("" if r[7] is None else "HP:0.1Hz", width))
            elif col == "r":
                sig_fields.append(field("", width))
            else:
                sig_fields.append(field(r[col], width))
    head += b"".join(sig_fields)
    body = b""
    for rec in range(n_records):
        for r in rows:
            if r[7] is None:  # annotation signal: time-keeping TAL, maybe an event
                tal = f"+{rec}\x14\x14\x00".encode()
                if rec == 0:
                    tal += b"+0.5\x150.25\x14twitch\x14\x00"
                body += tal.ljust(r[2] * bps, b"\x00")
            else:
                for v in r[7]:
                    body += int(v).to_bytes(bps, "little", signed=True)
    return head + body


def sine(n, amp, k):
    return [round(amp * math.sin(2 * math.pi * k * i / n)) for i in range(n)]


def edf_seeds():
    s = [("EMG a", "uV", 32, -3200, 3200, -32768, 32767, sine(32, 3000, 3)),
         ("EMG b", "mV", 32, -3.2, 3.2, -32768, 32767, sine(32, 20000, 5))]
    put("edf", "plain.edf", edf(s, reserved=""))
    put("edf", "plus-annot.edf", edf(s, n_records=2, reserved="EDF+C", annotations=16))
    put("edf", "plus-discontinuous.edf", edf(s, n_records=2, reserved="EDF+D", annotations=16))
    unfinalised = bytearray(edf(s, n_records=1))
    unfinalised[236:244] = field(-1, 8)
    put("edf", "unfinalised.edf", bytes(unfinalised))
    put("edf", "right-aligned.edf", edf(s, n_records=1, right_aligned=True))
    mixed = s + [("Status", "Boolean", 16, 0, 1, 0, 1, [0, 1] * 8), ("EMG slow", "uV", 16, -1, 1, -32768, 32767, [0] * 16)]
    put("edf", "mixed-rates.edf", edf(mixed, n_records=1, duration="0.5"))
    b = [("EXG1", "uV", 16, -262144, 262143, -8388608, 8388607, sine(16, 800000, 2)),
         ("Status", "Boolean", 16, -8388608, 8388607, -8388608, 8388607, [0] * 16)]
    put("edf", "biosemi.bdf", edf(b, bdf=True, reserved="24BIT"))
    put("edf", "biosemi-plus.bdf", edf(b, n_records=2, bdf=True, reserved="BDF+C", annotations=10))
    dup = [("EEG F1", "uV", 8, -100, 100, -2048, 2047, [1, -1] * 4)] * 2
    put("edf", "duplicate-labels.edf", edf(dup, duration="0.25"))


def wfdb_seeds():
    rnd = random.Random(7)

    def pack(fmt, values):
        if fmt == 16:
            return b"".join(struct.pack("<h", v) for v in values)
        if fmt == 61:
            return b"".join(struct.pack(">h", v) for v in values)
        if fmt == 80:
            return bytes((v + 128) & 0xFF for v in values)
        if fmt == 160:
            return b"".join(struct.pack("<H", v + 32768) for v in values)
        if fmt == 24:
            return b"".join((v & 0xFFFFFF).to_bytes(3, "little") for v in values)
        if fmt == 32:
            return b"".join(struct.pack("<i", v) for v in values)
        if fmt == 212:
            out = b""
            for i in range(0, len(values), 2):
                a = values[i] & 0xFFF
                b = values[i + 1] & 0xFFF if i + 1 < len(values) else 0
                out += bytes([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF])
            return out
        raise ValueError(fmt)

    for fmt, rng in ((16, 3000), (212, 2000), (80, 100), (24, 100000), (32, 100000), (61, 3000), (160, 3000)):
        n, nsig = 64, 2
        values = [rnd.randint(-rng, rng) for _ in range(n * nsig)]
        ch = [sum(values[i::nsig]) for i in range(nsig)]
        hea = f"rec {nsig} 1000 {n} 10:11:12 01/02/2003\r\n"
        for i in range(nsig):
            hea += f"rec.dat {fmt} 200/mV {12 if fmt == 212 else 16} 0 {values[i]} {ch[i] & 0xFFFF} 0 EMG ch{i}\r\n"
        hea += "# synthetic seed\r\n"
        put("wfdb", f"fmt{fmt}", hea.encode() + b"\x00" + pack(fmt, values))
    # Skew, byte offset, baseline, missing gain, no sample count, two files.
    values = [rnd.randint(-500, 500) for _ in range(40)]
    hea = ("rec 2 500\n"
           "rec.dat 16:2+4 100(5)/uV 16 0 0 0 0 first\n"
           "rec.dat 16+4 0/mV 16 0 0 0 0 second\n")
    put("wfdb", "skew-offset", hea.encode() + b"\x00" + b"\x00\x00\x00\x00" + pack(16, values))
    hea = "rec 3 250 10\nsig.dat 16 200/mV\nsig.dat 16 200/mV\nsig.dat 16 1/degC 16 0 0 0 0 temperature\n"
    put("wfdb", "nonvoltage", hea.encode() + b"\x00" + pack(16, [rnd.randint(-9, 9) for _ in range(30)]))
    hea = "rec 1 4000 8\nrec.dat 16 200/mV 16 0 0 0 0 EMG\n"
    put("wfdb", "sentinel", hea.encode() + b"\x00" + pack(16, [1, -32768, 3, 4, -32768, 6, 7, 8]))


def npy(descr, shape, data, fortran=False, version=1):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", "(%s,)" % shape[0] if len(shape) == 1 else str(tuple(shape)))
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    if version == 1:
        out = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
    else:
        out = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header))
    return out + header.encode("latin-1") + data


def npy_seeds():
    vals = [math.sin(i / 3.0) * 50 for i in range(2 * 48)]
    put("npy", "f8.npy", npy("<f8", (2, 48), struct.pack("<96d", *vals)))
    put("npy", "f4-fortran.npy", npy("<f4", (2, 48), struct.pack("<96f", *vals), fortran=True))
    put("npy", "f4-big.npy", npy(">f4", (48, 2), struct.pack(">96f", *vals)))
    put("npy", "i2-1d.npy", npy("<i2", (96,), struct.pack("<96h", *[int(v * 100) for v in vals])))
    put("npy", "v2.npy", npy("<f8", (3, 8), struct.pack("<24d", *vals[:24]), version=2))
    put("npy", "v3-nan.npy", npy("<f8", (1, 4), struct.pack("<4d", 1.0, float("nan"), float("inf"), -0.0), version=3))


def csv_seeds():
    lines = ["time,EMG a,EMG b"] + [f"{i / 1000:.3f},{math.sin(i):.2f},{math.cos(i):.2f}" for i in range(40)]
    put("csv", "time-header.csv", "\n".join(lines) + "\n")
    put("csv", "tabs.tsv", "\r\n".join("\t".join(f"{math.sin(i + c):.3f}" for c in range(3)) for i in range(40)))
    put("csv", "semicolon.csv", "\n".join(f"{i * 0.002:.3f};{i % 7}" for i in range(40)))
    head = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n# Labels:= EMG\n"
    put("csv", "opensignals.txt", head + "\n".join(str(2048 + (i * 37) % 11) for i in range(60)) + "\n")
    put("csv", "whitespace.txt", "\n".join(f"  {i} {i * 0.5:e}   {-i}" for i in range(30)))
    put("csv", "bom-quoted.csv", "\ufeff\"t\",\"x\"\n" + "\n".join(f"{i / 250},{i % 5}" for i in range(30)))


def stream_seeds():
    rnd = random.Random(11)
    for k in range(8):
        head = bytes([rnd.randrange(256) for _ in range(4)])
        ops = bytes(rnd.randrange(256) for _ in range(4 * rnd.randrange(1, 12)))
        put("stream", f"random-{k}", head + ops)
    # Grid of 4, 1000 Hz, discharges on each channel; NaN run; flat run.
    put("stream", "discharges", bytes([0x07, 0x0B, 1, 2]) + b"".join(
        bytes([p, 0, 3 | (c << 3), 40]) for c in range(4) for p in (120, 150, 180, 210)))
    put("stream", "nan-and-flat", bytes([0x03, 0x0C, 3, 4]) + bytes([128, 0, 1, 60, 160, 0, 2 | 8, 90, 200, 0, 3, 50]))


def regression_seeds():
    """Inputs behind tests/io/test_io_fuzz_regressions.cpp (fixed bugs)."""
    dat = struct.pack("<4h", 1, 2, 3, 4)
    put("wfdb", "regress-base-time", b"r 1 1000 4 1e300:99999999999:nan 01/02/99999\nr.dat 16 200/mV\n\x00" + dat)
    put("wfdb", "regress-format-overflow", b"r 1 1000 4\nr.dat 4294967312 200/mV\n\x00" + dat)
    put("wfdb", "regress-absolute-path", b"r 1 1000 4\n/nonexistent-fasctrack-dir/9r.dat 16 200/mV\n\x00" + dat)
    put("wfdb", "regress-device", b"r 1 1000 4\n/dev/zero 16 200/mV\n")
    s = [("EMG a", "uV", 32, -3200, 3200, -32768, 32767, sine(32, 3000, 3))]
    for name, onset in (("regress-onset-huge", "+1e300"), ("regress-onset-nan", "+nan")):
        b = bytearray(edf(s, n_records=2, reserved="EDF+C", annotations=16, right_aligned=True))
        first_tal = 256 * 3 + 32 * 2
        b[first_tal:first_tal + 9] = (onset + "\x14\x14\x00").encode().ljust(9, b"\x00")
        put("edf", name + ".edf", bytes(b))


def manifest_seeds():
    put("manifest", "full.json", """{"subject": "S01",
 "sessions": [
  {"id": "s1", "date": "2026-01-05", "recording": "s1.edf",
   "channels": [{"name": "ch1", "muscle": "biceps_r", "region": "cervical", "side": "R"},
                {"name": "ch2", "muscle": "tibialis_l", "region": "lumbosacral", "side": "L"}],
   "context": ["post-exercise"], "clinical": {"weakness": ["biceps_r"], "atrophy": []}},
  {"id": "s2", "date": "2026-03-01T09:30", "recording": "sub/s2.npy", "fs": 2048,
   "channels": [{"name": "ch1", "muscle": "biceps_r", "region": "cervical", "side": "R"}],
   "context": ["caffeine", "rest"], "clinical": {"weakness": [], "atrophy": ["biceps_r"]}}]}
""")
    put("manifest", "minimal.json", '{"sessions": [{"id": "a", "date": "2025-12-31", "recording": "a.edf"}]}')
    put("manifest", "unknown-keys.json",
        '{"subject": "x", "extra": 1, "sessions": [{"id": "a", "date": "2024-02-29 23:59:59", '
        '"recording": "a.csv", "note": null}]}')
    put("manifest", "nested.json", "[" * 70 + "]" * 70)


if __name__ == "__main__":
    edf_seeds()
    wfdb_seeds()
    npy_seeds()
    csv_seeds()
    stream_seeds()
    manifest_seeds()
    regression_seeds()
    print("seeds in", OUT)
