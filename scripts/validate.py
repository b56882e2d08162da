#!/usr/bin/env python3
"""Validate the fasciculation detector on simulated recordings with known truth.

Runs ``fasctrack.detect`` over a grid of conditions (signal-to-noise, grid vs
bipolar, 50/60 Hz mains, ECG, doublets and complex units, voluntary bursts,
movement artefacts and electrode pops), several seeds each, scores every
recording with ``fasctrack.evaluate`` and prints a Markdown table:

    condition | recordings | true events | precision | recall | F1 | unit ARI | false/masked min

Precision, recall and F1 pool the matches of all recordings of a condition
(micro-average); unit ARI is the mean over recordings; false/masked min is all
detections inside truth masks over all masked minutes ("-" when a condition has
no masks). Periods the detector itself reports as ``startup`` (filter settling,
noise-floor learning) are left out of scoring on both sides: no detector can
work there, and a fixed loss of a few seconds would blur the comparison.

Usage::

    python scripts/validate.py              # 3 seeds x 120 s per condition (a few minutes)
    python scripts/validate.py --quick      # 1 seed x 60 s (CI)
    python scripts/validate.py --seeds 6 --first-seed 2000   # another sample of recordings
    python scripts/validate.py --json out.json --conditions snr,bipolar
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any, Dict, List

import numpy as np
import pandas as pd

try:
    import fasctrack
    from fasctrack._sim import evaluate, simulate
except ImportError as exc:  # pragma: no cover
    sys.exit(f"validate.py: cannot import fasctrack ({exc}); install it with `./dev pyinstall`")

# Every condition: an 8x8 grid at 2048 Hz, 50 Hz mains, unless it says otherwise.
GRID = dict(geometry="grid", rows=8, columns=8, fs=2048.0, mains_hz=50.0)
CONDITIONS: List[Dict[str, Any]] = [
    dict(name="snr: 25-80 uV, noise 3 uV", group="snr", amplitude_min_uv=25.0, amplitude_max_uv=80.0, noise_uv=3.0),
    dict(name="snr: 25-80 uV, noise 5 uV", group="snr", amplitude_min_uv=25.0, amplitude_max_uv=80.0, noise_uv=5.0),
    dict(name="snr: 25-80 uV, noise 7 uV", group="snr", amplitude_min_uv=25.0, amplitude_max_uv=80.0, noise_uv=7.0),
    dict(name="easy: 80-200 uV, noise 5 uV", group="snr", amplitude_min_uv=80.0, amplitude_max_uv=200.0,
         noise_uv=5.0),
    dict(name="grid 8x8, 60 Hz mains", group="mains", mains_hz=60.0, mains_uv=20.0),
    dict(name="bipolar 4 ch, 4096 Hz", group="bipolar", geometry="bipolar", bipolar_channels=4, fs=4096.0,
         n_units=8),
    dict(name="ECG + doublets + complex", group="ecg", ecg_uv=150.0, doublet_probability=0.2,
         complex_fraction=0.5),
    dict(name="bipolar 8 ch, 2048 Hz, ECG 50 uV", group="ecg", geometry="bipolar", bipolar_channels=8, ecg_uv=50.0),
    dict(name="bipolar 8 ch, no FPs, ECG 50 uV", group="ecg", geometry="bipolar", bipolar_channels=8, ecg_uv=50.0,
         n_units=0),
    dict(name="voluntary bursts", group="voluntary", voluntary_bursts=3),
    dict(name="motion artefacts + pops", group="artefacts", motion_artefacts=3, electrode_pops=4),
    # How a grid reaches the detector: as a bare array with no electrode
    # positions (assumed a square grid, row by row), or laid out the other
    # way round (rows along the fibres, as a column-major file gives).
    dict(name="grid 8x8, no positions (bare array)", group="layout", layout="none"),
    dict(name="grid 8x8, transposed layout", group="layout", layout="transposed"),
]


def _detect(rec, layout: str = "given"):
    detect = getattr(fasctrack, "detect", None)
    if detect is None:
        sys.exit("validate.py: fasctrack.detect is not available in this build of fasctrack "
                 "(the detector bindings are missing); rebuild with `./dev pyinstall`")
    return detect(rec.data, rec.fs, channels=rec.channels if layout == "given" else
                  None if layout == "none" else _transposed(rec.channels), progress=False)


def _transposed(channels):
    return [fasctrack.ChannelInfo(c.name, muscle=c.muscle, region=c.region, side=c.side,
                                  grid=fasctrack.GridPosition(c.grid.column, c.grid.row, c.grid.ied_mm))
            for c in channels]


def _outside(df: pd.DataFrame, spans: List[tuple]) -> pd.DataFrame:
    if not spans or df.empty:
        return df
    s = df["sample"].to_numpy()
    keep = np.ones(len(df), dtype=bool)
    for a, b in spans:
        keep &= ~((s >= a) & (s < b))
    return df[keep]


def run_one(condition: Dict[str, Any], seed: int, duration_s: float) -> Dict[str, Any]:
    options = dict(GRID)
    options.update({k: v for k, v in condition.items() if k not in ("name", "group", "layout")})
    options.update(duration_s=duration_s, seed=seed)
    sim = simulate(**options)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bare array's layout note: assumed here on purpose
        result = _detect(sim.recording, condition.get("layout", "given"))
    elapsed = time.perf_counter() - t0
    events = result.events
    startup = []
    masks = result.masks
    if len(masks) and "reason" in masks.columns:
        for m in masks[masks["reason"] == "startup"].itertuples():
            startup.append((int(m.start_sample), int(m.stop_sample)))
    truth = sim
    if startup:
        truth = type(sim)(recording=sim.recording, events=_outside(sim.events, startup), units=sim.units,
                          masks=sim.masks, options=sim.options)
        events = _outside(events, startup)
    scores = evaluate(truth, events[["sample", "unit"]])
    scores.update(seed=seed, detect_s=elapsed)
    return scores


def summarise(name: str, runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    tp = sum(r["true_positives"] for r in runs)
    fp = sum(r["false_positives"] for r in runs)
    fn = sum(r["false_negatives"] for r in runs)
    true_events = sum(r["true_events"] for r in runs)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    masked_min = sum(r["masked_minutes"] for r in runs)
    in_masked = sum(r["detections_in_masked"] for r in runs)
    return dict(condition=name, recordings=len(runs), true_events=true_events, false_events=fp,
                precision=precision, recall=recall,
                f1=f1, unit_ari=float(np.mean([r["unit_ari"] for r in runs])),
                false_per_masked_minute=(in_masked / masked_min) if masked_min > 0 else None,
                detect_s=float(np.sum([r["detect_s"] for r in runs])), runs=runs)


def markdown(rows: List[Dict[str, Any]]) -> str:
    lines = ["| condition | recordings | true events | false events | precision | recall | F1 | unit ARI "
             "| false/masked min |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fpm = "-" if r["false_per_masked_minute"] is None else f"{r['false_per_masked_minute']:.2f}"
        lines.append(f"| {r['condition']} | {r['recordings']} | {r['true_events']} | {r['false_events']} | "
                     f"{r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['f1']:.3f} | {r['unit_ari']:.3f} | {fpm} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed x 60 s per condition (CI-sized)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per condition (default 3; 1 with --quick)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per recording (default 120; 60 quick)")
    parser.add_argument("--first-seed", type=int, default=1000,
                        help="seeds are first-seed, first-seed + 1, ... (default 1000; another range is a fresh sample)")
    parser.add_argument("--conditions", default="", help="comma-separated groups to run: "
                        + ", ".join(sorted({c["group"] for c in CONDITIONS})))
    parser.add_argument("--json", metavar="PATH", help="also write the results (with per-recording scores) here")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    duration = args.duration if args.duration is not None else (60.0 if args.quick else 120.0)
    if seeds < 1 or duration <= 0:
        parser.error("--seeds must be at least 1 and --duration positive")
    wanted = {g.strip() for g in args.conditions.split(",") if g.strip()}
    unknown = wanted - {c["group"] for c in CONDITIONS}
    if unknown:
        parser.error(f"--conditions: unknown group(s) {', '.join(sorted(unknown))}")
    conditions = [c for c in CONDITIONS if not wanted or c["group"] in wanted]

    if getattr(fasctrack, "detect", None) is None:
        print("validate.py: fasctrack.detect is not available in this build of fasctrack "
              "(the detector bindings are missing); rebuild with `./dev pyinstall`", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    rows = []
    for c in conditions:
        runs = [run_one(c, args.first_seed + k, duration) for k in range(seeds)]
        rows.append(summarise(c["name"], runs))
        print(f"  {c['name']}: done ({rows[-1]['detect_s']:.1f} s detecting)", file=sys.stderr)
    print(f"fasctrack {fasctrack.__version__}: {seeds} seed(s) (from {args.first_seed}) x {duration:g} s per condition, "
          f"tolerance 5 ms, {time.perf_counter() - t0:.0f} s in all\n")
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(seeds=seeds, first_seed=args.first_seed, duration_s=duration, tolerance_ms=5.0, conditions=rows), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
