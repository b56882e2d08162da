"""Signal conditioning with SciPy's names and conventions (``sos``, ``zi``, ``fs=``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._core import ChannelQuality, MainsReport

ArrayLike = Union[np.ndarray, Sequence[float]]


def _signal(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return x


def butter(N: int, Wn, btype: str = "lowpass", *, fs: Optional[float] = None) -> np.ndarray:
    """Digital Butterworth filter as second-order sections.

    Same result as ``scipy.signal.butter(N, Wn, btype, output='sos', fs=fs)``.

    Parameters
    ----------
    N : int
        Filter order (1 or more).
    Wn : float or (float, float)
        Cutoff frequency in Hz (band edges for band-pass/stop). Without ``fs``,
        normalised to the Nyquist frequency as in SciPy.
    btype : {'lowpass', 'highpass', 'bandpass', 'bandstop'}
    fs : float, optional
        Sampling rate in Hz.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)

    Examples
    --------
    >>> import fasctrack
    >>> fasctrack.butter(4, [20, 450], "bandpass", fs=2048).shape
    (4, 6)
    """
    cutoff = [float(w) for w in np.atleast_1d(Wn)]
    return _core.butter(int(N), cutoff, btype, 2.0 if fs is None else float(fs))


def iirnotch(w0: float, Q: float, *, fs: float = 2.0) -> np.ndarray:
    """Second-order notch at ``w0`` Hz with quality ``Q``, as one SOS row.

    Same coefficients as ``scipy.signal.iirnotch(w0, Q, fs)``.

    Examples
    --------
    >>> import fasctrack
    >>> fasctrack.iirnotch(50, 30, fs=1000).shape
    (1, 6)
    """
    return _core.iirnotch(float(w0), float(Q), float(fs))


def mains_notches(f0: float, *, fs: float, bandwidth_hz: float = 2.0, max_harmonics: int = 0,
                  max_frequency_hz: float = 0.0) -> np.ndarray:
    """Notch comb for mains at ``f0`` Hz and its harmonics, one SOS row per harmonic.

    Each notch has the same -3 dB ``bandwidth_hz`` (not the same Q), so high
    harmonics do not cut wide holes in the EMG band.

    Examples
    --------
    >>> import fasctrack
    >>> fasctrack.mains_notches(50, fs=1000).shape  # 50, 100, ..., 450 Hz
    (9, 6)
    """
    return _core.mains_notches(float(f0), float(fs), float(bandwidth_hz), int(max_harmonics),
                               float(max_frequency_hz))


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """Steady-state initial conditions for a unit step, as ``scipy.signal.sosfilt_zi``.

    Examples
    --------
    >>> import fasctrack
    >>> fasctrack.sosfilt_zi(fasctrack.butter(2, 10, fs=100)).shape
    (1, 2)
    """
    return _core.sosfilt_zi(np.asarray(sos, dtype=np.float64))


def sosfilt(sos: np.ndarray, x, zi: Optional[np.ndarray] = None):
    """Causal filtering along the last axis, as ``scipy.signal.sosfilt``.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
    x : array_like, shape (n_samples,) or (n_channels, n_samples)
        float32 stays float32 (arithmetic is double inside); other types become float64.
    zi : ndarray, optional
        Initial state, shape ``(n_sections, n_channels, 2)`` (``(n_sections, 2)`` for 1-D x).

    Returns
    -------
    y : ndarray
    zf : ndarray
        Final state, only when ``zi`` is given.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> y = fasctrack.sosfilt(fasctrack.butter(2, 10, fs=100), np.ones(500))
    >>> round(float(y[-1]), 6)
    1.0
    """
    return _core.sosfilt(np.asarray(sos, dtype=np.float64), _signal(x), zi)


def sosfiltfilt(sos: np.ndarray, x, padlen: Optional[int] = None) -> np.ndarray:
    """Zero-phase forward-backward filtering, as ``scipy.signal.sosfiltfilt`` (odd padding).

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> x = np.sin(2 * np.pi * 5 * np.arange(1000) / 1000)
    >>> y = fasctrack.sosfiltfilt(fasctrack.butter(4, 50, fs=1000), x)
    >>> bool(np.abs(y - x)[100:-100].max() < 1e-3)
    True
    """
    return _core.sosfiltfilt(np.asarray(sos, dtype=np.float64), _signal(x),
                             None if padlen is None else int(padlen))


class SosFilter:
    """Streaming causal SOS filter with per-channel state.

    Feeding a signal in chunks of any sizes gives output identical (bit for bit)
    to one call over the whole signal.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
    n_channels : int
    dtype : {numpy.float64, numpy.float32}
        Sample type of the chunks.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> f = fasctrack.SosFilter(fasctrack.butter(4, 100, fs=1000), n_channels=2)
    >>> x = np.random.default_rng(0).normal(size=(2, 1000))
    >>> y = np.concatenate([f.process(x[:, :300]), f.process(x[:, 300:])], axis=1)
    >>> bool(np.array_equal(y, fasctrack.sosfilt(f.sos, x)))
    True
    """

    def __init__(self, sos: np.ndarray, n_channels: int, dtype=np.float64) -> None:
        dt = np.dtype(dtype)
        if dt == np.float32:
            self._impl = _core.SosFilter32(np.asarray(sos, dtype=np.float64), int(n_channels))
        elif dt == np.float64:
            self._impl = _core.SosFilter64(np.asarray(sos, dtype=np.float64), int(n_channels))
        else:
            raise ValueError(f"dtype: must be float32 or float64, got {dt}")
        self.dtype = dt

    def process(self, x) -> np.ndarray:
        """Filter the next chunk, shape ``(n_channels, n)`` (or ``(n,)`` for one channel)."""
        return self._impl.process(np.asarray(x, dtype=self.dtype))

    def reset(self) -> None:
        """Zero the state, as a new filter."""
        self._impl.reset()

    def set_steady_state(self, x0) -> None:
        """Set the state to the steady state of a constant input ``x0`` per channel."""
        self._impl.set_steady_state(np.asarray(x0, dtype=np.float64).reshape(-1))

    @property
    def zi(self) -> np.ndarray:
        """State in SciPy's layout, shape ``(n_sections, n_channels, 2)``."""
        return self._impl.zi

    @zi.setter
    def zi(self, value) -> None:
        self._impl.zi = np.asarray(value, dtype=np.float64)

    @property
    def sos(self) -> np.ndarray:
        return self._impl.sos

    @property
    def n_channels(self) -> int:
        return self._impl.n_channels

    latency_samples = 0
    """A direct IIR filter adds no fixed delay before output appears."""

    def __repr__(self) -> str:
        return f"<SosFilter: {self._impl.n_sections} section(s), {self.n_channels} channel(s), {self.dtype}>"


def welch(x, fs: float, nperseg: Optional[int] = None, noverlap: Optional[int] = None,
          average: str = "mean") -> Tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density, as ``scipy.signal.welch`` with a Hann window.

    Parameters
    ----------
    x : array_like, shape (n_samples,) or (n_channels, n_samples)
    fs : float
        Sampling rate in Hz.
    nperseg : int, optional
        Segment length; default one second of data (capped at the signal length).
    noverlap : int, optional
        Default ``nperseg // 2``.
    average : {'mean', 'median'}

    Returns
    -------
    freqs : ndarray
    psd : ndarray
        ``unit**2/Hz`` (uV^2/Hz for recordings), shape ``(n_channels, n_freqs)``.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> f, p = fasctrack.welch(np.random.default_rng(0).normal(size=4000), fs=1000)
    >>> f[1], p.shape
    (1.0, (501,))
    """
    if average not in ("mean", "median"):
        raise ValueError(f"average: expected 'mean' or 'median', got {average!r}")
    return _core.welch(_signal(x), float(fs), 0 if nperseg is None else int(nperseg),
                       -1 if noverlap is None else int(noverlap), average == "median")


def detect_mains(x, fs: float, candidates_hz: Sequence[float] = (50.0, 60.0),
                 min_prominence_db: float = 6.0, harmonics: int = 3) -> MainsReport:
    """Find which mains frequency (50 or 60 Hz) contaminates a recording.

    Returns
    -------
    MainsReport
        ``status`` ('found', 'not_found' or 'too_short'), ``frequency_hz`` and the
        prominence scores (dB above neighbouring spectrum) behind the decision.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> t = np.arange(20000) / 2000
    >>> x = np.random.default_rng(1).normal(size=t.size) + 5 * np.sin(2 * np.pi * 60 * t)
    >>> fasctrack.detect_mains(x, fs=2000).frequency_hz
    60.0
    """
    return _core.detect_mains(_signal(x), float(fs), [float(c) for c in candidates_hz],
                              float(min_prominence_db), int(harmonics))


def _quality_options(**kwargs) -> "_core.QualityOptions":
    options = _core.QualityOptions()
    for key, value in kwargs.items():
        if not hasattr(options, key):
            raise TypeError(f"unexpected quality option {key!r}")
        setattr(options, key, float(value))
    return options


def channel_quality(x, fs: float, **options) -> List[ChannelQuality]:
    """Screen each channel for flat, saturated, non-finite, mains-dominated or disconnected signal.

    Keyword options are the thresholds of ``QualityOptions`` (``flat_rms_uv``,
    ``flat_run_s``, ``saturation_fraction``, ``mains_fraction``,
    ``disconnected_rms_uv``, ``disconnected_low_fraction``, ``mains_hz``).

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> x = np.random.default_rng(0).normal(0, 10, size=(2, 4000)); x[1] = 0
    >>> [q.flag_names for q in fasctrack.channel_quality(x, fs=1000)]
    [[], ['flat']]
    """
    return _core.channel_quality(_signal(x), float(fs), _quality_options(**options))


@dataclass(repr=False)
class ConditionResult:
    """Output of :func:`condition`."""

    data: np.ndarray
    sos: np.ndarray
    mains: MainsReport
    mains_hz: float
    highpass_hz: float
    lowpass_hz: float
    quality: List[ChannelQuality]

    def __repr__(self) -> str:
        bad = sum(1 for q in self.quality if not q.usable)
        mains = f"{self.mains_hz:g} Hz notched" if self.mains_hz else "no mains notch"
        return (f"<ConditionResult: {self.data.shape[0]} channel(s) x {self.data.shape[-1]} samples, "
                f"band {self.highpass_hz:g}-{self.lowpass_hz:g} Hz, {mains}, {bad} flagged channel(s)>")


def condition(x, fs: float, *, highpass_hz: float = 20.0, lowpass_hz: float = 500.0, order: int = 4,
              mains: Union[str, int] = "auto", notch_bandwidth_hz: float = 2.0, zero_phase: bool = True,
              **quality_options) -> ConditionResult:
    """Condition raw EMG: screen channels, find mains, band-pass and notch.

    Parameters
    ----------
    x : array_like or Recording
        ``(n_channels, n_samples)`` in microvolts (a Recording's ``data`` is used).
    fs : float
        Sampling rate in Hz.
    highpass_hz, lowpass_hz : float
        Butterworth band edges; the upper edge is clamped to 0.45 * fs.
    order : int
        Butterworth order (per pass).
    mains : {'auto', 50, 60, 'off'}
        'auto' detects the mains frequency from the data.
    zero_phase : bool
        True: forward-backward (offline); False: causal.

    Examples
    --------
    >>> import fasctrack
    >>> rec = fasctrack.read(fasctrack.example_path())
    >>> out = fasctrack.condition(rec.data, rec.fs)
    >>> out.mains_hz
    50.0
    """
    if hasattr(x, "data") and hasattr(x, "fs"):
        x = x.data
    r = _core.condition(_signal(x), float(fs), float(highpass_hz), float(lowpass_hz), int(order), str(mains),
                        float(notch_bandwidth_hz), bool(zero_phase), _quality_options(**quality_options))
    return ConditionResult(**r)
