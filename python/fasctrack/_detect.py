"""Fasciculation detection: offline ``detect`` and the chunked ``StreamingDetector``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _core
from ._core import ChannelInfo
from ._recording import Recording

EVENT_COLUMNS = ["time_s", "sample", "unit", "channel", "channel_index", "amplitude_uv", "duration_ms", "phases",
                 "turns", "area_uv_ms", "n_channels", "isolated", "doublet", "confidence"]


def _options(fs: float, options: Dict[str, Any]) -> "_core.DetectOptions":
    o = _core.DetectOptions()
    for key, value in options.items():
        if key.startswith("_") or not hasattr(o, key):
            raise TypeError(f"unknown detection option {key!r}; see help(fasctrack.DetectOptions)")
        setattr(o, key, str(value) if key == "mains" else value)
    o.validate(float(fs))
    return o


def _events_frame(columns: Dict[str, np.ndarray], names: Sequence[str], fs: float) -> pd.DataFrame:
    df = pd.DataFrame({k: np.asarray(v) for k, v in columns.items()})
    index = df["channel_index"].to_numpy() if len(df) else np.zeros(0, np.int64)
    df["channel"] = pd.Series([names[i] for i in index], dtype="object")
    return df[EVENT_COLUMNS]


def _masks_frame(columns: Dict[str, Any], fs: float) -> pd.DataFrame:
    start = np.asarray(columns["start_sample"], dtype=np.int64)
    stop = np.asarray(columns["stop_sample"], dtype=np.int64)
    return pd.DataFrame({"start_s": start / fs, "stop_s": stop / fs, "reason": list(columns["reason"]),
                         "start_sample": start, "stop_sample": stop})


@dataclass(repr=False)
class DetectionResult:
    """What :func:`detect` returns.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per discharge: ``time_s``, ``sample``, ``unit`` (-1 unassigned),
        ``channel`` (name), ``channel_index``, ``amplitude_uv`` (peak-to-peak),
        ``duration_ms``, ``phases``, ``turns``, ``area_uv_ms``, ``n_channels``
        (spatial extent), ``isolated``, ``doublet``, ``confidence`` (0-1).
    units : pandas.DataFrame
        One row per motor unit with count, rate, interval statistics, complexity,
        stability; templates in ``templates``.
    masks : pandas.DataFrame
        Excluded periods: ``start_s``, ``stop_s``, ``reason`` (startup, voluntary,
        tonic, artefact, bad_signal).
    summary : dict
        Clean rest time, excluded time by reason, noise floor per channel, bad
        channels, mains, FP rate with 95% CI overall and per muscle, units,
        ``insufficient`` when clean rest is under ``min_clean_rest_s``.
    """

    events: pd.DataFrame
    units: pd.DataFrame
    masks: pd.DataFrame
    summary: Dict[str, Any]
    templates: Dict[int, np.ndarray] = field(default_factory=dict)
    quality: List[Any] = field(default_factory=list)
    latency_samples: int = 0
    fs: float = 0.0
    channel_names: List[str] = field(default_factory=list)

    def __repr__(self) -> str:
        s = self.summary
        rate = s["rate"]
        masked = s["duration_s"] - s["clean_rest_s"]
        note = ", INSUFFICIENT clean rest" if s["insufficient"] else ""
        return (f"<DetectionResult: {len(self.events)} event(s), {s['n_units']} unit(s), "
                f"rate {rate['rate_per_min']:.2f}/min (95% CI {rate['ci_low']:.2f}-{rate['ci_high']:.2f}) "
                f"over {s['clean_rest_s']:.1f} s clean rest, {masked:.1f} s masked{note}>")


def _result(raw: Dict[str, Any], fs: float, names: Sequence[str]) -> DetectionResult:
    units = raw["units"]
    templates = {u["unit"]: np.asarray(u["template_uv"]) for u in units}
    unit_rows = [{k: v for k, v in u.items() if k != "template_uv"} for u in units]
    unit_df = pd.DataFrame(unit_rows, columns=["unit", "count", "rate_per_min", "peak_channel_index", "amplitude_uv",
                                               "idi_median_ms", "idi_cv", "complex_fraction", "amplitude_cv",
                                               "shape_stability"])
    unit_df.insert(4, "peak_channel", [names[i] for i in unit_df["peak_channel_index"]])
    return DetectionResult(events=_events_frame(raw["events"], names, fs), units=unit_df,
                           masks=_masks_frame(raw["masks"], fs), summary=raw["summary"], templates=templates,
                           quality=list(raw["quality"]), latency_samples=int(raw["latency_samples"]), fs=fs,
                           channel_names=list(names))


def _progress_bar(total_s: float, enabled: Optional[bool]):
    if enabled is False or (enabled is None and total_s < 300):
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but progress must never break detection
        return None, None
    bar = tqdm(total=100, unit="%", desc="detect", leave=False)

    def update(fraction: float) -> None:
        bar.n = round(100 * fraction, 1)
        bar.refresh()

    return bar, update


def detect(data: Union[np.ndarray, Recording], fs: Optional[float] = None,
           channels: Optional[Sequence[ChannelInfo]] = None, *, progress: Optional[bool] = None,
           **options) -> DetectionResult:
    """Detect fasciculation potentials in a resting recording.

    Parameters
    ----------
    data : numpy.ndarray or Recording
        Raw signal ``(n_channels, n_samples)`` in microvolts (float32 or float64;
        a C-contiguous array is used without a copy), or a Recording.
    fs : float
        Sampling rate in Hz (taken from a Recording).
    channels : list of ChannelInfo, optional
        Channel metadata (grid positions enable the spatial rules; muscles group
        the summary). Default: independent channels ``ch1..chN``.
    progress : bool, optional
        Show a progress bar; default only for recordings over 5 minutes.
    **options
        Any :class:`fasctrack.DetectOptions` field, e.g. ``threshold_sd=5.0``,
        ``mains='auto'``, ``min_clean_rest_s=60``.

    Returns
    -------
    DetectionResult

    Examples
    --------
    >>> import fasctrack
    >>> rec = fasctrack.read(fasctrack.example_path())
    >>> result = fasctrack.detect(rec)
    >>> list(result.events.columns[:4])
    ['time_s', 'sample', 'unit', 'channel']
    """
    if isinstance(data, Recording):
        rec = data
        fs = rec.fs if fs is None else fs
        channels = rec.channels if channels is None else channels
    else:
        if fs is None:
            raise ValueError("fs: the sampling rate in Hz is required for an array")
        rec = Recording(data, fs, channels=list(channels or []))  # validates; no copy for float arrays
        channels = rec.channels
    x = rec.data
    channels = list(channels)
    if len(channels) != x.shape[0]:
        raise ValueError(f"channels: {len(channels)} channel descriptions for {x.shape[0]} rows of data")
    o = _options(fs, options)
    bar, update = _progress_bar(x.shape[1] / float(fs), progress)
    try:
        raw = _core.detect(x, float(fs), channels, o, update)
    finally:
        if bar is not None:
            bar.close()
    return _result(raw, float(fs), [c.name for c in channels])


class StreamingDetector:
    """Chunked detection with the same events as :func:`detect`.

    Feed raw microvolt chunks ``(n_channels, n)`` of any size; each call returns
    the events that became final (a DataFrame with :func:`detect`'s columns).
    Events come out at most ``latency_samples`` after their sample was fed.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> rec = fasctrack.read(fasctrack.example_path())
    >>> sd = fasctrack.StreamingDetector(rec.fs, rec.channels)
    >>> parts = [sd.process(rec.data[:, i:i + 4096]) for i in range(0, rec.n_samples, 4096)]
    >>> events = fasctrack.StreamingDetector.concat(parts + [sd.flush()])
    >>> events["sample"].tolist() == fasctrack.detect(rec).events["sample"].tolist()
    True
    """

    def __init__(self, fs: float, channels: Union[int, Sequence[ChannelInfo]], *, dtype=np.float64, **options):
        if isinstance(channels, (int, np.integer)):
            channels = [ChannelInfo(f"ch{i + 1}") for i in range(int(channels))]
        self.channels = list(channels)
        self.fs = float(fs)
        self.dtype = np.dtype(dtype)
        o = _options(fs, options)
        if self.dtype == np.float32:
            self._impl = _core.StreamingDetector32(self.fs, self.channels, o)
        elif self.dtype == np.float64:
            self._impl = _core.StreamingDetector64(self.fs, self.channels, o)
        else:
            raise ValueError(f"dtype: must be float32 or float64, got {self.dtype}")
        self._names = [c.name for c in self.channels]

    def process(self, chunk) -> pd.DataFrame:
        """Feed the next chunk; return the events finalised by it."""
        return _events_frame(self._impl.process(np.asarray(chunk, dtype=self.dtype)), self._names, self.fs)

    def flush(self) -> pd.DataFrame:
        """End of stream: return every pending event."""
        return _events_frame(self._impl.flush(), self._names, self.fs)

    def reset(self) -> None:
        """Start over as a new detector."""
        self._impl.reset()

    @property
    def latency_samples(self) -> int:
        """Upper bound on the delay between a discharge's sample and its emission."""
        return int(self._impl.latency_samples)

    @property
    def latency_s(self) -> float:
        return self.latency_samples / self.fs

    def result(self) -> DetectionResult:
        """Units, masks and summary so far (after :meth:`flush`, of the whole stream)."""
        return _result(self._impl.result(), self.fs, self._names)

    @staticmethod
    def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Concatenate the event frames returned by successive calls."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=EVENT_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        return (f"<StreamingDetector: {len(self.channels)} channel(s) at {self.fs:g} Hz, "
                f"latency {self.latency_s * 1000:.0f} ms, {self._impl.samples_seen} samples seen>")
