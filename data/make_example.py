"""Generate the bundled example recording (deterministic; run once, output committed).

    python data/make_example.py

Writes, next to this script, a BIDS-EMG style recording of 60 s of "rest" from an
8-electrode 2x4 surface grid over the right biceps at 2048 Hz:

- sub-01_ses-01_task-rest_emg.edf       EDF+ written by pyedflib (not by fasctrack)
- sub-01_ses-01_task-rest_channels.tsv  BIDS channels table + fasctrack columns
- sub-01_ses-01_task-rest_emg.json      BIDS sidecar (PowerLineFrequency 50)
- sub-01_ses-01_task-rest_events.tsv    ground truth: every simulated discharge

Content (a stand-in until the full simulator lands): 3 uV white background noise,
baseline wander, 50 Hz mains with 3rd/5th harmonics (much stronger on channel
e8, a poorly attached electrode), an ECG at 66 bpm seen on all channels, two
motor units firing sparse fasciculation-like discharges that propagate both
ways from an innervation zone near column 2 at 4 m/s and fade towards the
tendons, and a 3 s voluntary contraction at 40-43 s.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyedflib

FS = 2048
DURATION_S = 60
ROWS, COLS, IED_MM = 2, 4, 10.0
CONDUCTION_M_PER_S = 4.0
STEM = "sub-01_ses-01_task-rest"
HERE = Path(__file__).resolve().parent


def muap(t_s: np.ndarray, width_s: float) -> np.ndarray:
    """Triphasic surface MUAP shape: negative second derivative of a Gaussian."""
    u = t_s / width_s
    return (1 - u**2) * np.exp(-0.5 * u**2)


def main() -> None:
    rng = np.random.default_rng(20261122)
    n = FS * DURATION_S
    t = np.arange(n) / FS
    x = rng.normal(0.0, 3.0, size=(ROWS * COLS, n))

    # Baseline wander (skin-electrode potential drift) and mains with harmonics.
    for ch in range(ROWS * COLS):
        x[ch] += 40 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))
        mains_uv = 150.0 if ch == 7 else rng.uniform(4, 8)
        phase = rng.uniform(0, 2 * np.pi)
        for k, rel in ((1, 1.0), (3, 0.3), (5, 0.1)):
            x[ch] += mains_uv * rel * np.sin(2 * np.pi * 50 * k * t + k * phase)

    # ECG: broad QRS-like complexes (~80 ms), common to the whole grid with a
    # smooth gain, unlike a MUAP, which is local.
    ecg_gain = np.linspace(0.8, 1.2, ROWS * COLS)[:, np.newaxis]
    for beat in np.arange(0.4, DURATION_S, 60 / 66):
        x += 60 * ecg_gain * muap(t - beat, 0.02)[np.newaxis, :] * rng.uniform(0.9, 1.1)

    # Two motor units; discharges propagate along the columns (fibre direction)
    # away from an innervation zone near column 1, and fade towards the tendon,
    # so each unit has one electrode where it is largest.
    column_gain = np.array([0.7, 1.0, 0.8, 0.55])
    events = []
    units = [dict(row=0, amp=120.0, width=0.0012, times=np.sort(rng.uniform(1, 39, 12))),
             dict(row=1, amp=70.0, width=0.0018, times=np.sort(rng.uniform(1, 59, 9)))]
    units[1]["times"] = units[1]["times"][(units[1]["times"] < 39.5) | (units[1]["times"] > 43.5)]
    for label, unit in enumerate(units, start=1):
        for onset in unit["times"]:
            for r in range(ROWS):
                for c in range(COLS):
                    delay = abs(c - 1) * IED_MM * 1e-3 / CONDUCTION_M_PER_S
                    gain = unit["amp"] * column_gain[c] * np.exp(-abs(r - unit["row"]) * IED_MM / 8.0)
                    x[r * COLS + c] -= gain * muap(t - onset - delay, unit["width"])
            # Truth: the largest deflection, on the unit's row at column 1 (no delay there).
            events.append((round(float(onset), 6), 0.01, "fasciculation", label))

    # Voluntary contraction: dense interference pattern, 40-43 s.
    burst = (t >= 40) & (t < 43)
    envelope = np.sin(np.pi * (t[burst] - 40) / 3)
    x[:, burst] += rng.normal(0, 60, size=(ROWS * COLS, burst.sum())) * envelope

    write_edf(x)
    write_sidecars(events)


def write_edf(x: np.ndarray) -> None:
    path = HERE / f"{STEM}_emg.edf"
    names = [f"e{i + 1}" for i in range(x.shape[0])]
    with pyedflib.EdfWriter(str(path), x.shape[0], file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders([dict(label=f"EMG {name}", dimension="uV", sample_frequency=FS,
                                 physical_max=3000.0, physical_min=-3000.0,
                                 digital_max=32767, digital_min=-32768,
                                 transducer="Ag/AgCl surface grid", prefilter="HP:DC LP:500Hz")
                            for name in names])
        w.setStartdatetime(__import__("datetime").datetime(2026, 1, 5, 9, 30, 0))
        w.setPatientCode("sub-01")
        w.writeSamples(np.ascontiguousarray(x))
        w.writeAnnotation(40.0, 3.0, "voluntary contraction")


def write_sidecars(events) -> None:
    rows = ["name\ttype\tunits\tstatus\tstatus_description\tmuscle\tregion\tside\tgrid_row\tgrid_column\tied_mm"]
    for i in range(ROWS * COLS):
        r, c = divmod(i, COLS)
        bad = i == 7
        rows.append("\t".join([f"EMG e{i + 1}", "EMG", "uV", "bad" if bad else "good",
                               "poor skin contact: strong mains" if bad else "n/a",
                               "biceps_brachii_r", "cervical", "R", str(r), str(c), f"{IED_MM:g}"]))
    (HERE / f"{STEM}_channels.tsv").write_text("\n".join(rows) + "\n")
    sidecar = {"TaskName": "rest", "SamplingFrequency": FS, "PowerLineFrequency": 50,
               "EMGReference": "monopolar, reference on the olecranon",
               "EMGPlacementScheme": "2x4 grid over the biceps brachii belly, columns along the fibres",
               "RecordingType": "continuous", "SoftwareVersions": "synthetic (data/make_example.py)"}
    (HERE / f"{STEM}_emg.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    lines = ["onset\tduration\ttrial_type\tunit"] + [f"{o:.6f}\t{d}\t{k}\t{u}" for o, d, k, u in sorted(events)]
    (HERE / f"{STEM}_events.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
