"""Detection through the Python API and the CLI: interface, streaming == offline,
third-party signals and real recordings."""
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fasctrack

REQUIRED_COLUMNS = ["time_s", "sample", "unit", "channel", "amplitude_uv", "duration_ms", "phases", "turns",
                    "doublet", "confidence"]


@pytest.fixture(scope="module")
def grid_sim():
    return fasctrack.simulate(duration_s=40.0, rows=4, columns=4, n_units=3, amplitude_min_uv=60,
                              amplitude_max_uv=150, rate_per_min=20, noise_uv=4.0, seed=11)


@pytest.fixture(scope="module")
def example():
    return fasctrack.read(fasctrack.example_path())


def test_detect_returns_documented_tables(example):
    r = fasctrack.detect(example)
    assert list(r.events.columns[:4]) == ["time_s", "sample", "unit", "channel"]
    for col in REQUIRED_COLUMNS + ["area_uv_ms", "n_channels", "isolated"]:
        assert col in r.events.columns
    assert r.events["sample"].is_monotonic_increasing
    np.testing.assert_allclose(r.events["time_s"], r.events["sample"] / example.fs)
    assert set(r.masks.columns) >= {"start_s", "stop_s", "reason"}
    assert {"unit", "count", "rate_per_min", "idi_median_ms", "complex_fraction", "shape_stability"} <= set(
        r.units.columns)
    s = r.summary
    assert s["rate"]["ci_low"] <= s["rate"]["rate_per_min"] <= s["rate"]["ci_high"]
    assert s["clean_rest_s"] <= s["duration_s"]
    assert "event(s)" in repr(r) and "95% CI" in repr(r)


def test_example_detection_finds_the_simulated_discharges(example, example_path):
    r = fasctrack.detect(example)
    truth = pd.read_csv(example_path.with_name("sub-01_ses-01_task-rest_events.tsv"), sep="\t")
    found = r.events["time_s"].to_numpy()
    hits = sum(np.any(np.abs(found - t) <= 0.005) for t in truth["onset"])
    # Known weakness (README): discharges that overlap an ECG QRS are lost;
    # in this recording that is 3 of the 21, and one falls in an artefact mask.
    assert hits >= 0.8 * len(truth), (hits, len(truth), found)
    # Known weakness (README): twice the far-column end of a large propagating
    # discharge is split off as its own event (8 ms later, one electrode), and
    # on this small 2x4 grid (7 usable electrodes: too few for common-mode
    # cancellation) a few small ripples around heartbeats and the end of the
    # contraction pass as discharges.
    assert len(found) - hits <= 8, found
    # The two units, one label each (a discharge or two of each may be lost
    # near heartbeats or mislabelled).
    assert min(r.units["count"].nlargest(2)) >= 7
    # The 40-43 s voluntary contraction is masked and holds no event.
    vol = r.masks[r.masks.reason == "voluntary"]
    assert len(vol) >= 1 and vol.start_s.min() <= 40.5 and vol.stop_s.max() >= 42.5
    inside = [(a <= t < b) for t in r.events.time_s for a, b in zip(r.masks.start_s, r.masks.stop_s)]
    assert not any(inside)


def test_detect_on_array_equals_detect_on_recording(example):
    a = fasctrack.detect(example)
    b = fasctrack.detect(example.data, example.fs, channels=example.channels)
    pd.testing.assert_frame_equal(a.events, b.events)


def test_float32_and_float64_give_the_same_event_samples(grid_sim):
    rec = grid_sim.recording
    a = fasctrack.detect(rec.data.astype(np.float64), rec.fs, channels=rec.channels)
    b = fasctrack.detect(rec.data.astype(np.float32), rec.fs, channels=rec.channels)
    assert a.events["sample"].tolist() == b.events["sample"].tolist()


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=30_000), min_size=1, max_size=40))
def test_streaming_equals_offline_for_any_chunking(grid_sim, sizes):
    rec = grid_sim.recording
    offline = fasctrack.detect(rec.data, rec.fs, channels=rec.channels).events
    sd = fasctrack.StreamingDetector(rec.fs, rec.channels)
    parts, start, k = [], 0, 0
    while start < rec.n_samples:
        stop = min(rec.n_samples, start + sizes[k % len(sizes)])
        parts.append(sd.process(rec.data[:, start:stop]))
        start, k = stop, k + 1
    parts.append(sd.flush())
    streamed = fasctrack.StreamingDetector.concat(parts)
    pd.testing.assert_frame_equal(streamed.reset_index(drop=True), offline.reset_index(drop=True),
                                  check_dtype=False)
    assert sd.latency_samples > 0


def test_streaming_empty_results_are_typed_and_independent(grid_sim):
    # process() returns a copy of a cached empty frame when nothing is final:
    # the same columns and dtypes as a frame with events, and never shared.
    rec = grid_sim.recording
    sd = fasctrack.StreamingDetector(rec.fs, rec.channels)
    first = sd.process(rec.data[:, :20])
    second = sd.process(rec.data[:, 20:40])
    assert first.empty and second.empty and first is not second
    full = fasctrack.detect(rec.data, rec.fs, channels=rec.channels).events
    assert list(first.columns) == list(full.columns)
    assert first.dtypes.to_dict() == full.dtypes.to_dict()
    first["extra"] = 1.0
    first.index.name = "mine"
    first.loc[0] = 0
    third = sd.process(rec.data[:, 40:60])
    assert list(third.columns) == list(full.columns) and third.empty and third.index.name is None


def test_unknown_option_and_bad_values_are_named(example):
    with pytest.raises(TypeError, match="threshhold"):
        fasctrack.detect(example, threshhold=4)
    with pytest.raises(ValueError, match="threshold_sd"):
        fasctrack.detect(example, threshold_sd=-1)
    with pytest.raises(ValueError, match="fs"):
        fasctrack.detect(np.zeros((2, 100)))


def test_neurokit2_voluntary_bursts_are_masked_not_counted():
    nk = pytest.importorskip("neurokit2")
    fs = 2048
    # NeuroKit2's EMG is in mV-like units: bursts ~1 against 0.01 noise.
    x = nk.emg_simulate(duration=30, sampling_rate=fs, burst_number=4, burst_duration=2.0, noise=0.005,
                        random_state=3) * 1000.0
    r = fasctrack.detect(x[np.newaxis, :], fs)
    vol = r.masks[r.masks.reason.isin(["voluntary", "tonic"])]
    assert vol.stop_s.sub(vol.start_s).sum() >= 4 * 2.0 * 0.8  # most of the 8 s of bursts masked
    assert len(r.events) / (r.summary["clean_rest_s"] / 60) < 3.0, r.events


def test_biosppy_rest_recording_is_a_negative_control(real_data):
    # Almost entirely rest, activity barely above noise (12-bit counts, ~0.8 uV
    # each). Recorded finding (README): 19 small events, 9-22 uV peak-to-peak,
    # 10 of them in the weak-activity stretches its README describes (35-41 s,
    # 50-58 s); nothing large. Over-sensitivity on this quantised single lead
    # is a known open problem, so this pins today's behaviour as an upper bound.
    # (14 until small candidates that repeat an established unit's waveform
    # were rescued: the four added, at 36.8, 38.7, 54.1 and 99.4 s, carry the
    # label of a unit the recording had already shown three times, three of
    # them inside those stretches.)
    # (18 until a unit seen twice, not three times, could take them: the one
    # added, at 54.4 s, 42 ms after another discharge, lies in a weak stretch.)
    # The known-unit sweep adds one more (62.8 s, 11 uV): a copy, at its own
    # size, of the unit the recording had already shown nine times.
    rec = fasctrack.read(real_data / "biosppy-emg" / "emg.txt", scale_to_uv=0.8)
    r = fasctrack.detect(rec)
    # A run of one unit at 37.1-37.6 s (four discharges 110-230 ms apart,
    # the first three recorded under a unit later merged into it) is tonic
    # firing in the weak-activity stretch: masked, its discharges not events.
    tonic = r.masks[r.masks.reason == "tonic"]
    assert ((tonic.start_s <= 37.3) & (tonic.stop_s >= 37.6)).any(), r.masks
    without = fasctrack.detect(rec, known_unit_sweep=False).events
    assert len(without) <= 19, without
    t = without.time_s
    weak = t.between(35, 41) | t.between(50, 58)
    assert (~weak).sum() <= 9, without[~weak]
    added = r.events[~r.events["sample"].isin(without["sample"])]
    assert len(added) <= 1, added
    assert without["sample"].isin(r.events["sample"]).all()  # the sweep only adds
    for row in added.itertuples():
        before = r.events[(r.events.unit == row.unit) & (r.events["sample"] < row.sample)]
        assert len(before) >= 4, (row, before)
    assert r.events.amplitude_uv.between(1.0, 25.0).all(), r.events
    assert r.events["amplitude_uv"].max() < 30.0
    assert r.summary["noise_floor_uv"][0] == pytest.approx(1.34, abs=0.2)


def test_every_event_measures_a_potential_on_a_quantised_lead(real_data):
    # At lower thresholds the BioSPPy lead (1 kHz, ~0.8 uV steps) raises
    # one-sample spikes; a unit's template once re-timed a discharge onto one
    # and reported it with amplitude 0 and duration 1 ms (at 91.4 s, with
    # threshold_sd 4.36 and 4.13). Events move only onto a measurable potential.
    rec = fasctrack.read(real_data / "biosppy-emg" / "emg.txt", scale_to_uv=0.8)
    for threshold in (4.36, 4.13):
        e = fasctrack.detect(rec, threshold_sd=threshold).events
        assert len(e) > 18, threshold  # more sensitive than the default
        assert (e.amplitude_uv > 1.0).all(), (threshold, e[e.amplitude_uv <= 1.0])


def test_cli_detect_writes_the_documented_files(cli, example_path, tmp_path):
    out, summary, units = tmp_path / "events.csv", tmp_path / "summary.json", tmp_path / "units.json"
    p = subprocess.run([cli, "detect", str(example_path), "--out", str(out), "--summary", str(summary),
                        "--units", str(units)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    events = pd.read_csv(out)
    for col in REQUIRED_COLUMNS:
        assert col in events.columns
    python = fasctrack.detect(fasctrack.read(example_path)).events
    assert events["sample"].tolist() == python["sample"].tolist()
    s = json.loads(summary.read_text())
    assert s["n_events"] == len(events) and "ci_low" in s["rate"]
    u = json.loads(units.read_text())
    assert len(u["units"]) == s["n_units"]


def test_cli_detect_npy_requires_fs(cli, tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros((2, 4096), np.float32))
    r = subprocess.run([cli, "detect", str(p), "--out", str(tmp_path / "e.csv")], capture_output=True, text=True)
    assert r.returncode in (2, 3) and "fs" in r.stderr
    r = subprocess.run([cli, "detect", str(p), "--fs", "2048", "--out", str(tmp_path / "e.csv")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_emgdb_needle_records_what_it_finds(real_data):
    # Needle EMG, not surface; recorded behaviour (README): all three records
    # are active throughout (neurogenic, interference and myopathic
    # potentials), and the absolute RMS criterion masks them as voluntary
    # even where the noise floor itself has adapted to the activity.
    db = real_data / "physionet-emgdb"
    neuro = fasctrack.detect(fasctrack.read(db / "emg_neuropathy.hea"))
    assert neuro.summary["excluded_s"]["voluntary"] > 30.0
    assert neuro.summary["insufficient"]
    for name in ("emg_healthy", "emg_myopathy"):
        r = fasctrack.detect(fasctrack.read(db / f"{name}.hea"))
        assert len(r.events) <= 5, (name, r.events)
        assert r.summary["excluded_s"]["voluntary"] > 0.5 * r.summary["duration_s"], name
        assert r.summary["insufficient"], name


def test_detect_file_streams_a_file_to_the_same_result(tmp_path):
    """detect_file reads the file in blocks; the result is detect(read(...))'s."""
    path = fasctrack.example_path()
    streamed = fasctrack.detect_file(path, progress=False)
    whole = fasctrack.detect(fasctrack.read(path), progress=False)
    assert len(whole.events) >= 5
    pd.testing.assert_frame_equal(streamed.events, whole.events)
    pd.testing.assert_frame_equal(streamed.masks, whole.masks)
    assert streamed.summary == whole.summary
    # A bare .npy grid with its layout given, and with none (assumed square).
    sim = fasctrack.simulate(rows=4, columns=4, duration_s=20.0, rate_per_min=30.0, seed=915)
    npy = tmp_path / "g.npy"
    np.save(npy, sim.recording.data)
    expected = fasctrack.detect(sim.recording, progress=False).events["sample"].tolist()
    placed = fasctrack.detect_file(npy, fs=sim.recording.fs, grid=(4, 4), ied_mm=8.0, progress=False)
    assert placed.events["sample"].tolist() == expected and placed.summary["layout"] == "grid"
    # The simulator lays its columns along the fibres; the units say so.
    assert placed.summary["fibre_axis"] == "columns"
    # The fibre line is an option (on by default); without it only the 3x3
    # neighbourhood scores, and the axis is still voted.
    plain = fasctrack.detect(sim.recording, fibre_line=False, progress=False)
    assert fasctrack.DetectOptions().fibre_line is True
    assert plain.summary["fibre_axis"] == "columns" and len(plain.events) > 0
    assert placed.channels[5].grid.row == 1 and placed.channels[5].grid.column == 1
    with pytest.warns(UserWarning, match="analysed as a 4x4 grid"):
        assumed = fasctrack.detect_file(npy, fs=sim.recording.fs, progress=False)
    assert assumed.events["sample"].tolist() == expected and assumed.summary["layout"] == "assumed_grid"


def test_detect_file_errors_name_the_problem(tmp_path):
    with pytest.raises(fasctrack.ReadError, match="missing.npy"):
        fasctrack.detect_file(tmp_path / "missing.npy", fs=2048.0)
    npy = tmp_path / "z.npy"
    np.save(npy, np.zeros((4, 4096), np.float32))
    with pytest.raises(ValueError, match="ied_mm: only with grid"):
        fasctrack.detect_file(npy, fs=2048.0, ied_mm=8.0)
    with pytest.raises(ValueError, match="grid 3x3 places 9 electrodes"):
        fasctrack.detect_file(npy, fs=2048.0, grid=(3, 3))
    with pytest.raises(TypeError, match="unknown detection option 'threshold'"):
        fasctrack.detect_file(npy, fs=2048.0, threshold=4.0)
