"""The Python package's surface: API names, Recording, exceptions, zero-copy."""
import tracemalloc

import numpy as np
import pytest

import fasctrack


def test_public_api_names_exist():
    for name in fasctrack.__all__:
        assert hasattr(fasctrack, name), name
    assert fasctrack.__version__ == "0.1.0"


def test_exception_hierarchy_lets_users_catch_oserror():
    assert issubclass(fasctrack.ReadError, OSError)
    assert issubclass(fasctrack.ReadError, fasctrack.FasctrackError)
    assert issubclass(fasctrack.UnsupportedFormatError, fasctrack.ReadError)
    assert issubclass(fasctrack.WriteError, OSError)


def test_missing_file_raises_read_error_naming_it(tmp_path):
    missing = tmp_path / "nope.edf"
    with pytest.raises(fasctrack.ReadError, match="nope.edf"):
        fasctrack.read(missing)


def test_unknown_extension_raises_unsupported_format(tmp_path):
    p = tmp_path / "rec.xyz"
    p.write_bytes(b"0123")
    with pytest.raises(fasctrack.UnsupportedFormatError, match="rec.xyz"):
        fasctrack.read(p)


def test_recording_validates_and_summarises():
    rec = fasctrack.Recording(np.zeros((3, 500), np.float32), fs=250)
    assert rec.ch_names == ["ch1", "ch2", "ch3"]
    assert rec.duration_s == 2.0
    assert "3 channel(s) x 500 samples at 250 Hz" in repr(rec)
    with pytest.raises(ValueError, match="fs"):
        fasctrack.Recording(np.zeros((1, 10)), fs=0)
    with pytest.raises(ValueError, match="channels: 1 channel descriptions for 2 rows"):
        fasctrack.Recording(np.zeros((2, 10)), fs=10, channels=[fasctrack.ChannelInfo("a")])
    with pytest.raises(ValueError, match="zero channels or samples"):
        fasctrack.Recording(np.zeros((2, 0)), fs=10)


def test_channel_info_parses_region_and_side():
    c = fasctrack.ChannelInfo("e1", muscle="tibialis_anterior_l", region="Lumbosacral", side="L",
                              grid=fasctrack.GridPosition(1, 2, 8.0))
    assert (c.region, c.side, c.grid.row, c.grid.column, c.grid.ied_mm) == ("lumbosacral", "left", 1, 2, 8.0)
    with pytest.raises(ValueError, match="'neck'"):
        c.region = "neck"


def test_read_returns_zero_copy_view_of_the_cpp_buffer(example_path):
    rec = fasctrack.read(example_path)
    assert not rec.data.flags.owndata           # a view on the C++ recording...
    assert rec.data.base is not None            # ...kept alive by it
    assert rec.data.flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contiguous_arrays_reach_the_core_without_a_copy(dtype):
    # numpy allocations are visible to tracemalloc; a converted copy of x would
    # show up as a peak of at least x.nbytes. Outputs are allocated by C++.
    x = np.random.default_rng(0).normal(size=(16, 200_000)).astype(dtype)
    sos = fasctrack.butter(4, [20, 450], "bandpass", fs=2048)
    fasctrack.sosfiltfilt(sos, x[:, :1000])  # warm-up outside the measurement
    tracemalloc.start()
    y = fasctrack.sosfiltfilt(sos, x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert y.dtype == dtype and y.shape == x.shape
    assert peak < x.nbytes / 4, f"traced numpy allocations peaked at {peak} bytes for a {x.nbytes}-byte input"

    # A Fortran-ordered array must be converted once: the same probe sees it.
    xf = np.asfortranarray(x)
    tracemalloc.start()
    fasctrack.sosfiltfilt(sos, xf)
    _, peak_f = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak_f >= x.nbytes


def test_float32_and_float64_both_supported_and_preserved():
    sos = fasctrack.butter(2, 100, fs=1000)
    for dtype in (np.float32, np.float64):
        x = np.ones((2, 400), dtype)
        assert fasctrack.sosfilt(sos, x).dtype == dtype
        assert fasctrack.sosfiltfilt(sos, x).dtype == dtype
    # integers are processed as float64, as SciPy does
    assert fasctrack.sosfilt(sos, np.ones(400, np.int16)).dtype == np.float64


def test_write_npy_round_trips_and_is_atomic(tmp_path):
    x = np.random.default_rng(1).normal(size=(3, 1000)).astype(np.float32)
    p = tmp_path / "out.npy"
    fasctrack.write_npy(p, x)
    np.testing.assert_array_equal(np.load(p), x)
    assert not list(tmp_path.glob("*.tmp"))
    rec = fasctrack.read(p, fs=1000.0)
    np.testing.assert_array_equal(rec.data, x)
    with pytest.raises(fasctrack.WriteError, match="no_such_dir"):
        fasctrack.write_npy(tmp_path / "no_such_dir" / "x.npy", x)


def test_write_edf_round_trip_keeps_metadata(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(0, 50, size=(2, 4096))
    rec = fasctrack.Recording(data, fs=1024.0, channels=[fasctrack.ChannelInfo("EMG a"), fasctrack.ChannelInfo("EMG b")],
                              start_time="2026-03-04T05:06:07", annotations=[(1.5, 0.5, "cough")])
    p = tmp_path / "rt.edf"
    fasctrack.write_edf(p, rec)
    back = fasctrack.read(p)
    assert back.ch_names == ["EMG a", "EMG b"]
    assert back.fs == 1024.0
    assert back.start_time.startswith("2026-03-04T05:06:07")
    assert [(round(o, 3), round(d, 3), t) for o, d, t in back.annotations] == [(1.5, 0.5, "cough")]
    step = 2 * np.abs(data).max() * 1.1 / 65535
    np.testing.assert_allclose(back.data[:, :4096], data, atol=step)
