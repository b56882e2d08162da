"""MNE-Python interop: ``from_mne`` and the Recording/DetectionResult converters.

MNE is an optional extra (``pip install 'fasctrack[mne]'``), so it is imported
only inside these functions: ``import fasctrack`` must not need it.
"""
from __future__ import annotations

import datetime as _dt
import warnings
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._core import ChannelInfo
from ._recording import Recording

if TYPE_CHECKING:  # pragma: no cover - typing only
    import mne

# Channel types MNE assigns to generic biopotential inputs. Readers such as
# mne.io.read_raw_edf type every signal 'eeg' unless told otherwise, so EMG
# often arrives under one of these.
_FALLBACK_TYPES = ("eeg", "seeg", "ecog", "dbs", "bio", "misc")
_BAD_REASON = "marked bad in MNE (info['bads'])"


def _require_mne():
    try:
        import mne
    except ImportError as exc:
        raise ImportError("this needs MNE-Python, an optional dependency of fasctrack: "
                          "pip install 'fasctrack[mne]'") from exc
    return mne


def _voltage(raw, i: int) -> bool:
    """A signal in volts; trigger channels are stored 'in volts' too but carry codes, not potentials."""
    from mne.io.constants import FIFF
    return (int(raw.info["chs"][i]["unit"]) == int(FIFF.FIFF_UNIT_V)
            and raw.get_channel_types(picks=[i])[0] != "stim")


def _select(raw, picks: Optional[Sequence[Union[str, int]]]) -> Tuple[List[int], List[str]]:
    """Row indices to take from ``raw`` and the warnings the choice deserves."""
    if picks is not None:
        idx = [raw.ch_names.index(p) if isinstance(p, str) and p in raw.ch_names else p for p in picks]
        unknown = [p for p in idx if not isinstance(p, (int, np.integer)) or not 0 <= p < len(raw.ch_names)]
        if unknown:
            raise ValueError(f"picks: no channel {', '.join(map(repr, unknown))} in raw ({raw.ch_names})")
        not_volts = [raw.ch_names[i] for i in idx if not _voltage(raw, i)]
        if not_volts:
            raise ValueError(f"picks: {not_volts} are not voltage channels")
        return [int(i) for i in idx], []
    types = raw.get_channel_types()
    emg = [i for i, t in enumerate(types) if t == "emg"]
    if emg:
        return emg, []
    fallback = [i for i, t in enumerate(types) if t in _FALLBACK_TYPES and _voltage(raw, i)]
    if not fallback:
        raise ValueError(f"raw has no EMG channel and no other voltage channel (types: {sorted(set(types))})")
    kinds = sorted({types[i] for i in fallback})
    msg = (f"no channel typed 'emg' in raw; using its {len(fallback)} voltage channel(s) of type "
           f"{', '.join(kinds)} (mark EMG with raw.set_channel_types({{name: 'emg'}}) or pass picks=)")
    return fallback, [msg]


def _start_time(raw) -> str:
    meas_date = raw.info["meas_date"]
    if meas_date is None:
        return ""
    # meas_date is the start of acquisition; the data may begin later (first_samp).
    return (meas_date + _dt.timedelta(seconds=float(raw.first_time))).isoformat()


def _annotations(raw, duration_s: float) -> List[Tuple[float, float, str]]:
    out = []
    # Stored onsets count from meas_date (or, without one, from sample 0 of
    # acquisition); both put the first data sample at raw.first_time.
    for onset, duration, description in zip(raw.annotations.onset, raw.annotations.duration,
                                             raw.annotations.description):
        start = float(onset) - float(raw.first_time)
        if start + float(duration) >= 0 and start <= duration_s:
            out.append((start, float(duration), str(description)))
    return out


def from_mne(raw: "mne.io.BaseRaw", picks: Optional[Sequence[Union[str, int]]] = None, *,
             dtype=np.float64) -> Recording:
    """Make a :class:`Recording` from an MNE-Python ``Raw``.

    Parameters
    ----------
    raw : mne.io.Raw
        Any MNE raw object (preloaded or not).
    picks : sequence of str or int, optional
        Channel names or indices to take, in that order (voltage channels
        only). Default: every channel typed ``'emg'``; if there is none (MNE's
        EDF reader types every signal ``'eeg'``), every voltage channel of a
        generic type (eeg, seeg, ecog, dbs, bio, misc), with a warning.
    dtype : {numpy.float64, numpy.float32}
        Sample type of the result.

    Returns
    -------
    Recording
        ``data`` in microvolts (MNE stores volts); ``fs`` and channel names
        from ``raw.info``; channels in ``info['bads']`` have ``marked_bad``
        set (detection leaves them out); ``raw.annotations`` become
        ``annotations`` with onsets from the first data sample, and those whose
        description starts with ``BAD`` are masked by :func:`fasctrack.detect`
        (``reject_by_annotation``); ``info['line_freq']`` becomes
        ``power_line_hz``; ``meas_date`` becomes ``start_time``.

    Raises
    ------
    ImportError
        MNE-Python is not installed (``pip install 'fasctrack[mne]'``).
    ValueError
        No usable channel, or a pick that is unknown or not a voltage channel.

    Notes
    -----
    MNE knows nothing of electrode grids or muscles, so the channels come
    without them and detection treats each as an independent lead. For a
    grid, set each channel's position (and muscle) before detecting::

        for ch in rec.channels:
            row, col = layout[ch.name]
            ch.grid = fasctrack.GridPosition(row, col, 8.0)  # inter-electrode distance, mm
            ch.muscle = "biceps_brachii_r"

    See Also
    --------
    Recording.to_mne, DetectionResult.to_mne_annotations, DetectionResult.to_mne_events

    Examples
    --------
    >>> import mne, numpy as np, fasctrack
    >>> info = mne.create_info(["EMG1", "EMG2", "STI"], 2048.0, ["emg", "emg", "stim"])
    >>> raw = mne.io.RawArray(np.full((3, 2048), 1e-6), info, verbose=False)
    >>> raw.info["bads"] = ["EMG2"]
    >>> rec = fasctrack.from_mne(raw)
    >>> rec.ch_names, float(rec.data[0, 0]), rec.channels[1].marked_bad  # volts became microvolts
    (['EMG1', 'EMG2'], 1.0, True)
    """
    _require_mne()
    if not (hasattr(raw, "get_data") and hasattr(raw, "info")):
        raise TypeError(f"raw: expected an mne.io.Raw, got {type(raw).__name__}")
    rows, notes = _select(raw, picks)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: must be float32 or float64, got {dtype}")
    data = np.ascontiguousarray(raw.get_data(picks=rows) * 1e6, dtype=dtype)  # V -> uV
    bads = set(raw.info["bads"])
    channels = [ChannelInfo(raw.ch_names[i], source_unit="V", marked_bad=raw.ch_names[i] in bads,
                            bad_reason=_BAD_REASON if raw.ch_names[i] in bads else "") for i in rows]
    fs = float(raw.info["sfreq"])
    filenames = [f for f in getattr(raw, "filenames", ()) if f]
    line = raw.info.get("line_freq")
    return Recording(data=data, fs=fs, channels=channels, start_time=_start_time(raw),
                     annotations=_annotations(raw, data.shape[1] / fs), warnings=notes,
                     power_line_hz=float(line) if line else None,
                     source=str(filenames[0]) if filenames else "", format="mne")


def _meas_date(start_time: str) -> Optional[_dt.datetime]:
    if not start_time:
        return None
    try:
        when = _dt.datetime.fromisoformat(start_time)
    except ValueError:
        return None
    # MNE requires an aware UTC datetime; files without a zone are taken as UTC.
    return when.replace(tzinfo=_dt.timezone.utc) if when.tzinfo is None else when.astimezone(_dt.timezone.utc)


def recording_to_mne(rec: Recording) -> Any:
    """The body of :meth:`Recording.to_mne` (kept here so MNE stays optional)."""
    mne = _require_mne()
    info = mne.create_info(rec.ch_names, rec.fs, ch_types="emg")
    if rec.power_line_hz:
        info["line_freq"] = float(rec.power_line_hz)
    info["bads"] = [c.name for c in rec.channels if c.marked_bad]
    raw = mne.io.RawArray(np.asarray(rec.data, dtype=np.float64) * 1e-6, info, verbose=False)  # uV -> V
    when = _meas_date(rec.start_time)
    if when is not None:
        raw.set_meas_date(when)
    if rec.annotations:
        onset, duration, description = zip(*rec.annotations)
        raw.set_annotations(mne.Annotations(onset, duration, description, orig_time=None))
    return raw


def result_to_annotations(result, raw=None, masks: bool = True) -> Any:
    """The body of :meth:`DetectionResult.to_mne_annotations`."""
    mne = _require_mne()
    ev = result.events
    labels = [f"FP/unit{u}" if u >= 0 else "FP/unassigned" for u in ev["unit"].to_numpy()]
    onset = list(ev["time_s"].to_numpy(dtype=float))
    duration = list(ev["duration_ms"].to_numpy(dtype=float) / 1000.0)
    if masks:
        m = result.masks
        onset += list(m["start_s"].to_numpy(dtype=float))
        duration += list((m["stop_s"] - m["start_s"]).to_numpy(dtype=float))
        labels += [f"BAD_{r}" for r in m["reason"]]
    order = np.argsort(onset, kind="stable")
    onset = np.asarray(onset, dtype=float)[order]
    duration = np.asarray(duration, dtype=float)[order]
    labels = [labels[i] for i in order]
    orig_time = None
    if raw is not None and raw.annotations.orig_time is not None:
        # Express onsets as raw.annotations does, so the two can be added.
        onset = onset + float(raw.first_time)
        orig_time = raw.annotations.orig_time
    return mne.Annotations(onset, duration, labels, orig_time=orig_time)
