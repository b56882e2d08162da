"""The Recording container used throughout the Python API."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ._core import ChannelInfo


@dataclass(repr=False)
class Recording:
    """A multi-channel EMG recording.

    Parameters
    ----------
    data : numpy.ndarray
        Samples, shape ``(n_channels, n_samples)``, in microvolts, float32 or float64.
        A C-contiguous array is used as is (no copy).
    fs : float
        Sampling rate in Hz.
    channels : list of ChannelInfo, optional
        One per row of ``data``; default names ``ch1 .. chN`` of type EMG.
    start_time : str, optional
        ISO 8601 time of the first sample, ``""`` when unknown.
    annotations : list of (onset_s, duration_s, description), optional
    warnings : list of str, optional
        Quirks of the source file found while reading.
    power_line_hz : float, optional
        Mains frequency stated by the file's metadata, if any.
    source, format : str, optional
        Path and format the recording was read from.

    Examples
    --------
    >>> import numpy as np, fasctrack
    >>> rec = fasctrack.Recording(np.zeros((2, 2048), np.float32), fs=2048.0)
    >>> rec.n_channels, rec.duration_s
    (2, 1.0)
    """

    data: np.ndarray
    fs: float
    channels: List[ChannelInfo] = field(default_factory=list)
    start_time: str = ""
    annotations: List[Tuple[float, float, str]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    power_line_hz: Optional[float] = None
    source: str = ""
    format: str = ""

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if data.dtype not in (np.float32, np.float64):
            data = data.astype(np.float64)
        if data.ndim == 1:
            data = data[np.newaxis, :]
        if data.ndim != 2:
            raise ValueError(f"data: expected shape (n_channels, n_samples), got {data.shape}")
        if data.shape[0] == 0 or data.shape[1] == 0:
            raise ValueError(f"data: recording has zero channels or samples (shape {data.shape})")
        self.data = data
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"fs: must be a positive number of Hz, got {self.fs!r}")
        self.fs = float(self.fs)
        if not self.channels:
            self.channels = [ChannelInfo(f"ch{i + 1}") for i in range(data.shape[0])]
        if len(self.channels) != data.shape[0]:
            raise ValueError(
                f"channels: {len(self.channels)} channel descriptions for {data.shape[0]} rows of data")

    @classmethod
    def _from_core(cls, core) -> "Recording":
        return cls(data=core.data, fs=core.fs, channels=list(core.channels), start_time=core.start_time,
                   annotations=list(core.annotations), warnings=list(core.warnings),
                   power_line_hz=core.power_line_hz, source=core.source, format=core.format)

    @property
    def n_channels(self) -> int:
        """Number of channels (rows of ``data``)."""
        return int(self.data.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs

    @property
    def ch_names(self) -> List[str]:
        """Channel names, in row order (as MNE's ``raw.ch_names``)."""
        return [c.name for c in self.channels]

    def pick(self, names: Sequence[str]) -> "Recording":
        """Return a new Recording with only the named channels, in that order.

        Examples
        --------
        >>> import numpy as np, fasctrack
        >>> rec = fasctrack.Recording(np.zeros((3, 100)), fs=1000.0)
        >>> rec.pick(["ch3", "ch1"]).ch_names
        ['ch3', 'ch1']
        """
        index = {c.name: i for i, c in enumerate(self.channels)}
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(f"names: no channel named {', '.join(map(repr, missing))}; have {self.ch_names}")
        rows = [index[n] for n in names]
        return Recording(data=np.ascontiguousarray(self.data[rows]), fs=self.fs,
                         channels=[self.channels[i] for i in rows], start_time=self.start_time,
                         annotations=list(self.annotations), warnings=list(self.warnings),
                         power_line_hz=self.power_line_hz, source=self.source, format=self.format)

    def to_mne(self):
        """This recording as an MNE-Python ``RawArray`` (needs ``fasctrack[mne]``).

        Channels become type ``'emg'`` in volts; ``marked_bad`` channels go to
        ``info['bads']``, ``annotations`` to ``raw.annotations``,
        ``power_line_hz`` to ``info['line_freq']``, ``start_time`` to the
        measurement date. :func:`fasctrack.from_mne` reverses it.

        Returns
        -------
        mne.io.RawArray

        Examples
        --------
        >>> import fasctrack
        >>> raw = fasctrack.read(fasctrack.example_path()).to_mne()
        >>> raw.info["sfreq"], raw.info["bads"], raw.annotations.description[0]
        (2048.0, ['EMG e8'], 'voluntary contraction')
        """
        from ._mne import recording_to_mne
        return recording_to_mne(self)

    def __repr__(self) -> str:
        # The file name, as MNE's Raw shows it; the full path is in .source.
        where = f" from {os.path.basename(self.source)!r}" if self.source else ""
        extra = ""
        bad = sum(bool(getattr(c, "marked_bad", False)) for c in self.channels)
        if bad:
            extra += f", {bad} marked bad"
        if self.annotations:
            extra += f", {len(self.annotations)} annotation(s)"
        if self.warnings:
            extra += f", {len(self.warnings)} warning(s)"
        return (f"<Recording{where}: {self.n_channels} channel(s) x {self.n_samples} samples "
                f"at {self.fs:g} Hz ({self.duration_s:.3f} s), {self.data.dtype}, uV{extra}>")
