"""fasctrack.read / write_npy / write_edf against independent readers.

Oracles: wfdb (rdrecord), pyedflib, MNE-Python (read_raw_edf / read_raw_bdf),
numpy.loadtxt / numpy.load, and the EEGLAB decode of test.bdf stored in
test_bdf_eeglab.mat (scipy.io.loadmat). All on the real files in
shared/data/real, used in place.
"""

import os
from pathlib import Path

import numpy as np
import pytest

import fasctrack

REAL = Path(
    os.environ.get(
        "FASCTRACK_REAL_DATA_DIR",
        Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real",
    )
)
if not REAL.is_dir():
    pytest.skip(f"real data folder {REAL} not found", allow_module_level=True)

EMGDB = REAL / "physionet-emgdb"
MNE_DIR = REAL / "mne-python-edf-bdf"
BIOSPPY = REAL / "biosppy-emg"
RECORDS = ["emg_healthy", "emg_myopathy", "emg_neuropathy"]


# ---- WFDB ----------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORDS)
def test_wfdb_matches_wfdb_rdrecord(name):
    wfdb = pytest.importorskip("wfdb")
    ref = wfdb.rdrecord(str(EMGDB / name))
    rec = fasctrack.read(str(EMGDB / f"{name}.hea"))
    assert rec.format == "wfdb"
    assert rec.fs == ref.fs == 4000
    assert rec.data.shape == (1, ref.sig_len)
    assert [c.name for c in rec.channels] == ref.sig_name
    assert rec.channels[0].source_unit == ref.units[0]
    if name == "emg_neuropathy":  # int16 wrap-around in the published file is reported, not hidden
        assert len(rec.warnings) == 1 and "wrapped around" in rec.warnings[0]
    else:
        assert rec.warnings == []
    # Same arithmetic as wfdb: (adu - baseline) / gain, then mV -> uV.
    np.testing.assert_allclose(rec.data[0], ref.p_signal[:, 0] * 1000.0, rtol=1e-12, atol=1e-9)


def test_wfdb_record_name_and_dat_path_are_equivalent():
    a = fasctrack.read(str(EMGDB / "emg_myopathy"))
    b = fasctrack.read(str(EMGDB / "emg_myopathy.dat"))
    np.testing.assert_array_equal(a.data, b.data)


def test_neuropathy_txt_is_dat_unwrapped():
    txt = np.loadtxt(EMGDB / "emg_neuropathy.txt")
    rec_txt = fasctrack.read(str(EMGDB / "emg_neuropathy.txt"), scale_to_uv=1000.0)
    rec_dat = fasctrack.read(str(EMGDB / "emg_neuropathy.hea"))
    assert rec_txt.fs == pytest.approx(4000.0)
    np.testing.assert_allclose(rec_txt.data[0], txt[:, 1] * 1000.0, rtol=1e-12)
    diff = rec_txt.data[0] - rec_dat.data[0]
    wrapped = np.abs(diff + 6553.6) < 1e-6
    assert wrapped.sum() == 410
    assert np.flatnonzero(wrapped)[0] == 365
    assert np.all(np.abs(diff[~wrapped]) < 1e-6)


# ---- EDF / BDF -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["test_edf_stim_channel.edf", "duplicate_channel_labels.edf"])
def test_edf_matches_pyedflib(name):
    pyedflib = pytest.importorskip("pyedflib")
    path = MNE_DIR / name
    with pyedflib.EdfReader(str(path)) as f:
        ref = np.array([f.readSignal(i) for i in range(f.signals_in_file)])
        fs = f.getSampleFrequencies()
        start = f.getStartdatetime()
        labels = f.getSignalLabels()
    rec = fasctrack.read(str(path))
    assert rec.format == "edf"
    assert rec.fs == fs[0]
    assert rec.start_time == start.isoformat()
    assert rec.data.shape == ref.shape
    np.testing.assert_allclose(rec.data, ref, rtol=1e-12, atol=1e-9)
    names = [c.name for c in rec.channels]
    if len(set(labels)) == len(labels):
        assert names == labels
    else:
        assert names == ["EEG F1-Ref", "EEG F2-Ref", "EEG F1-Ref (2)"]
        assert any("duplicate channel label" in w for w in rec.warnings)


def test_edf_record_of_9_59375_seconds_is_128_hz():
    rec = fasctrack.read(str(MNE_DIR / "test_edf_stim_channel.edf"))
    assert rec.fs == 128.0
    assert rec.data.shape == (25, 1228)
    assert rec.channels[0].type == "EEG"


@pytest.mark.parametrize("name", ["test_edf_stim_channel.edf", "duplicate_channel_labels.edf", "test.bdf"])
def test_edf_bdf_match_mne(name):
    mne = pytest.importorskip("mne")
    path = MNE_DIR / name
    reader = mne.io.read_raw_bdf if name.endswith(".bdf") else mne.io.read_raw_edf
    raw = reader(str(path), preload=True, verbose="error")
    ref = raw.get_data() * 1e6
    rec = fasctrack.read(str(path))
    if name.endswith(".bdf"):
        ref = ref[:72]  # fasctrack drops the Status channel (unit "Boolean")
    assert rec.data.shape == ref.shape
    # MNE scales with cal * digital + offset; EDFlib's formula differs in the last bits.
    np.testing.assert_allclose(rec.data, ref, rtol=1e-9, atol=1e-6)


def test_bdf_matches_eeglab_decode():
    loadmat = pytest.importorskip("scipy.io").loadmat
    eeglab = loadmat(str(MNE_DIR / "test_bdf_eeglab.mat"))["data"]  # (72, 2048) single, uV
    rec = fasctrack.read(str(MNE_DIR / "test.bdf"))
    assert eeglab.shape == (72, 2048) and eeglab.dtype == np.float32
    assert rec.fs == 2048.0
    assert rec.data.shape == (72, 2048)
    assert rec.start_time == "2013-08-01T13:21:46"
    assert any("'Status' excluded" in w for w in rec.warnings)
    np.testing.assert_allclose(rec.data, eeglab.astype(np.float64), rtol=1.2e-7, atol=0)
    # To float32 precision the two decodes are identical.
    np.testing.assert_array_equal(rec.data.astype(np.float32), eeglab)


def test_bdf_status_channel_on_request():
    rec = fasctrack.read(str(MNE_DIR / "test.bdf"), include_non_voltage=True)
    assert rec.data.shape == (73, 2048)
    assert rec.channels[72].name == "Status"
    assert rec.channels[72].source_unit == "Boolean"
    assert set(np.unique(rec.data[72])) == {-6815744.0, -6815616.0}


# ---- text -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["emg.txt", "emg_1.txt"])
def test_biosppy_text_matches_loadtxt(name):
    ref = np.loadtxt(BIOSPPY / name, comments="#")
    rec = fasctrack.read(str(BIOSPPY / name))
    assert rec.fs == 1000.0
    assert rec.channels[0].name == "EMG"
    assert rec.channels[0].source_unit == "counts"
    assert not rec.channels[0].calibrated
    assert any("uncalibrated ADC counts" in w for w in rec.warnings)
    np.testing.assert_array_equal(rec.data[0], ref)


# ---- writing ----------------------------------------------------------------------


def test_write_npy_round_trips_with_numpy(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 1000))
    for dtype in (np.float64, np.float32):
        path = tmp_path / f"x_{np.dtype(dtype).name}.npy"
        fasctrack.write_npy(str(path), x.astype(dtype))
        y = np.load(path)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, x.astype(dtype))
        raw = path.read_bytes()
        header_len = int.from_bytes(raw[8:10], "little")
        assert (10 + header_len) % 64 == 0
        rec = fasctrack.read(str(path), fs=500.0)
        np.testing.assert_array_equal(rec.data, x.astype(dtype))


@pytest.mark.parametrize("bdf", [False, True])
def test_write_edf_readable_by_pyedflib_and_mne(tmp_path, bdf):
    pyedflib = pytest.importorskip("pyedflib")
    mne = pytest.importorskip("mne")
    src = fasctrack.read(str(EMGDB / "emg_healthy.hea"))
    path = tmp_path / ("out.bdf" if bdf else "out.edf")
    fasctrack.write_edf(str(path), src, bdf=bdf)
    x = src.data[0]
    step = 2 * 1.1 * np.abs(x).max() / (2**24 - 1 if bdf else 2**16 - 1)
    with pyedflib.EdfReader(str(path)) as f:
        assert f.getSignalLabels() == ["EMG"]
        assert f.getSampleFrequencies()[0] == 4000
        assert f.getPhysicalDimension(0) == "uV"
        y = f.readSignal(0)
    assert y.size == 52000  # padded to whole one-second records
    assert np.abs(y[: x.size] - x).max() <= 0.5 * step * 1.001
    reader = mne.io.read_raw_bdf if bdf else mne.io.read_raw_edf
    raw = reader(str(path), preload=True, verbose="error")
    np.testing.assert_allclose(raw.get_data()[0, : x.size] * 1e6, x, atol=0.5 * step * 1.001)
    back = fasctrack.read(str(path))
    assert back.format == ("bdf" if bdf else "edf")
    np.testing.assert_allclose(back.data[0, : x.size], x, atol=0.5 * step * 1.001)


# ---- errors -----------------------------------------------------------------------


def test_error_classes_and_messages(tmp_path):
    assert issubclass(fasctrack.ReadError, OSError)
    assert issubclass(fasctrack.UnsupportedFormatError, fasctrack.ReadError)

    missing = tmp_path / "missing.edf"
    with pytest.raises(fasctrack.ReadError, match="no such file") as e:
        fasctrack.read(str(missing))
    assert str(missing) in str(e.value)
    with pytest.raises(OSError):
        fasctrack.read(str(missing))

    weird = tmp_path / "data.xyz"
    weird.write_bytes(b"1\n")
    with pytest.raises(fasctrack.UnsupportedFormatError, match=r"unsupported file extension '\.xyz'"):
        fasctrack.read(str(weird))

    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros((2, 10)))
    with pytest.raises(ValueError, match="fs is required for .npy files"):
        fasctrack.read(str(npy))

    truncated = tmp_path / "trunc.bdf"
    truncated.write_bytes((MNE_DIR / "test.bdf").read_bytes()[:100000])
    with pytest.raises(fasctrack.ReadError, match="truncated: file is shorter than its header says") as e:
        fasctrack.read(str(truncated))
    assert str(truncated) in str(e.value)

    garbage = tmp_path / "garbage.edf"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(fasctrack.UnsupportedFormatError, match="not an EDF/BDF file"):
        fasctrack.read(str(garbage))

    huge = tmp_path / "huge.hea"
    huge.write_text("huge 1 4000 1000000000000\nhuge.dat 16 10000/mV\n")
    (tmp_path / "huge.dat").write_bytes(b"\0" * 100)
    with pytest.raises(fasctrack.ReadError, match="header says 1000000000000 samples, file holds 50"):
        fasctrack.read(str(huge))

    with pytest.raises(ValueError, match="no channel named 'Cz'"):
        fasctrack.read(str(MNE_DIR / "duplicate_channel_labels.edf"), channels=["Cz"])


def test_sidecars_from_python(tmp_path):
    x = np.arange(8, dtype=np.float64).reshape(2, 4)
    fasctrack.write_npy(str(tmp_path / "sub-01_emg.npy"), x)
    (tmp_path / "sub-01_emg.json").write_text('{"SamplingFrequency": 1000, "PowerLineFrequency": 60}')
    (tmp_path / "sub-01_channels.tsv").write_text(
        "name\ttype\tunits\tstatus\tstatus_description\tmuscle\tregion\tside\n"
        "ch1\tEMG\tmV\tgood\tn/a\tdeltoid_l\tcervical\tL\n"
        "ch2\tEMG\tuV\tbad\tnoisy\tn/a\tn/a\tn/a\n"
    )
    rec = fasctrack.read(str(tmp_path / "sub-01_emg.npy"))
    assert rec.fs == 1000.0
    assert rec.power_line_hz == 60.0
    assert rec.channels[0].muscle == "deltoid_l"
    assert rec.channels[0].region == "cervical"
    assert rec.channels[0].side == "left"
    assert rec.channels[1].marked_bad and rec.channels[1].bad_reason == "noisy"
    np.testing.assert_array_equal(rec.data[0], x[0] * 1000.0)
    np.testing.assert_array_equal(rec.data[1], x[1])
    (tmp_path / "sub-01_channels.tsv").write_text("label\ttype\nch1\tEMG\n")
    with pytest.raises(fasctrack.ReadError, match="no 'name' column"):
        fasctrack.read(str(tmp_path / "sub-01_emg.npy"))


@pytest.mark.parametrize("dtype", [None, np.float32])
def test_read_with_progress_reads_in_blocks_identically(example_path, tmp_path, capfd, dtype):
    # progress=True reads in 10 s blocks with a bar; the samples and metadata
    # are those of the one-piece read, for EDF+ (with sidecars) and NPY.
    npy = tmp_path / "x.npy"
    np.save(npy, np.random.default_rng(3).standard_normal((3, 2048 * 25)).astype(np.float32))
    for path, kw in ((example_path, {}), (npy, {"fs": 2048.0})):
        whole = fasctrack.read(path, dtype=dtype, progress=False, **kw)
        blocks = fasctrack.read(path, dtype=dtype, progress=True, **kw)
        assert blocks.data.dtype == whole.data.dtype and blocks.data.flags.c_contiguous
        np.testing.assert_array_equal(blocks.data, whole.data)
        assert blocks.ch_names == whole.ch_names and blocks.fs == whole.fs
        assert blocks.annotations == whole.annotations and blocks.warnings == whole.warnings
        assert blocks.start_time == whole.start_time and blocks.source == whole.source
        assert [c.marked_bad for c in blocks.channels] == [c.marked_bad for c in whole.channels]
    assert "read" in capfd.readouterr().err  # the bar was drawn


def test_grid_channels_are_row_major_with_positions():
    chans = fasctrack.grid_channels(2, 3, ied_mm=5.0, muscle="tibialis_anterior_l", side="left")
    assert [c.name for c in chans] == ["r1c1", "r1c2", "r1c3", "r2c1", "r2c2", "r2c3"]
    assert [(c.grid.row, c.grid.column) for c in chans] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert all(c.grid.ied_mm == 5.0 and c.muscle == "tibialis_anterior_l" and c.side == "left" for c in chans)
    with pytest.raises(ValueError, match="rows and columns must be positive"):
        fasctrack.grid_channels(0, 3)


def test_read_grid_places_a_bare_npy(tmp_path):
    sim = fasctrack.simulate(rows=4, columns=4, duration_s=20.0, rate_per_min=30.0, seed=913)
    path = tmp_path / "g.npy"
    np.save(path, sim.recording.data)
    fs = sim.recording.fs
    for grid in [(4, 4), "4x4"]:
        rec = fasctrack.read(path, fs=fs, grid=grid, ied_mm=8.0)
        assert [(c.grid.row, c.grid.column, c.grid.ied_mm) for c in rec.channels] == \
            [(c.grid.row, c.grid.column, c.grid.ied_mm) for c in sim.recording.channels]
    expected = fasctrack.detect(sim.recording, progress=False).events
    got = fasctrack.detect(fasctrack.read(path, fs=fs, grid=(4, 4)), progress=False).events
    assert len(expected) >= 5
    assert got["sample"].tolist() == expected["sample"].tolist()
    # The same array with grid_channels, and without any layout (a warning, other events).
    chans = fasctrack.grid_channels(4, 4)
    assert fasctrack.detect(sim.recording.data, fs, chans, progress=False).events["sample"].tolist() == \
        expected["sample"].tolist()
    # Without any layout 16 channels are assumed to be a 4x4 grid (with a
    # warning): the same events; as independent leads, others.
    with pytest.warns(UserWarning, match="16 EMG channels without electrode positions are analysed as a 4x4 grid"):
        assumed = fasctrack.detect(sim.recording.data, fs, progress=False)
    assert assumed.events["sample"].tolist() == expected["sample"].tolist()
    assert assumed.summary["layout"] == "assumed_grid" and assumed.summary["assumed_grid_side"] == 4
    with pytest.warns(UserWarning, match="analysed as independent leads.*grid_channels"):
        bare = fasctrack.detect(sim.recording.data, fs, progress=False, assume_square_grid=False)
    assert bare.summary["layout"] == "independent"
    assert bare.events["sample"].tolist() != expected["sample"].tolist()


@pytest.mark.parametrize("grid, message", [((4, 5), "grid 4x5 places 20 electrodes, the recording has 16"),
                                           ("4by4", "expected ROWSxCOLUMNS"), ((4.5, 4), "whole numbers"),
                                           (4, "expected \\(rows, columns\\)")])
def test_read_bad_grid_is_a_value_error(tmp_path, grid, message):
    path = tmp_path / "z.npy"
    np.save(path, np.zeros((16, 2048), np.float32))
    with pytest.raises(ValueError, match=message):
        fasctrack.read(path, fs=2048.0, grid=grid)
    with pytest.raises(ValueError, match="ied_mm: only with grid"):
        fasctrack.read(path, fs=2048.0, ied_mm=8.0)
