"""Fasciculation detection: offline ``detect`` and the chunked ``StreamingDetector``."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _core
from ._core import ChannelInfo
from ._progress import FractionProgress
from ._recording import Recording

EVENT_COLUMNS = ["time_s", "sample", "unit", "channel", "channel_index", "amplitude_uv", "duration_ms", "phases",
                 "turns", "area_uv_ms", "n_channels", "isolated", "doublet", "confidence"]
# The columns of no events, with the dtypes the C++ side gives (the tests
# check them against an empty detect() result).
_EMPTY_EVENT_COLUMNS: Dict[str, np.ndarray] = {
    "time_s": np.empty(0, np.float64), "sample": np.empty(0, np.int64), "unit": np.empty(0, np.int32),
    "channel_index": np.empty(0, np.int64), "amplitude_uv": np.empty(0, np.float64),
    "duration_ms": np.empty(0, np.float64), "phases": np.empty(0, np.int32), "turns": np.empty(0, np.int32),
    "area_uv_ms": np.empty(0, np.float64), "n_channels": np.empty(0, np.int32), "isolated": np.empty(0, bool),
    "doublet": np.empty(0, bool), "confidence": np.empty(0, np.float64)}


def _options(fs: float, options: Dict[str, Any]) -> "_core.DetectOptions":
    o = _core.DetectOptions()
    for key, value in options.items():
        if key.startswith("_") or not hasattr(o, key):
            raise TypeError(f"unknown detection option {key!r}; see help(fasctrack.DetectOptions)")
        setattr(o, key, str(value) if key == "mains" else value)
    o.validate(float(fs))
    return o


def _events_frame(columns: Dict[str, np.ndarray], names: Sequence[str], fs: float) -> pd.DataFrame:
    # One construction in the final column order: adding the names and
    # reordering afterwards cost three frames per call.
    index = np.asarray(columns["channel_index"], dtype=np.int64)
    channel = np.asarray(names, dtype=object)[index] if len(index) else np.empty(0, dtype=object)
    return pd.DataFrame({k: channel if k == "channel" else np.asarray(columns[k]) for k in EVENT_COLUMNS})


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
    templates : dict of int to numpy.ndarray
        Each unit's mean multichannel waveform, ``(n_channels, n_times)`` in
        microvolts, centred on the discharge (``n_times = 2 * snippet + 1``).
    quality : list of ChannelQuality
        Per channel: the start-up screening's flags and measures, with the
        non-finite samples (count and runs), longest stuck run and share of
        samples stuck at the channel's extreme of the whole recording
        (``non_finite``; ``flat`` from a 1 s run; ``saturated`` from 0.1%).
    latency_samples : int
        The stream's bound on the delay between a discharge and its report.
    fs : float
        Sampling rate in Hz.
    channel_names : list of str
    channels : list of ChannelInfo
        The channel metadata detection ran with (grid positions, muscles, bad marks).

    Examples
    --------
    >>> import fasctrack
    >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
    >>> result  # doctest: +ELLIPSIS
    <DetectionResult: ... event(s), ... unit(s), rate .../min (95% CI ...) over ... s clean rest, ... s masked...>
    >>> result.events.shape[1], list(result.masks.columns[:3])
    (14, ['start_s', 'stop_s', 'reason'])
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
    channels: List[ChannelInfo] = field(default_factory=list)

    def to_mne_annotations(self, raw=None, *, masks: bool = True):
        """Events and masks as ``mne.Annotations``, to see them in ``raw.plot()``.

        Parameters
        ----------
        raw : mne.io.Raw, optional
            The Raw the recording came from. Given one whose annotations carry
            an ``orig_time`` (a measurement date), onsets are expressed like
            ``raw.annotations`` so the two can be added; without it onsets
            count from the first data sample (``orig_time=None``), which
            ``raw.set_annotations`` aligns to the data.
        masks : bool, default True
            Add each masked period as a ``BAD_<reason>`` annotation, so MNE
            shades it and ``reject_by_annotation`` skips it.

        Returns
        -------
        mne.Annotations
            One annotation per discharge, ``FP/unit<k>`` (``FP/unassigned``
            for unit -1), lasting the discharge's ``duration_ms``; then masks.

        Examples
        --------
        >>> import fasctrack
        >>> rec = fasctrack.read(fasctrack.example_path())
        >>> result = fasctrack.detect(rec)
        >>> annot = result.to_mne_annotations()
        >>> len(annot) == len(result.events) + len(result.masks)
        True
        >>> raw = rec.to_mne()
        >>> raw = raw.set_annotations(raw.annotations + result.to_mne_annotations(raw))
        """
        from ._mne import result_to_annotations
        return result_to_annotations(self, raw, masks)

    def to_mne_events(self, raw=None) -> np.ndarray:
        """Events as MNE's ``(n, 3)`` integer array ``[sample, 0, event id]``.

        Event ids are ``unit + 1`` (unit 0 is id 1) and 0 for unassigned
        discharges; :attr:`mne_event_id` names them.

        Parameters
        ----------
        raw : mne.io.Raw, optional
            The Raw the recording came from: its ``first_samp`` is added, as
            MNE counts event samples from the start of acquisition.

        Returns
        -------
        numpy.ndarray of int64, shape (n_events, 3)

        Examples
        --------
        >>> import fasctrack
        >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
        >>> events = result.to_mne_events()
        >>> events.shape == (len(result.events), 3), events.dtype.kind
        (True, 'i')
        >>> bool((events[:, 2] == result.events["unit"] + 1).all())
        True
        """
        first = int(getattr(raw, "first_samp", 0) or 0)
        ev = self.events
        out = np.zeros((len(ev), 3), dtype=np.int64)
        out[:, 0] = ev["sample"].to_numpy(dtype=np.int64) + first
        out[:, 2] = ev["unit"].to_numpy(dtype=np.int64) + 1
        return out

    @property
    def mne_event_id(self) -> Dict[str, int]:
        """Names of :meth:`to_mne_events` ids, ``{'FP/unit0': 1, ...}``, for ``mne.Epochs(event_id=...)``.

        Examples
        --------
        >>> import fasctrack
        >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
        >>> result.mne_event_id["FP/unit0"]
        1
        """
        ids = {f"FP/unit{int(u)}": int(u) + 1 for u in sorted(self.units["unit"])}
        if (self.events["unit"] < 0).any():
            ids["FP/unassigned"] = 0
        return ids

    def __repr__(self) -> str:
        s = self.summary
        rate = s["rate"]
        masked = s["duration_s"] - s["clean_rest_s"]
        note = ", INSUFFICIENT clean rest" if s["insufficient"] else ""
        return (f"<DetectionResult: {len(self.events)} event(s), {s['n_units']} unit(s), "
                f"rate {rate['rate_per_min']:.2f}/min (95% CI {rate['ci_low']:.2f}-{rate['ci_high']:.2f}) "
                f"over {s['clean_rest_s']:.1f} s clean rest, {masked:.1f} s masked{note}>")


def _result(raw: Dict[str, Any], fs: float, channels: Sequence[ChannelInfo]) -> DetectionResult:
    names = [c.name for c in channels]
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
                           channel_names=list(names), channels=list(channels))


def _bad_annotation_spans(rec: Recording) -> List[Tuple[int, int]]:
    """Sample spans of annotations named ``BAD...`` (MNE's convention), clipped to the data."""
    # The engine's own rule, so the CLI and Python mask the same samples.
    annotations = [(float(o), float(d), str(t)) for o, d, t in rec.annotations]
    return _core.bad_annotation_spans(annotations, float(rec.fs), int(rec.n_samples))


def _reject_annotated(rec: Recording) -> np.ndarray:
    # Non-finite samples are masked by the engine ('bad_signal'), so blanking a
    # copy is how annotated spans reach it; the caller's array is untouched.
    spans = _bad_annotation_spans(rec)
    if not spans:
        return rec.data
    x = rec.data.copy()
    for start, stop in spans:
        x[:, start:stop] = np.nan
    return x


# As many leads as this without a single electrode position is most likely a
# grid stored without its layout (a bare array, .npy, CSV).
_MANY_LEADS = 16


def _warn_if_no_layout(channels: Sequence[ChannelInfo], options) -> None:
    emg = [c for c in channels if c.type in ("EMG", "")]
    if len(emg) < _MANY_LEADS or any(c.grid is not None for c in emg):
        return
    k = _core.assumed_grid_side(list(channels)) if options.assume_square_grid else 0
    if k:
        warnings.warn(f"{len(emg)} EMG channels without electrode positions are analysed as a {k}x{k} grid, row "
                      "by row; pass channels=fasctrack.grid_channels(rows, columns) if that is wrong, or "
                      "assume_square_grid=False for independent leads", UserWarning, stacklevel=3)
    else:
        warnings.warn(f"{len(emg)} EMG channels without electrode positions are analysed as independent leads "
                      "(one discharge seen by many electrodes is then not one event); if they are a grid, pass "
                      "channels=fasctrack.grid_channels(rows, columns)", UserWarning, stacklevel=3)


def detect(data: Union[np.ndarray, Recording], fs: Optional[float] = None,
           channels: Optional[Sequence[ChannelInfo]] = None, *, progress: Optional[bool] = None,
           reject_by_annotation: bool = True, **options) -> DetectionResult:
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
        the summary). Default: independent channels ``ch1..chN``; for a grid
        use :func:`grid_channels` (16 or more channels without a position
        give a ``UserWarning``).
    progress : bool, optional
        Show a tqdm progress bar: True at once, False never; by default
        (None) only when detection runs longer than 2 s of wall time. Either
        way Ctrl-C stops the work within about half a second of signal and
        raises ``KeyboardInterrupt``.
    reject_by_annotation : bool, default True
        For a Recording: mask the spans of annotations whose description
        starts with ``BAD`` (MNE's convention, e.g. from :func:`from_mne`);
        they appear in ``masks`` with reason ``bad_signal``.
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
    >>> result.summary["rate"]["rate_per_min"] > 0
    True
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
    x = _reject_annotated(rec) if reject_by_annotation and isinstance(data, Recording) else rec.data
    channels = list(channels)
    if len(channels) != x.shape[0]:
        raise ValueError(f"channels: {len(channels)} channel descriptions for {x.shape[0]} rows of data")
    o = _options(fs, options)
    _warn_if_no_layout(channels, o)
    with FractionProgress(x.shape[1] / float(fs), desc="detect", unit="s", enabled=progress) as update:
        raw = _core.detect(x, float(fs), channels, o, update if update.bar is not None else None)
    return _result(raw, float(fs), channels)


def detect_file(path, format: Optional[str] = None, *, fs: Optional[float] = None, scale_to_uv: float = 1.0,
                dtype=None, channels: Optional[Sequence[str]] = None, include_non_voltage: bool = False,
                use_sidecars: bool = True, samples_first: Optional[bool] = None, grid=None, ied_mm: float = 0.0,
                progress: Optional[bool] = None, reject_by_annotation: bool = True, **options) -> DetectionResult:
    """Detect on a recording streamed from its file, 10 s at a time.

    Memory stays bounded whatever the recording's length (a 2-hour 64-channel
    file needs about what a 1-minute one does), and the result is that of
    ``detect(read(path, ...))``: the detector does not depend on how its
    input is chunked. This is what ``fasctrack detect FILE`` runs.

    Parameters
    ----------
    path, format, fs, scale_to_uv, dtype, channels, include_non_voltage, use_sidecars, samples_first, grid, ied_mm
        As for :func:`fasctrack.read` (``channels`` selects by name).
    progress, reject_by_annotation, **options
        As for :func:`detect`.

    Returns
    -------
    DetectionResult

    Examples
    --------
    >>> import fasctrack
    >>> result = fasctrack.detect_file(fasctrack.example_path())
    >>> len(result.events) == len(fasctrack.detect(fasctrack.read(fasctrack.example_path())).events)
    True
    """
    from ._io import _read_args
    args = _read_args(path, format, fs, scale_to_uv, dtype, channels, include_non_voltage, use_sidecars,
                      samples_first, 0, grid, ied_mm)
    reader = _core.RecordingReader(*args)  # the header only: names the file's problems before detecting
    head, n = reader.header, int(reader.n_samples)
    del reader
    names = list(head.channels)
    o = _options(head.fs, options)
    o.reject_by_annotation = bool(reject_by_annotation)
    _warn_if_no_layout(names, o)
    with FractionProgress(n / float(head.fs), desc="detect", unit="s", enabled=progress) as update:
        raw = _core.detect_file(*args, o, update if update.bar is not None else None)
    return _result(raw, float(head.fs), names)


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
        _warn_if_no_layout(self.channels, o)
        if self.dtype == np.float32:
            self._impl = _core.StreamingDetector32(self.fs, self.channels, o)
        elif self.dtype == np.float64:
            self._impl = _core.StreamingDetector64(self.fs, self.channels, o)
        else:
            raise ValueError(f"dtype: must be float32 or float64, got {self.dtype}")
        self._names = [c.name for c in self.channels]
        self._empty: Optional[pd.DataFrame] = None

    def _frame(self, columns: Optional[Dict[str, np.ndarray]]) -> pd.DataFrame:
        # Most calls with short chunks finalise no event, and building a frame
        # costs far more than detecting on 10 ms of signal: an empty result
        # (None from process(), which then builds no columns at all) is a copy
        # of one cached empty frame, about 20x cheaper. A deep copy, so that
        # nothing is shared: a shallow one would share the index, whose name a
        # caller may set.
        if columns is not None and len(columns["sample"]):
            return _events_frame(columns, self._names, self.fs)
        if self._empty is None:
            self._empty = _events_frame(_EMPTY_EVENT_COLUMNS, self._names, self.fs)
        return self._empty.copy()

    def process(self, chunk) -> pd.DataFrame:
        """Feed the next chunk; return the events finalised by it.

        Parameters
        ----------
        chunk : array_like, shape (n_channels, n)
            Raw microvolts; any ``n``, including 0.

        Returns
        -------
        pandas.DataFrame
            :func:`detect`'s event columns; often empty, as an event is final
            only up to ``latency_samples`` after its sample.

        Examples
        --------
        >>> import numpy as np, fasctrack
        >>> sd = fasctrack.StreamingDetector(2048.0, 4)
        >>> sd.process(np.zeros((4, 2048))).shape
        (0, 14)
        """
        return self._frame(self._impl.process(np.asarray(chunk, dtype=self.dtype)))

    def flush(self) -> pd.DataFrame:
        """End of stream: return every pending event.

        Examples
        --------
        >>> import fasctrack
        >>> rec = fasctrack.read(fasctrack.example_path())
        >>> sd = fasctrack.StreamingDetector(rec.fs, rec.channels)
        >>> early = sd.process(rec.data)
        >>> len(early) + len(sd.flush()) == len(fasctrack.detect(rec).events)
        True
        """
        return self._frame(self._impl.flush())

    def reset(self) -> None:
        """Start over as a new detector.

        Examples
        --------
        >>> import numpy as np, fasctrack
        >>> sd = fasctrack.StreamingDetector(2048.0, 2)
        >>> _ = sd.process(np.zeros((2, 100)))
        >>> sd.reset()
        >>> sd  # doctest: +ELLIPSIS
        <StreamingDetector: 2 channel(s) at 2048 Hz, latency ... ms, 0 samples seen>
        """
        self._impl.reset()

    @property
    def latency_samples(self) -> int:
        """Upper bound on the delay between a discharge's sample and its emission."""
        return int(self._impl.latency_samples)

    @property
    def latency_s(self) -> float:
        """:attr:`latency_samples` in seconds."""
        return self.latency_samples / self.fs

    def result(self) -> DetectionResult:
        """Units, masks and summary so far (after :meth:`flush`, of the whole stream).

        Examples
        --------
        >>> import fasctrack
        >>> rec = fasctrack.read(fasctrack.example_path())
        >>> sd = fasctrack.StreamingDetector(rec.fs, rec.channels)
        >>> _ = sd.process(rec.data), sd.flush()
        >>> sd.result().summary["n_units"] == fasctrack.detect(rec).summary["n_units"]
        True
        """
        return _result(self._impl.result(), self.fs, self.channels)

    @staticmethod
    def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Concatenate the event frames returned by successive calls.

        Examples
        --------
        >>> import fasctrack
        >>> fasctrack.StreamingDetector.concat([]).columns[0]
        'time_s'
        """
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=EVENT_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        return (f"<StreamingDetector: {len(self.channels)} channel(s) at {self.fs:g} Hz, "
                f"latency {self.latency_s * 1000:.0f} ms, {self._impl.samples_seen} samples seen>")
