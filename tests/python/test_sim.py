"""The simulator and evaluator from Python."""
import numpy as np
import pandas as pd
import pytest

import fasctrack

try:  # exported from the package by __init__; fall back while it is not
    from fasctrack import evaluate, simulate
except ImportError:  # pragma: no cover
    from fasctrack._sim import evaluate, simulate
from fasctrack._sim import Simulation


def test_grid_shapes_and_columns():
    sim = simulate(duration_s=10.0, rate_per_min=30.0, seed=3)
    assert isinstance(sim, Simulation)
    rec = sim.recording
    assert isinstance(rec, fasctrack.Recording)
    assert rec.data.shape == (64, 20480)
    assert rec.data.dtype == np.float64
    assert rec.fs == 2048.0
    assert rec.format == "simulated"
    assert rec.power_line_hz == 50.0
    assert rec.ch_names[:3] == ["r1c1", "r1c2", "r1c3"]
    ch = rec.channels[9]
    assert ch.name == "r2c2"
    assert ch.grid == fasctrack.GridPosition(1, 1, 8.0)
    assert ch.muscle == "biceps_brachii_r"
    assert list(sim.events.columns) == ["sample", "time_s", "unit", "channel", "amplitude_uv", "doublet", "complex"]
    assert len(sim.events) > 0
    assert sim.events["sample"].dtype == np.int64
    assert sim.events["doublet"].dtype == bool
    assert np.allclose(sim.events["time_s"], sim.events["sample"] / 2048.0)
    assert sim.events["sample"].is_monotonic_increasing
    assert list(sim.units.columns) == ["unit", "channel", "amplitude_uv", "complex", "phases", "rate_per_min",
                                       "endplate_mm", "transverse_mm", "depth_mm"]
    assert len(sim.units) == 4
    assert sim.units["amplitude_uv"].between(25.0, 80.0).all()
    assert list(sim.masks.columns) == ["start", "stop", "start_s", "stop_s", "reason"]
    assert len(sim.masks) == 0
    assert "Simulation" in repr(sim)


def test_bipolar_and_masks():
    sim = simulate(geometry="bipolar", bipolar_channels=4, fs=4096.0, duration_s=30.0, voluntary_bursts=1,
                   motion_artefacts=1, electrode_pops=1, ecg_uv=80.0, seed=5)
    rec = sim.recording
    assert rec.data.shape == (4, 4096 * 30)
    assert rec.ch_names == ["bp1", "bp2", "bp3", "bp4"]
    assert len({c.muscle for c in rec.channels}) == 4
    assert all(c.grid is None for c in rec.channels)
    assert set(sim.masks["reason"]) == {"voluntary", "artefact"}
    assert (sim.masks["stop"] > sim.masks["start"]).all()
    assert np.allclose(sim.masks["start_s"], sim.masks["start"] / 4096.0)
    for m in sim.masks.itertuples():
        assert not ((sim.events["sample"] >= m.start) & (sim.events["sample"] < m.stop)).any()


def test_deterministic():
    a = simulate(duration_s=5.0, seed=11)
    b = simulate(duration_s=5.0, seed=11)
    c = simulate(duration_s=5.0, seed=12)
    assert np.array_equal(a.recording.data, b.recording.data)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not np.array_equal(a.recording.data, c.recording.data)


@pytest.mark.parametrize("options, name", [
    (dict(fs=0.0), "fs"),
    (dict(duration_s=-1.0), "duration_s"),
    (dict(rows=0), "rows"),
    (dict(amplitude_min_uv=90.0, amplitude_max_uv=50.0), "amplitude_max_uv"),
    (dict(rate_per_min=-1.0), "rate_per_min"),
    (dict(geometry="ring"), "geometry"),
    (dict(seed=-1), "seed"),
])
def test_bad_options_raise_value_error(options, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        simulate(**options)


def test_evaluate_round_trip():
    sim = simulate(duration_s=60.0, rate_per_min=20.0, voluntary_bursts=1, seed=2)
    scores = evaluate(sim, sim.events)
    assert scores["true_events"] == len(sim.events)
    assert scores["f1"] == 1.0
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0
    assert scores["unit_ari"] == pytest.approx(1.0)
    assert scores["masked_minutes"] > 0.0
    assert set(scores) == {"true_events", "detections", "true_positives", "false_positives", "false_negatives",
                           "precision", "recall", "f1", "unit_ari", "detections_in_masked", "masked_minutes",
                           "false_per_masked_minute"}


def test_evaluate_from_times_relabelled_and_shifted():
    sim = simulate(duration_s=60.0, rate_per_min=20.0, seed=4)
    det = pd.DataFrame({"time_s": sim.events["time_s"] + 0.002, "unit": sim.events["unit"] * 3 + 7})
    scores = evaluate(sim, det, tolerance_ms=5.0)
    assert scores["f1"] == 1.0
    assert scores["unit_ari"] == pytest.approx(1.0)
    # Shifted beyond the tolerance: nothing matches its own event (only the
    # odd chance coincidence with another unit's discharge).
    det = pd.DataFrame({"sample": sim.events["sample"] + 30})
    scores = evaluate(sim, det, tolerance_ms=5.0)
    assert scores["true_positives"] <= 0.05 * len(sim.events)
    assert scores["f1"] < 0.1
    # Detections with no unit labels are fine.
    scores = evaluate(sim, sim.events[["sample"]])
    assert scores["f1"] == 1.0


def test_evaluate_counts_masked_detections():
    sim = simulate(duration_s=60.0, rate_per_min=20.0, voluntary_bursts=1, seed=6)
    m = sim.masks.iloc[0]
    inside = np.arange(m.start, m.stop, int(sim.recording.fs // 4))
    det = pd.concat([sim.events[["sample", "unit"]], pd.DataFrame({"sample": inside, "unit": -1})])
    scores = evaluate(sim, det)
    assert scores["f1"] == 1.0
    assert scores["detections_in_masked"] == len(inside)
    assert scores["false_per_masked_minute"] == pytest.approx(len(inside) / scores["masked_minutes"])


def test_evaluate_rejects_bad_input():
    sim = simulate(duration_s=5.0, seed=1)
    with pytest.raises(TypeError):
        evaluate(sim.events, sim.events)
    with pytest.raises(ValueError, match="sample"):
        evaluate(sim, pd.DataFrame({"unit": [1]}))
    with pytest.raises(ValueError, match="tolerance_ms"):
        evaluate(sim, sim.events, tolerance_ms=-1.0)


def test_validate_script_scores_grids_however_their_layout_arrives(tmp_path):
    """scripts/validate.py runs and writes its table; a grid given without
    positions (assumed square, row by row) scores as with them, and so does
    the transposed layout of a column-major file."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[2] / "scripts" / "validate.py"
    out = tmp_path / "v.json"
    r = subprocess.run([sys.executable, str(script), "--quick", "--conditions", "layout,snr", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "| grid 8x8, no positions (bare array) |" in r.stdout
    rows = {c["condition"]: c for c in json.loads(out.read_text())["conditions"]}
    given = rows["snr: 25-80 uV, noise 5 uV"]
    bare = rows["grid 8x8, no positions (bare array)"]
    transposed = rows["grid 8x8, transposed layout"]
    assert given["true_events"] >= 10
    assert bare["f1"] == given["f1"] and bare["true_events"] == given["true_events"]
    assert transposed["f1"] >= given["f1"] - 0.05
