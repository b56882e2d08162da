"""MNE-Python interop: from_mne, Recording.to_mne, DetectionResult.to_mne_annotations / to_mne_events."""
import datetime as dt
import sys

import numpy as np
import pytest

import fasctrack

mne = pytest.importorskip("mne")
mne.set_log_level("ERROR")


@pytest.fixture(scope="module")
def rec(example_path):
    return fasctrack.read(example_path)


@pytest.fixture(scope="module")
def result(rec):
    return fasctrack.detect(rec)


def _raw(first_samp=0, meas_date=None):
    rng = np.random.default_rng(0)
    info = mne.create_info(["EMG1", "EMG2", "ECG", "STI 014", "EMG3"], 1000.0,
                           ["emg", "emg", "ecg", "stim", "emg"])
    info["line_freq"] = 60.0
    raw = mne.io.RawArray(rng.normal(scale=5e-6, size=(5, 5000)), info, first_samp=first_samp)
    if meas_date is not None:
        raw.set_meas_date(meas_date)
    raw.info["bads"] = ["EMG2"]
    raw.set_annotations(mne.Annotations([1.5, 3.0], [0.5, 0.0], ["BAD_movement", "cough"], orig_time=None))
    return raw


@pytest.mark.parametrize("first_samp, meas_date", [(0, None), (2500, None),
                                                     (2500, dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc))])
def test_from_mne_takes_emg_channels_in_microvolts_with_bads_and_annotations(first_samp, meas_date):
    raw = _raw(first_samp, meas_date)
    rec = fasctrack.from_mne(raw)
    assert rec.ch_names == ["EMG1", "EMG2", "EMG3"]          # ECG and stim left out
    assert rec.fs == 1000.0 and rec.data.dtype == np.float64 and rec.data.flags.c_contiguous
    np.testing.assert_allclose(rec.data, raw.get_data(picks=[0, 1, 4]) * 1e6)
    assert [c.marked_bad for c in rec.channels] == [False, True, False]
    assert "info['bads']" in rec.channels[1].bad_reason
    assert rec.power_line_hz == 60.0 and rec.format == "mne"
    # onsets count from the first data sample whatever first_samp and meas_date are
    assert rec.annotations == [(pytest.approx(1.5), 0.5, "BAD_movement"), (pytest.approx(3.0), 0.0, "cough")]
    if meas_date is None:
        assert rec.start_time == ""
    else:
        assert rec.start_time == (meas_date + dt.timedelta(seconds=2.5)).isoformat()
    assert "1 marked bad, 2 annotation(s)" in repr(rec)


def test_from_mne_annotations_follow_a_crop():
    raw = _raw(0, dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)).crop(tmin=1.0)
    rec = fasctrack.from_mne(raw)
    assert rec.annotations[0][0] == pytest.approx(0.5)  # BAD_movement was at 1.5 s, the data now start at 1.0 s
    assert rec.n_samples == 4000


def test_from_mne_picks_and_dtype():
    raw = _raw()
    rec = fasctrack.from_mne(raw, picks=["EMG3", 0], dtype=np.float32)
    assert rec.ch_names == ["EMG3", "EMG1"] and rec.data.dtype == np.float32
    with pytest.raises(ValueError, match="no channel 'nope'"):
        fasctrack.from_mne(raw, picks=["nope"])
    with pytest.raises(ValueError, match="not voltage channels"):
        fasctrack.from_mne(raw, picks=["STI 014"])
    with pytest.raises(TypeError, match="mne.io.Raw"):
        fasctrack.from_mne(np.zeros((2, 10)))


def test_from_mne_of_an_edf_typed_eeg_falls_back_with_a_warning(example_path, rec):
    raw = mne.io.read_raw_edf(example_path, preload=False)  # MNE types every EDF signal 'eeg'
    assert set(raw.get_channel_types()) == {"eeg"}
    with pytest.warns(UserWarning, match="no channel typed 'emg'"):
        from_mne = fasctrack.from_mne(raw)
    assert from_mne.ch_names == rec.ch_names
    assert "no channel typed 'emg'" in from_mne.warnings[0]
    np.testing.assert_allclose(from_mne.data, rec.data, atol=1e-6)  # same file, same calibration
    assert from_mne.annotations == [(40.0, 3.0, "voluntary contraction")]


def test_detection_on_from_mne_matches_fasctrack_read(example_path, rec, result):
    raw = mne.io.read_raw_edf(example_path, preload=True)
    raw.set_channel_types({name: "emg" for name in raw.ch_names})
    raw.info["bads"] = ["EMG e8"]  # what the BIDS channels.tsv says
    from_mne = fasctrack.from_mne(raw)
    # MNE has no electrode grid: give the sidecar's positions and muscle, as the from_mne docs show
    for ch, ref in zip(from_mne.channels, rec.channels):
        ch.grid, ch.muscle = ref.grid, ref.muscle
    res = fasctrack.detect(from_mne)
    assert res.summary["bad_channels"] == result.summary["bad_channels"]
    np.testing.assert_array_equal(res.events["sample"], result.events["sample"])
    np.testing.assert_array_equal(res.events["unit"], result.events["unit"])


def test_bad_annotations_become_masks_unless_told_otherwise(rec, result):
    # Annotate 12-18 s, where the example has discharges, as BAD, as MNE users do.
    annotated = fasctrack.Recording(rec.data, rec.fs, rec.channels,
                                    annotations=rec.annotations + [(12.0, 6.0, "BAD_manual")])
    res = fasctrack.detect(annotated)
    bad = res.masks[res.masks["reason"] == "bad_signal"]
    assert len(bad) == 1 and bad["start_s"].iloc[0] <= 12.0 and bad["stop_s"].iloc[0] >= 18.0
    inside = result.events[(result.events["time_s"] > 12) & (result.events["time_s"] < 18)]
    assert len(inside) >= 2
    assert not ((res.events["time_s"] > 12) & (res.events["time_s"] < 18)).any()
    assert res.summary["excluded_s"]["bad_signal"] >= 6.0
    assert np.isfinite(annotated.data).all()  # the caller's samples are untouched
    kept = fasctrack.detect(annotated, reject_by_annotation=False)
    np.testing.assert_array_equal(kept.events["sample"], result.events["sample"])


def test_to_mne_annotations_show_events_and_masks(rec, result):
    annot = result.to_mne_annotations()
    assert len(annot) == len(result.events) + len(result.masks)
    assert annot.orig_time is None
    desc = list(annot.description)
    assert desc.count("FP/unit0") == int((result.events["unit"] == 0).sum())
    assert sorted(d for d in desc if d.startswith("BAD_")) == sorted(f"BAD_{r}" for r in result.masks["reason"])
    fp = np.array([d.startswith("FP/") for d in desc])
    np.testing.assert_allclose(annot.onset[fp], result.events["time_s"])
    np.testing.assert_allclose(annot.duration[fp], result.events["duration_ms"] / 1000)
    assert np.all(np.diff(annot.onset) >= 0)
    assert len(result.to_mne_annotations(masks=False)) == len(result.events)

    # On the Raw they were found in: the events land on their samples, with or without a measurement date.
    raw = rec.to_mne()
    raw.set_annotations(raw.annotations + result.to_mne_annotations(raw))
    events, ids = mne.events_from_annotations(raw, event_id={"FP/unit0": 1, "FP/unit1": 2})
    expected = result.events.loc[result.events["unit"].isin([0, 1]), "sample"].to_numpy()
    np.testing.assert_array_equal(events[:, 0], expected)
    raw.set_meas_date(None)
    raw.set_annotations(result.to_mne_annotations())
    assert len(raw.annotations) == len(annot)
    np.testing.assert_allclose(raw.annotations.onset, annot.onset, atol=1e-6)  # MNE keeps onsets to 1 us


def test_to_mne_events_is_mnes_event_array(rec, result):
    events = result.to_mne_events()
    assert events.shape == (len(result.events), 3) and events.dtype == np.int64
    np.testing.assert_array_equal(events[:, 0], result.events["sample"])
    np.testing.assert_array_equal(events[:, 1], 0)
    np.testing.assert_array_equal(events[:, 2], result.events["unit"] + 1)
    expected_ids = {f"FP/unit{u}": u + 1 for u in sorted(result.units["unit"])}
    if (result.events["unit"] < 0).any():
        expected_ids["FP/unassigned"] = 0
    assert result.mne_event_id == expected_ids
    raw = rec.to_mne()
    epochs = mne.Epochs(raw, events, event_id=result.mne_event_id, tmin=-0.02, tmax=0.02, baseline=None,
                        reject_by_annotation=False, preload=True)
    assert len(epochs["FP"]) == len(result.events)   # MNE's '/' tags select every unit at once
    assert len(epochs["unit1"]) == int((result.events["unit"] == 1).sum())
    shifted = mne.io.RawArray(raw.get_data(), raw.info, first_samp=1000)
    np.testing.assert_array_equal(result.to_mne_events(shifted)[:, 0], events[:, 0] + 1000)


def test_recording_round_trips_through_mne(rec):
    raw = rec.to_mne()
    assert raw.info["sfreq"] == rec.fs and raw.ch_names == rec.ch_names
    assert set(raw.get_channel_types()) == {"emg"}
    assert raw.info["bads"] == ["EMG e8"] and raw.info["line_freq"] == 50.0
    assert raw.info["meas_date"] == dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
    np.testing.assert_allclose(raw.get_data(), rec.data * 1e-6)
    back = fasctrack.from_mne(raw)
    np.testing.assert_allclose(back.data, rec.data)
    assert back.annotations == rec.annotations
    assert [c.marked_bad for c in back.channels] == [c.marked_bad for c in rec.channels]


def test_without_mne_the_error_names_the_extra(monkeypatch, rec, result):
    monkeypatch.setitem(sys.modules, "mne", None)  # makes `import mne` raise ImportError
    for call in (lambda: fasctrack.from_mne(object()), rec.to_mne, result.to_mne_annotations):
        with pytest.raises(ImportError, match=r"pip install 'fasctrack\[mne\]'"):
            call()
    assert result.to_mne_events().shape[1] == 3  # plain numpy: works without MNE


def test_cli_masks_bad_annotations_like_python(cli, rec, tmp_path):
    # The same rule in both front ends: an EDF+ annotated BAD_... over 12-18 s
    # gives the same events from `fasctrack detect` and fasctrack.detect().
    import subprocess
    import pandas as pd
    path = tmp_path / "annotated.edf"
    fasctrack.write_edf(path, fasctrack.Recording(rec.data, rec.fs, rec.channels,
                                                  annotations=[(12.0, 6.0, "BAD_manual")]))
    back = fasctrack.read(path)
    py = fasctrack.detect(back)
    for flag, expected in (([], py), (["--keep-bad-annotations"], fasctrack.detect(back, reject_by_annotation=False))):
        out = tmp_path / f"events{len(flag)}.csv"
        r = subprocess.run([cli, "detect", str(path), "--out", str(out), *flag], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        np.testing.assert_array_equal(pd.read_csv(out)["sample"].to_numpy(), expected.events["sample"].to_numpy())
    assert not ((py.events["time_s"] > 12) & (py.events["time_s"] < 18)).any()
