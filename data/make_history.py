"""Simulated multi-session histories for the pattern classifier (deterministic).

    python data/make_history.py                 # rewrites the bundled example in data/history/ (same bytes)
    python data/make_history.py --kind persistent --out /tmp/h --seed 7

A subject has 8 bipolar channels, two over each of 4 muscles in 2 body
regions, and 4-5 resting sessions of 90 s at 2048 Hz over 4-9 weeks. Each
session is written as EDF+ (by pyedflib, not by fasctrack) or .npy, with a
manifest.json in the format ``fasctrack classify`` reads.

How a session is made (``fasctrack.simulate``, bipolar leads):

- background: 5 uV noise, 50 Hz mains (10 uV, 3rd and 5th harmonics) and
  baseline wander on all 8 channels, independent per session;
- fasciculating muscles: each muscle has its own fixed motor units (one
  noise-free simulation per muscle spanning every session back to back, so
  the same units fire, with fresh firing times, in every session where the
  muscle is active); a muscle that is quiet in a session contributes
  nothing there.

Kinds (the label the rules should give):

- ``none``: no fasciculations at all;
- ``transient``: one muscle active in the first session(s) only (after
  exercise), then quiet (benign);
- ``sporadic``: one muscle active now and then, never in 75% of sessions
  (benign);
- ``persistent``: one muscle active in every session over >= 4 weeks,
  with complex units (warning);
- ``spreading``: one muscle first, then more, reaching the other body region
  (warning).
"""
from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

import fasctrack

HERE = Path(__file__).resolve().parent
FS = 2048.0
DURATION_S = 90.0
START = date(2026, 1, 5)

# Two bipolar channels per muscle; the manifest, not the file, says which muscle.
MUSCLES = [
    ("biceps_brachii_r", "cervical", "R"),
    ("first_dorsal_interosseous_r", "cervical", "R"),
    ("tibialis_anterior_l", "lumbosacral", "L"),
    ("medial_gastrocnemius_l", "lumbosacral", "L"),
]
CHANNELS_PER_MUSCLE = 2
KINDS = ("none", "transient", "sporadic", "persistent", "spreading")


def schedule(kind: str, rng: np.random.Generator, n_sessions: Optional[int] = None) -> Dict[str, object]:
    """Session days and which muscles fasciculate in which session, for one kind."""
    n = int(rng.integers(4, 6))                        # 4 or 5 sessions
    if n_sessions is not None:
        n = int(n_sessions)
    span_weeks = int(rng.integers(max(4, n - 1), 10))  # over 4-9 weeks
    inner = sorted(rng.choice(np.arange(3, 7 * span_weeks - 2), size=n - 2, replace=False).tolist())
    days = [0] + inner + [7 * span_weeks]
    m = [name for name, _, _ in MUSCLES]
    a = m[int(rng.integers(0, len(m)))]                 # the index muscle
    active: List[List[str]] = [[] for _ in range(n)]
    context: List[List[str]] = [[] for _ in range(n)]
    complex_fraction = 0.0
    if kind == "transient":
        k = int(rng.integers(1, 3))                     # first 1-2 sessions
        for i in range(k):
            active[i] = [a]
            context[i] = ["post-exercise"] if i == 0 else ["caffeine"]
    elif kind == "sporadic":
        # Active in 2 sessions that are not adjacent, or in sessions 1, 3, 5 of 5:
        # never 3 active among 4 consecutive analysable sessions.
        picks = [0, 2, 4] if n == 5 else [0, 2] if rng.random() < 0.5 else [1, 3]
        for i in picks:
            active[i] = [a]
            context[i] = ["stress"]
    elif kind == "persistent":
        for i in range(n):
            active[i] = [a]
        complex_fraction = 0.5
    elif kind == "spreading":
        # Index muscle first, a second muscle of the same region next, then
        # the other region; the last session has 3 active muscles.
        same = [x for x, r, _ in MUSCLES if r == dict((y, r2) for y, r2, _ in MUSCLES)[a] and x != a]
        other = [x for x, r, _ in MUSCLES if r != dict((y, r2) for y, r2, _ in MUSCLES)[a]]
        order = [a, same[0], other[int(rng.integers(0, len(other)))]]
        for i in range(n):
            reach = 1 + (i * 3) // n if i < n - 1 else 3
            active[i] = order[:reach]
        complex_fraction = 0.5
    elif kind != "none":
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    return dict(days=days, active=active, context=context, complex_fraction=complex_fraction)


def make_history(kind: str, out: Path, *, seed: int = 1, fmt: str = "edf", duration_s: float = DURATION_S,
                 fs: float = FS, subject: str = "", n_sessions: Optional[int] = None,
                 clinical: Optional[Dict[int, Dict[str, List[str]]]] = None, n_units: int = 2,
                 amplitude_uv: Sequence[float] = (50.0, 120.0), rate_per_min: float = 9.0) -> Path:
    """Write a simulated history of `kind` into `out`; returns the manifest path.

    ``clinical`` maps a session index to its findings, e.g. ``{3: {"weakness": ["biceps_brachii_r"]}}``;
    ``n_units``, ``amplitude_uv`` (peak-to-peak range) and ``rate_per_min`` (per unit) describe each
    fasciculating muscle.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    plan = schedule(kind, rng, n_sessions)
    days: Sequence[int] = plan["days"]
    n_sessions = len(days)
    n = int(round(duration_s * fs))
    # One noise-free simulation per fasciculating muscle covering every
    # session back to back: the same units (templates) in every session.
    units = {}
    for k, (name, _, _) in enumerate(MUSCLES):
        if not any(name in act for act in plan["active"]):
            continue
        sim = fasctrack.simulate(fs=fs, duration_s=duration_s * n_sessions, geometry="bipolar",
                                 bipolar_channels=CHANNELS_PER_MUSCLE, n_units=n_units,
                                 amplitude_min_uv=float(amplitude_uv[0]), amplitude_max_uv=float(amplitude_uv[1]),
                                 rate_per_min=float(rate_per_min), doublet_probability=0.05,
                                 complex_fraction=plan["complex_fraction"], noise_uv=0.0, mains_hz=0.0,
                                 wander_uv=0.0, seed=seed * 1000 + k + 17)
        units[name] = sim.recording.data
    sessions = []
    for i, day in enumerate(days):
        bg = fasctrack.simulate(fs=fs, duration_s=duration_s, geometry="bipolar",
                                bipolar_channels=len(MUSCLES) * CHANNELS_PER_MUSCLE, n_units=0, noise_uv=5.0,
                                mains_hz=50.0, mains_uv=10.0, wander_uv=30.0, seed=seed * 1000 + 100 + i)
        x = np.array(bg.recording.data, dtype=np.float64)
        for k, (name, _, _) in enumerate(MUSCLES):
            if name in plan["active"][i]:
                rows = slice(k * CHANNELS_PER_MUSCLE, (k + 1) * CHANNELS_PER_MUSCLE)
                x[rows] += units[name][:, i * n:(i + 1) * n]
        sid = f"ses-{i + 1:02d}"
        # A .npy carries no labels: fasctrack names its rows ch1..chN.
        labels = [f"{'EMG' if fmt == 'edf' else 'ch'}{c + 1}" for c in range(len(MUSCLES) * CHANNELS_PER_MUSCLE)]
        when = START + timedelta(days=int(day))
        if fmt == "edf":
            fname = f"{sid}_emg.edf"
            _write_edf(out / fname, x, fs, labels, when)
        elif fmt == "npy":
            fname = f"{sid}_emg.npy"
            np.save(out / fname, x.astype(np.float32))
        else:
            raise ValueError(f"fmt: expected 'edf' or 'npy', got {fmt!r}")
        entry = {"id": sid, "date": when.isoformat(), "recording": fname}
        if fmt == "npy":
            entry["fs"] = fs
        entry["channels"] = [{"name": labels[k * CHANNELS_PER_MUSCLE + j], "muscle": name, "region": region,
                              "side": side}
                             for k, (name, region, side) in enumerate(MUSCLES) for j in range(CHANNELS_PER_MUSCLE)]
        if plan["context"][i]:
            entry["context"] = plan["context"][i]
        if clinical and i in clinical:
            entry["clinical"] = clinical[i]
        sessions.append(entry)
    manifest = {"subject": subject or f"sim-{kind}-{seed}", "sessions": sessions,
                "description": f"simulated {kind} history (data/make_history.py, seed {seed}); "
                               f"active muscles per session: {plan['active']}"}
    path = out / "manifest.json"
    path.write_text(_format_manifest(manifest))
    return path


def _format_manifest(manifest: Dict[str, object]) -> str:
    """JSON with one line per channel, so a person can read and edit it."""
    lines = ["{", f'  "subject": {json.dumps(manifest["subject"])},',
             f'  "description": {json.dumps(manifest["description"])},', '  "sessions": [']
    for i, s in enumerate(manifest["sessions"]):
        lines.append("    {")
        items = [(k, v) for k, v in s.items() if k != "channels"]
        body = [f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in items]
        if "channels" in s:
            chans = ",\n".join(f"        {json.dumps(c)}" for c in s["channels"])
            body.append(f'      "channels": [\n{chans}\n      ]')
        lines.append(",\n".join(body))
        lines.append("    }" + ("," if i + 1 < len(manifest["sessions"]) else ""))
    lines += ["  ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == manifest
    return text


def _write_edf(path: Path, x: np.ndarray, fs: float, labels: Sequence[str], when: date) -> None:
    import datetime as dt

    import pyedflib

    with pyedflib.EdfWriter(str(path), x.shape[0], file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders([dict(label=label, dimension="uV", sample_frequency=fs, physical_max=2000.0,
                                 physical_min=-2000.0, digital_max=32767, digital_min=-32768,
                                 transducer="Ag/AgCl bipolar", prefilter="HP:DC LP:500Hz")
                            for label in labels])
        w.setStartdatetime(dt.datetime(when.year, when.month, when.day, 9, 0, 0))
        w.writeSamples(np.ascontiguousarray(x))


def make_bundled_example() -> Path:
    """The multi-session example in data/history/ (spreading, 4 sessions over 6 weeks)."""
    out = HERE / "history"
    for old in out.glob("ses-*"):
        old.unlink()
    return make_history("spreading", out, seed=1, n_sessions=4, subject="sim-01",
                        clinical={3: {"weakness": ["tibialis_anterior_l"], "atrophy": []}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=KINDS, help="write a history of this kind (default: the bundled example)")
    ap.add_argument("--out", type=Path, help="folder for --kind")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("edf", "npy"), default="edf")
    ap.add_argument("--units", type=int, default=2, help="motor units per fasciculating muscle")
    ap.add_argument("--amplitude", type=float, nargs=2, default=(50.0, 120.0), metavar=("MIN", "MAX"),
                    help="peak-to-peak range of the units, uV")
    ap.add_argument("--rate", type=float, default=9.0, help="mean discharges per minute per unit")
    a = ap.parse_args()
    if a.kind is None:
        path = make_bundled_example()
    else:
        if a.out is None:
            ap.error("--out is required with --kind")
        path = make_history(a.kind, a.out, seed=a.seed, fmt=a.format, n_units=a.units, amplitude_uv=a.amplitude,
                            rate_per_min=a.rate)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
