"""The bundled example recording end to end through the Python API."""
import numpy as np

import fasctrack


def test_example_path_points_at_the_bundled_recording(example_path):
    assert fasctrack.example_path().endswith(example_path.name)


def test_example_reads_with_bids_metadata(example_path):
    rec = fasctrack.read(example_path)
    assert rec.n_channels == 8 and rec.fs == 2048.0 and rec.n_samples == 122880
    assert rec.format == "edf"
    assert rec.power_line_hz == 50.0
    assert rec.start_time.startswith("2026-01-05T09:30:00")
    first = rec.channels[0]
    assert (first.name, first.type, first.muscle, first.region, first.side) == (
        "EMG e1", "EMG", "biceps_brachii_r", "cervical", "right")
    assert (first.grid.row, first.grid.column, first.grid.ied_mm) == (0, 0, 10.0)
    assert rec.channels[7].marked_bad and "mains" in rec.channels[7].bad_reason
    assert [(o, d, t) for o, d, t in rec.annotations] == [(40.0, 3.0, "voluntary contraction")]


def test_example_conditioning_finds_and_removes_mains(example_path):
    rec = fasctrack.read(example_path)
    out = fasctrack.condition(rec.data, rec.fs)
    assert out.mains.status == "found" and out.mains_hz == 50.0
    assert [q.flag_names for q in out.quality][7] == ["excessive_mains"]
    assert all(q.usable for q in out.quality[:7])
    f, p_raw = fasctrack.welch(rec.data, rec.fs, nperseg=4096)
    _, p_out = fasctrack.welch(out.data, rec.fs, nperseg=4096)
    k50 = int(np.argmin(np.abs(f - 50)))
    drop_db = 10 * np.log10(p_raw[:, k50] / p_out[:, k50])
    assert drop_db.min() > 20, drop_db
    # The simulated discharges survive: each of unit 1's events is still a clear peak.
    events = np.loadtxt(example_path.with_name("sub-01_ses-01_task-rest_events.tsv"), skiprows=1,
                        usecols=(0, 3), delimiter="\t")
    unit1 = events[events[:, 1] == 1, 0]
    noise = 1.4826 * np.median(np.abs(out.data[0] - np.median(out.data[0])))
    for onset in unit1:
        i = int(onset * rec.fs)
        assert np.abs(out.data[0, i - 20:i + 40]).max() > 8 * noise
