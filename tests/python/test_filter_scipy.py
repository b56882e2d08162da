"""fasctrack's filter design and application against SciPy, through the Python API.

SciPy is the oracle: butter / iirnotch / sosfilt_zi coefficients must agree to
1e-10 relative, sosfilt to 1e-10 and sosfiltfilt to 1e-9 on float64 data, and
the streaming SosFilter must reproduce one-shot filtering bit for bit for any
chunking.
"""
import numpy as np
import pytest
import scipy.signal as sig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fasctrack

FS = [1000.0, 2048.0, 4000.0, 10000.0]
ORDERS = list(range(1, 11))


def assert_coefficients_equal(actual, expected, rtol=1e-10, floor=1e-14):
    """Coefficientwise |a - e| <= rtol * |e|, with an absolute floor for (near-)zero ones."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.abs(actual - expected)
    bad = err > np.maximum(rtol * np.abs(expected), floor)
    assert not bad.any(), f"max deviation {err.max():.3g} at {np.argwhere(bad)[:3].tolist()}"


def assert_signal_close(actual, expected, rtol):
    """Samples agree to rtol relative to the signal's scale (outputs cross zero)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    scale = np.max(np.abs(expected), axis=-1, keepdims=True)
    err = np.abs(actual - expected) / scale
    assert err.max() <= rtol, f"max deviation {err.max():.3g} of the signal's peak (allowed {rtol:g})"


def cutoffs(btype, fs):
    """Cutoffs typical of EMG work plus extreme ones. No band is symmetric about
    fs/4: there pole radii tie exactly and SciPy's section order is decided by
    last-ulp noise of its platform's vectorised tan (see test_symmetric_band...)."""
    nyq = fs / 2
    if btype in ("lowpass", "highpass"):
        return [0.004 * fs, 20.0, 0.123 * fs, 0.37 * fs, 0.497 * fs]
    bands = [(0.02 * fs, 0.31 * fs), (0.1 * fs, 0.13 * fs), (0.001 * fs, 0.45 * fs), (45.0, 55.0)]
    if 450.0 < 0.95 * nyq:
        bands.append((20.0, 450.0))
    return [list(b) for b in bands]


def random_signal(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 50.0, size=shape) + 20.0  # DC offset, as raw EMG often has
    return x.astype(dtype)


# ---- butter ----------------------------------------------------------------------------


@pytest.mark.parametrize("fs", FS)
@pytest.mark.parametrize("btype", ["lowpass", "highpass", "bandpass", "bandstop"])
@pytest.mark.parametrize("order", ORDERS)
def test_butter_equals_scipy(order, btype, fs):
    for wn in cutoffs(btype, fs):
        expected = sig.butter(order, wn, btype, output="sos", fs=fs)
        actual = fasctrack.butter(order, wn, btype, fs=fs)
        assert actual.dtype == np.float64
        assert_coefficients_equal(actual, expected)


@pytest.mark.parametrize("seed", range(20))
def test_butter_equals_scipy_random_designs(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        fs = float(rng.choice(FS))
        order = int(rng.integers(1, 11))
        btype = str(rng.choice(["lowpass", "highpass", "bandpass", "bandstop"]))
        if btype in ("lowpass", "highpass"):
            wn = float(rng.uniform(0.001, 0.999) * fs / 2)
        else:
            wn = sorted(float(v) for v in rng.uniform(0.001, 0.999, size=2) * fs / 2)
        expected = sig.butter(order, wn, btype, output="sos", fs=fs)
        assert_coefficients_equal(fasctrack.butter(order, wn, btype, fs=fs), expected)


@pytest.mark.parametrize("btype", ["bandpass", "bandstop"])
@pytest.mark.parametrize("order", ORDERS)
def test_symmetric_band_same_filter_as_scipy(order, btype):
    # Band edges symmetric about fs/4 give pairs of poles with exactly equal
    # radius; which section comes first is then last-ulp noise in SciPy itself.
    # The filter (poles, zeros, gain, response) must still be SciPy's.
    fs = 1000.0
    wn = [100.0, 400.0]
    expected = sig.butter(order, wn, btype, output="sos", fs=fs)
    actual = fasctrack.butter(order, wn, btype, fs=fs)
    assert actual.shape == expected.shape
    z_e, p_e, k_e = sig.butter(order, wn, btype, output="zpk", fs=fs)
    z_a, p_a, k_a = sig.sos2zpk(actual)
    key = lambda v: (round(v.real, 9), round(v.imag, 9))  # noqa: E731
    np.testing.assert_allclose(sorted(p_a, key=key), sorted(p_e, key=key), rtol=0, atol=1e-9)
    assert k_a == pytest.approx(k_e, rel=1e-9)
    freqs = np.linspace(0, fs / 2, 257)
    _, h_e = sig.sosfreqz(expected, worN=freqs, fs=fs)
    _, h_a = sig.sosfreqz(actual, worN=freqs, fs=fs)
    np.testing.assert_allclose(h_a, h_e, rtol=0, atol=1e-9)


def test_butter_normalised_frequency_without_fs():
    assert_coefficients_equal(fasctrack.butter(4, 0.2), sig.butter(4, 0.2, output="sos"))
    assert_coefficients_equal(fasctrack.butter(3, [0.1, 0.4], "bandpass"),
                              sig.butter(3, [0.1, 0.4], "bandpass", output="sos"))


@pytest.mark.parametrize("alias,canonical", [("low", "lowpass"), ("high", "highpass"), ("band", "bandpass"),
                                             ("pass", "bandpass"), ("stop", "bandstop")])
def test_butter_band_type_aliases(alias, canonical):
    wn = 100.0 if canonical in ("lowpass", "highpass") else [50.0, 200.0]
    np.testing.assert_array_equal(fasctrack.butter(4, wn, alias, fs=1000.0),
                                  fasctrack.butter(4, wn, canonical, fs=1000.0))


# ---- notches ---------------------------------------------------------------------------


@pytest.mark.parametrize("fs", FS)
@pytest.mark.parametrize("w0", [50.0, 60.0, 150.0, 333.3])
@pytest.mark.parametrize("q", [0.5, 5.0, 25.0, 30.0, 300.0])
def test_iirnotch_equals_scipy(w0, q, fs):
    b, a = sig.iirnotch(w0, q, fs=fs)
    actual = fasctrack.iirnotch(w0, q, fs=fs)
    assert actual.shape == (1, 6)
    assert_coefficients_equal(actual[0], np.concatenate([b, a]))


def expected_mains_notches(f0, fs, bandwidth_hz=2.0, max_harmonics=0, max_frequency_hz=0.0):
    limit = max_frequency_hz if max_frequency_hz > 0 else 0.95 * fs / 2
    rows = []
    k = 1
    while k * f0 < limit and (max_harmonics == 0 or k <= max_harmonics):
        b, a = sig.iirnotch(k * f0, k * f0 / bandwidth_hz, fs=fs)
        rows.append(np.concatenate([b, a]))
        k += 1
    return np.array(rows)


@pytest.mark.parametrize("fs", FS)
@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_mains_notches_is_a_constant_bandwidth_iirnotch_comb(f0, fs):
    assert_coefficients_equal(fasctrack.mains_notches(f0, fs=fs), expected_mains_notches(f0, fs))
    assert_coefficients_equal(fasctrack.mains_notches(f0, fs=fs, bandwidth_hz=4.0, max_harmonics=5),
                              expected_mains_notches(f0, fs, 4.0, 5))
    assert_coefficients_equal(fasctrack.mains_notches(f0, fs=fs, max_frequency_hz=300.0),
                              expected_mains_notches(f0, fs, max_frequency_hz=300.0))


def test_mains_notches_count_at_1000_hz():
    assert fasctrack.mains_notches(50, fs=1000).shape == (9, 6)  # 50 .. 450 < 475
    assert fasctrack.mains_notches(50, fs=1000, max_harmonics=1).shape == (1, 6)
    with pytest.raises(ValueError, match="mains_hz"):
        fasctrack.mains_notches(50, fs=100)  # not even 50 Hz fits below 47.5 Hz


# ---- sosfilt_zi ------------------------------------------------------------------------


def designs():
    return [
        sig.butter(4, [20, 450], "bandpass", output="sos", fs=2048),
        sig.butter(5, 10, "highpass", output="sos", fs=1000),
        sig.butter(7, 300, "lowpass", output="sos", fs=4000),
        sig.butter(6, [45, 55], "bandstop", output="sos", fs=10000),
        np.vstack([sig.butter(2, [20, 450], "bandpass", output="sos", fs=2048),
                   expected_mains_notches(50.0, 2048.0)]),
    ]


@pytest.mark.parametrize("i", range(5))
def test_sosfilt_zi_equals_scipy(i):
    sos = designs()[i]
    zi = fasctrack.sosfilt_zi(sos)
    assert zi.shape == (sos.shape[0], 2)
    np.testing.assert_allclose(zi, sig.sosfilt_zi(sos), rtol=1e-10, atol=1e-12)


# ---- sosfilt ---------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(5))
@pytest.mark.parametrize("shape", [(3000,), (4, 3000), (1, 257)])
def test_sosfilt_float64_equals_scipy(i, shape):
    sos = designs()[i]
    x = random_signal(shape, seed=i)
    y = fasctrack.sosfilt(sos, x)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert_signal_close(y, sig.sosfilt(sos, x), 1e-10)


@pytest.mark.parametrize("i", range(5))
def test_sosfilt_float32_stays_float32_and_is_computed_in_double(i):
    sos = designs()[i]
    x = random_signal((3, 4000), seed=10 + i, dtype=np.float32)
    y = fasctrack.sosfilt(sos, x)
    assert y.dtype == np.float32
    # SciPy on the same samples in float64; the only float32 error is the final rounding.
    expected = sig.sosfilt(sos, x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("i", range(5))
def test_sosfilt_with_zi_equals_scipy(i):
    sos = designs()[i]
    x = random_signal((3, 2000), seed=20 + i)
    rng = np.random.default_rng(i)
    zi = rng.normal(size=(sos.shape[0], 3, 2))
    y, zf = fasctrack.sosfilt(sos, x, zi=zi)
    y_e, zf_e = sig.sosfilt(sos, x, zi=zi)
    assert zf.shape == zi.shape
    assert_signal_close(y, y_e, 1e-10)
    np.testing.assert_allclose(zf, zf_e, rtol=1e-9, atol=1e-9 * np.abs(zf_e).max())
    # 1-D signal: zi is (n_sections, 2)
    zi1 = zi[:, 0, :]
    y1, zf1 = fasctrack.sosfilt(sos, x[0], zi=zi1)
    y1_e, zf1_e = sig.sosfilt(sos, x[0], zi=zi1)
    assert zf1.shape == zi1.shape
    assert_signal_close(y1, y1_e, 1e-10)
    np.testing.assert_allclose(zf1, zf1_e, rtol=1e-9, atol=1e-9 * np.abs(zf1_e).max())


def test_sosfilt_zi_chains_calls_exactly():
    sos = designs()[0]
    x = random_signal((2, 3000), seed=30)
    zi = np.zeros((sos.shape[0], 2, 2))
    y1, zi = fasctrack.sosfilt(sos, x[:, :1234], zi=zi)
    y2, _ = fasctrack.sosfilt(sos, x[:, 1234:], zi=zi)
    np.testing.assert_array_equal(np.concatenate([y1, y2], axis=1), fasctrack.sosfilt(sos, x))


# ---- sosfiltfilt -----------------------------------------------------------------------


@pytest.mark.parametrize("i", range(5))
@pytest.mark.parametrize("shape", [(5000,), (4, 5000)])
def test_sosfiltfilt_float64_equals_scipy(i, shape):
    sos = designs()[i]
    x = random_signal(shape, seed=40 + i)
    y = fasctrack.sosfiltfilt(sos, x)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert_signal_close(y, sig.sosfiltfilt(sos, x), 1e-9)


@pytest.mark.parametrize("padlen", [0, 1, 10, 100, 999])
def test_sosfiltfilt_explicit_padlen_equals_scipy(padlen):
    sos = designs()[0]
    x = random_signal((2, 1000), seed=50)
    assert_signal_close(fasctrack.sosfiltfilt(sos, x, padlen=padlen), sig.sosfiltfilt(sos, x, padlen=padlen), 1e-9)


@pytest.mark.parametrize("i", range(5))
def test_sosfiltfilt_float32_equals_scipy_on_float64(i):
    sos = designs()[i]
    x = random_signal((3, 4000), seed=60 + i, dtype=np.float32)
    y = fasctrack.sosfiltfilt(sos, x)
    assert y.dtype == np.float32
    expected = sig.sosfiltfilt(sos, x.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_sosfiltfilt_too_short_raises_like_scipy():
    sos = designs()[0]  # 4 sections: default padlen 27
    x = random_signal((2, 27), seed=70)
    with pytest.raises(ValueError):
        sig.sosfiltfilt(sos, x)
    with pytest.raises(ValueError, match=r"padlen.*27"):
        fasctrack.sosfiltfilt(sos, x)
    fasctrack.sosfiltfilt(sos, random_signal((2, 28), seed=70))  # one more sample is enough
    with pytest.raises(ValueError, match="padlen"):
        fasctrack.sosfiltfilt(sos, x, padlen=30)


# ---- streaming SosFilter ---------------------------------------------------------------

SOS_STREAM = np.vstack([sig.butter(4, [20, 450], "bandpass", output="sos", fs=2048),
                        expected_mains_notches(50.0, 2048.0)])
X_STREAM = random_signal((3, 3000), seed=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=40),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_sosfilter_any_chunking_is_bit_identical(chunks, dtype):
    x = X_STREAM.astype(dtype)
    f = fasctrack.SosFilter(SOS_STREAM, n_channels=3, dtype=dtype)
    pieces = []
    pos = 0
    for n in chunks:
        piece = f.process(x[:, pos:pos + n])  # the last chunks may be empty or short
        assert piece.dtype == dtype
        pieces.append(piece)
        pos = min(pos + n, x.shape[1])
    pieces.append(f.process(x[:, pos:]))
    y = np.concatenate(pieces, axis=1)
    np.testing.assert_array_equal(y, fasctrack.sosfilt(SOS_STREAM, x))


def test_sosfilter_state_is_scipy_zi():
    sos = SOS_STREAM
    x = X_STREAM
    f = fasctrack.SosFilter(sos, n_channels=3)
    np.testing.assert_array_equal(f.zi, np.zeros((sos.shape[0], 3, 2)))
    y = f.process(x)
    y_e, zf_e = sig.sosfilt(sos, x, zi=np.zeros((sos.shape[0], 3, 2)))
    assert_signal_close(y, y_e, 1e-10)
    assert f.zi.shape == (sos.shape[0], 3, 2)
    np.testing.assert_allclose(f.zi, zf_e, rtol=1e-9, atol=1e-9 * np.abs(zf_e).max())

    # Setting zi continues from any SciPy state.
    zi = np.random.default_rng(1).normal(size=(sos.shape[0], 3, 2))
    f.zi = zi
    np.testing.assert_array_equal(f.zi, zi)
    y2, _ = sig.sosfilt(sos, x, zi=zi)
    assert_signal_close(f.process(x), y2, 1e-10)

    f.reset()
    np.testing.assert_array_equal(f.zi, np.zeros((sos.shape[0], 3, 2)))
    np.testing.assert_array_equal(f.process(x), fasctrack.sosfilt(sos, x))


def test_sosfilter_steady_state_matches_scipy():
    sos = sig.butter(4, [20, 450], "bandpass", output="sos", fs=2048)
    x0 = np.array([1.0, -250.0, 3000.0])
    f = fasctrack.SosFilter(sos, n_channels=3)
    f.set_steady_state(x0)
    expected = sig.sosfilt_zi(sos)[:, None, :] * x0[None, :, None]
    np.testing.assert_allclose(f.zi, expected, rtol=1e-10, atol=1e-12 * np.abs(x0).max())
    # A constant input then gives the steady output from the first sample (0 for a band-pass).
    y = f.process(np.repeat(x0[:, None], 500, axis=1))
    assert np.abs(y).max() < 1e-9 * np.abs(x0).max()


# ---- errors surface as ValueError ------------------------------------------------------


def test_errors_are_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="cutoff_hz: 600 Hz is not below the Nyquist frequency 500 Hz"):
        fasctrack.butter(4, 600, "lowpass", fs=1000)
    with pytest.raises(ValueError, match="order"):
        fasctrack.butter(0, 100, fs=1000)
    with pytest.raises(ValueError, match="fs"):
        fasctrack.butter(2, 100, fs=-1)
    with pytest.raises(ValueError, match="btype"):
        fasctrack.butter(2, 100, "notch", fs=1000)
    with pytest.raises(ValueError, match="ascending"):
        fasctrack.butter(2, [200, 100], "bandpass", fs=1000)
    with pytest.raises(ValueError, match="cutoff_hz"):
        fasctrack.butter(2, 100, "bandpass", fs=1000)
    with pytest.raises(ValueError, match="quality"):
        fasctrack.iirnotch(50, 0, fs=1000)
    bad = designs()[0].copy()
    bad[1, 4] = np.nan
    with pytest.raises(ValueError, match="sos"):
        fasctrack.sosfilt(bad, X_STREAM)
    with pytest.raises(ValueError, match="sos"):
        fasctrack.SosFilter(bad, n_channels=1)
    f = fasctrack.SosFilter(designs()[0], n_channels=2)
    with pytest.raises(ValueError, match="channel"):
        f.process(X_STREAM)  # 3 channels into a 2-channel filter
    np.testing.assert_array_equal(f.zi, 0.0)  # the failed call left the state alone
