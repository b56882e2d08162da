"""Spectral estimation, mains detection, channel quality and conditioning.

SciPy is the oracle for welch (live comparison on random data, 1e-10 relative)
and for the filter condition() applies (scipy.signal.sosfiltfilt / sosfilt of the
reported sos). Mains detection and quality screening are checked on synthetic
surface EMG with known defects.
"""
import warnings

import numpy as np
import pytest
import scipy.signal as sig

import fasctrack

FS = [1000.0, 2048.0, 5000.0, 10000.0]


# ---- synthetic signals -------------------------------------------------------------

def emg_noise(n_channels, n_samples, fs, emg_uv=10.0, white_uv=1.0, seed=0):
    """Band-limited (20-450 Hz) Gaussian 'EMG' with RMS emg_uv plus white amplifier noise."""
    rng = np.random.default_rng(seed)
    sos = sig.butter(2, [20.0, min(450.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    emg = sig.sosfilt(sos, rng.normal(size=(n_channels, n_samples)), axis=-1)
    emg *= emg_uv / emg.std(axis=-1, keepdims=True)
    return emg + white_uv * rng.normal(size=(n_channels, n_samples))


def mains(n_channels, n_samples, fs, f0, amplitude_uv, rel_harmonics=(0.3, 0.5), seed=0, offset_hz=0.03):
    """Mains with harmonics, a random-walk phase and a slow +-20 % amplitude drift."""
    rng = np.random.default_rng(seed + 1000)
    t = np.arange(n_samples) / fs
    out = np.empty((n_channels, n_samples))
    for c in range(n_channels):
        jitter = np.cumsum(rng.normal(scale=0.002 * np.sqrt(1000.0 / fs), size=n_samples))
        phase = 2 * np.pi * (f0 + offset_hz) * t + rng.uniform(0, 2 * np.pi) + jitter
        drift = 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi))
        v = np.sin(phase)
        for k, rel in enumerate(rel_harmonics):
            v += rel * np.sin((k + 2) * phase + 0.7 * k)
        out[c] = amplitude_uv * drift * v
    return out


def psd_at(x, fs, f):
    freqs, p = sig.welch(x, fs, nperseg=int(2 * fs))
    return p[..., int(round(f / freqs[1]))]


# ---- welch against scipy.signal.welch ------------------------------------------------

WELCH_CASES = [
    # (n_samples, fs, nperseg, noverlap, average)
    (5000, 1000.0, None, None, "mean"),
    (5000, 1000.0, 256, None, "mean"),
    (5000, 1000.0, 256, None, "median"),
    (4097, 2048.0, 1000, 10, "median"),
    (4097, 2048.0, 999, 998, "mean"),
    (10000, 2000.0, 2000, 1500, "median"),
    (10000, 2000.0, 333, 0, "mean"),
    (20000, 10000.0, None, None, "median"),
    (7, 5.0, 3, 1, "median"),
    (2, 100.0, None, None, "mean"),
]


def assert_psd_equal(actual, expected, rtol=1e-10):
    """Binwise relative agreement; bins 1e12 below the spectrum's peak compare to 1e-12 of the peak."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    floor = 1e-12 * np.max(np.abs(expected), axis=-1, keepdims=True)
    err = np.abs(actual - expected)
    bad = err > np.maximum(rtol * np.abs(expected), floor)
    assert not bad.any(), f"max relative deviation {np.max(err / np.maximum(np.abs(expected), 1e-300)):.3g}"


@pytest.mark.parametrize("n, fs, nperseg, noverlap, average", WELCH_CASES)
def test_welch_matches_scipy(n, fs, nperseg, noverlap, average):
    rng = np.random.default_rng(n + int(fs))
    x = rng.normal(scale=10.0, size=(3, n)) + rng.normal(scale=100.0, size=(3, 1))  # DC offsets
    f, p = fasctrack.welch(x, fs, nperseg=nperseg, noverlap=noverlap, average=average)
    ref_nperseg = nperseg if nperseg is not None else int(round(fs))
    kwargs = {} if noverlap is None else {"noverlap": noverlap}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when nperseg > n and shortens it, as fasctrack does
        fr, pr = sig.welch(x, fs, window="hann", nperseg=ref_nperseg, detrend="constant", scaling="density",
                           average=average, **kwargs)
    np.testing.assert_array_equal(f, fr)
    assert p.shape == (3, fr.size)
    assert_psd_equal(p, pr)


def test_welch_one_d_and_float32():
    rng = np.random.default_rng(5)
    x = rng.normal(scale=20.0, size=8000).astype(np.float32)
    f, p = fasctrack.welch(x, 2000.0, nperseg=500, average="median")
    assert p.shape == f.shape == (251,)
    # fasctrack computes in double from the float32 samples; scipy on the same values in float64.
    fr, pr = sig.welch(x.astype(np.float64), 2000.0, nperseg=500, average="median")
    assert_psd_equal(p, pr)


def test_welch_integrates_to_variance():
    x = np.random.default_rng(6).normal(scale=10.0, size=(2, 200000))
    f, p = fasctrack.welch(x, 2000.0, nperseg=1000)
    np.testing.assert_allclose(p.sum(axis=-1) * f[1], 100.0, rtol=0.02)


def test_welch_rejects_bad_arguments():
    x = np.zeros((1, 1000))
    with pytest.raises(ValueError, match="fs"):
        fasctrack.welch(x, 0.0)
    with pytest.raises(ValueError, match="noverlap"):
        fasctrack.welch(x, 1000.0, nperseg=100, noverlap=100)
    with pytest.raises(ValueError, match="nperseg"):
        fasctrack.welch(x, 1000.0, nperseg=-3)
    with pytest.raises(ValueError, match="average"):
        fasctrack.welch(x, 1000.0, average="mode")
    y = x.copy()
    y[0, 10] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fasctrack.welch(y, 1000.0)


# ---- detect_mains ------------------------------------------------------------------

@pytest.mark.parametrize("fs", FS)
@pytest.mark.parametrize("f0", [50.0, 60.0])
@pytest.mark.parametrize("emg_uv, mains_uv", [(5.0, 2.0), (20.0, 5.0)])
def test_detect_mains_finds_the_right_frequency(fs, f0, emg_uv, mains_uv):
    n = int(10 * fs)
    seed = int(fs + f0 + emg_uv)
    x = emg_noise(4, n, fs, emg_uv, seed=seed) + mains(4, n, fs, f0, mains_uv, seed=seed)
    r = fasctrack.detect_mains(x, fs)
    assert r.status == "found", r
    assert r.frequency_hz == f0
    other = 1 if f0 == 50.0 else 0
    assert r.candidate_prominence_db[1 - other] == r.prominence_db
    assert r.candidate_prominence_db[other] < 6.0
    assert len(r.channel_prominence_db) == 4
    assert min(r.channel_prominence_db) > 6.0


@pytest.mark.parametrize("fs", FS)
@pytest.mark.parametrize("seconds", [2.0, 3.0, 10.0])
def test_detect_mains_clean_noise_is_not_found(fs, seconds):
    for seed in range(3):
        x = emg_noise(2, int(seconds * fs), fs, 10.0, seed=100 + seed)
        r = fasctrack.detect_mains(x, fs)
        assert r.status == "not_found", (seed, r.candidate_prominence_db)
        assert r.frequency_hz == 0.0
        assert r.channel_prominence_db == [0.0, 0.0]


def test_detect_mains_too_short():
    fs = 2000.0
    x = emg_noise(2, 3999, fs) + mains(2, 3999, fs, 50.0, 20.0)
    r = fasctrack.detect_mains(x, fs)
    assert r.status == "too_short"
    assert r.frequency_hz == 0.0
    x = emg_noise(2, 4000, fs) + mains(2, 4000, fs, 50.0, 20.0)
    assert fasctrack.detect_mains(x, fs).status == "found"


def test_detect_mains_shared_harmonic_is_evidence_for_neither():
    fs = 2000.0
    t = np.arange(20000) / fs
    x = emg_noise(2, t.size, fs, 5.0, seed=31) + 10.0 * np.sin(2 * np.pi * 300.0 * t)  # 300 = 6 x 50 = 5 x 60
    r = fasctrack.detect_mains(x, fs, harmonics=6)
    assert r.status == "not_found", r.candidate_prominence_db
    # Alone, 60 Hz would claim the 300 Hz line as its 5th harmonic.
    assert fasctrack.detect_mains(x, fs, candidates_hz=(60.0,), harmonics=6).status == "found"


def test_detect_mains_harmonics_only():
    fs = 4000.0
    n = 40000
    x = emg_noise(3, n, fs, 10.0, seed=21) + mains(3, n, fs, 60.0, 0.2, rel_harmonics=(0.0, 25.0), seed=22)
    assert fasctrack.detect_mains(x, fs).frequency_hz == 60.0
    assert fasctrack.detect_mains(x, fs, harmonics=1).status == "not_found"


def test_detect_mains_with_nan_and_float32():
    fs = 2000.0
    x = emg_noise(3, 20000, fs, seed=61) + mains(3, 20000, fs, 50.0, 5.0, seed=61)
    x[0, 5000:5300] = np.nan
    x[1, 123] = np.inf
    x[2] = np.nan
    r = fasctrack.detect_mains(x.astype(np.float32), fs)
    assert r.status == "found" and r.frequency_hz == 50.0
    assert np.all(np.isfinite(r.channel_prominence_db))


def test_detect_mains_rejects_bad_options():
    x = np.zeros((1, 10000))
    with pytest.raises(ValueError, match="candidates_hz"):
        fasctrack.detect_mains(x, 1000.0, candidates_hz=())
    with pytest.raises(ValueError, match="harmonics"):
        fasctrack.detect_mains(x, 1000.0, harmonics=0)
    with pytest.raises(ValueError, match="fs"):
        fasctrack.detect_mains(x, -1.0)


# ---- channel_quality ---------------------------------------------------------------

def test_quality_flags_each_defect_exactly():
    fs, n = 2000.0, 20000
    t = np.arange(n) / fs
    x = emg_noise(9, n, fs, 10.0, seed=2) + mains(9, n, fs, 50.0, 1.0, seed=2)
    x[0] = 3.0                                     # dead: constant
    x[1, 8000:11000] = 0.0                         # 1.5 s dropout
    burst = ((t >= 2) & (t < 3)) | ((t >= 6) & (t < 7))
    x[2] = np.clip(x[2] + burst * 200.0 * np.sin(2 * np.pi * 37.0 * t), -100.0, 100.0)  # clipped at +-100 uV
    x[3, 1000:1100] = np.nan                       # lost packets
    x[3, 5000] = -np.inf
    x[4] += mains(1, n, fs, 50.0, 100.0, seed=55)[0]  # unshielded lead
    x[5] += 2000.0 * np.sin(2 * np.pi * 0.3 * t)   # lifted electrode: huge wander
    x[6] *= 1000.0                                 # 10 mV broadband
    x[7] = np.nan
    # x[8] stays healthy
    q = fasctrack.channel_quality(x, fs)
    assert [c.flag_names for c in q] == [
        ["flat"], ["flat"], ["saturated"], ["non_finite"], ["excessive_mains"], ["disconnected"],
        ["disconnected"], ["flat", "non_finite"], []]
    assert q[8].flags == 0 and q[8].usable
    assert not any(c.usable for c in q[:8])
    assert q[0].rms_uv == 0.0 and q[0].longest_flat_run == n
    assert q[1].longest_flat_run == 3000
    assert q[2].clipped_fraction == pytest.approx(2 / 3 * 0.2, rel=0.15)
    assert q[3].n_non_finite == 101
    assert q[3].non_finite_runs == [(1000, 1100), (5000, 5001)]
    assert q[3].rms_uv == pytest.approx(q[8].rms_uv, rel=0.1)  # NaN does not reach the RMS
    assert q[4].mains_fraction > 0.9
    assert q[5].low_frequency_fraction > 0.9 and q[5].rms_uv < 5000.0
    assert q[6].rms_uv > 5000.0
    assert q[7].non_finite_runs == [(0, n)] and q[7].rms_uv == 0.0
    for c in q:
        for value in (c.rms_uv, c.clipped_fraction, c.mains_fraction, c.low_frequency_fraction):
            assert np.isfinite(value)


def test_quality_options_are_thresholds():
    fs, n = 2000.0, 20000
    x = emg_noise(1, n, fs, 10.0, seed=9)
    assert fasctrack.channel_quality(x, fs)[0].flag_names == []
    assert fasctrack.channel_quality(x, fs, flat_rms_uv=50.0)[0].flag_names == ["flat"]
    assert fasctrack.channel_quality(x, fs, disconnected_rms_uv=5.0)[0].flag_names == ["disconnected"]
    assert fasctrack.channel_quality(x, fs, mains_fraction=0.0, mains_hz=50.0)[0].flag_names == ["excessive_mains"]
    with pytest.raises(ValueError, match="saturation_fraction"):
        fasctrack.channel_quality(x, fs, saturation_fraction=2.0)


def test_quality_degenerate_input():
    q = fasctrack.channel_quality(np.array([[1.0], [np.nan]]), 1000.0)
    assert [c.flag_names for c in q] == [["flat"], ["flat", "non_finite"]]
    q = fasctrack.channel_quality(np.full((1, 5000), 1e300) * np.random.default_rng(0).normal(size=5000), 1000.0)
    assert q[0].flag_names == ["disconnected"]


# ---- condition ---------------------------------------------------------------------

def recording(fs, n, seed, mains_hz=50.0, mains_uv=30.0):
    t = np.arange(n) / fs
    x = emg_noise(4, n, fs, 10.0, seed=seed) + 20.0 * np.sin(2 * np.pi * 0.5 * t) + 250.0 * np.arange(4)[:, None]
    if mains_hz:
        x += mains(4, n, fs, mains_hz, mains_uv, seed=seed)
    return x


@pytest.mark.parametrize("fs", [1000.0, 2048.0, 4000.0])
@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_condition_removes_mains_and_matches_scipy(fs, f0):
    x = recording(fs, int(10 * fs), int(fs + f0), f0)
    out = fasctrack.condition(x, fs)
    assert out.mains.status == "found"
    assert out.mains_hz == f0
    assert out.highpass_hz == 20.0
    assert out.lowpass_hz == min(500.0, 0.45 * fs)
    assert out.data.shape == x.shape
    expected = sig.sosfiltfilt(out.sos, x, axis=-1)
    np.testing.assert_allclose(out.data, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    drop_db = 10 * np.log10(psd_at(x, fs, f0) / psd_at(out.data, fs, f0))
    assert np.all(drop_db > 30.0), drop_db
    assert [q.flag_names for q in out.quality] == [["excessive_mains"]] * 4  # screening of the raw input


def test_condition_causal_matches_sosfilt():
    fs = 2000.0
    x = recording(fs, 20000, 3)
    out = fasctrack.condition(x, fs, zero_phase=False, mains="50")
    assert out.mains_hz == 50.0
    expected = sig.sosfilt(out.sos, x, axis=-1)
    np.testing.assert_allclose(out.data, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


def test_condition_nan_positions_are_preserved_and_do_not_spread():
    fs = 2000.0
    x = recording(fs, 20000, 11, mains_uv=5.0)
    x[1, 3000:3200] = np.nan
    x[1, 9000] = np.inf
    x[2, 0] = np.nan
    out = fasctrack.condition(x, fs)
    bad = ~np.isfinite(x)
    assert np.array_equal(np.isnan(out.data), bad)
    filled = np.where(bad, 0.0, x)
    expected = sig.sosfiltfilt(out.sos, filled, axis=-1)
    np.testing.assert_allclose(out.data[~bad], expected[~bad], rtol=0, atol=1e-9 * np.abs(expected).max())
    assert out.quality[1].flag_names == ["non_finite"]
    assert out.quality[1].non_finite_runs == [(3000, 3200), (9000, 9001)]
    assert out.quality[0].usable


def test_condition_modes_and_clamping():
    fs = 2000.0
    x = recording(fs, 20000, 21)
    assert fasctrack.condition(x, fs, mains="off").mains_hz == 0.0
    assert fasctrack.condition(x, fs, mains="off").sos.shape == (4, 6)
    forced = fasctrack.condition(x, fs, mains="60")
    assert forced.mains_hz == 60.0 and forced.mains.frequency_hz == 50.0  # the report tells the truth
    clean = fasctrack.condition(recording(fs, 20000, 22, mains_hz=0.0), fs)
    assert clean.mains.status == "not_found" and clean.mains_hz == 0.0 and clean.sos.shape == (4, 6)
    low = fasctrack.condition(recording(1000.0, 10000, 23), 1000.0)
    assert low.lowpass_hz == 450.0


def test_condition_rejects_bad_band():
    x = recording(1000.0, 4000, 31)
    with pytest.raises(ValueError, match="highpass_hz"):
        fasctrack.condition(x, 1000.0, highpass_hz=480.0)  # above the clamped 450 Hz edge
    with pytest.raises(ValueError, match="highpass_hz"):
        fasctrack.condition(x, 1000.0, highpass_hz=0.0)
    with pytest.raises(ValueError, match="fs"):
        fasctrack.condition(x, 0.0)
