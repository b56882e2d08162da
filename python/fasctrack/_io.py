"""Reading and writing recordings."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._core import ChannelInfo
from ._recording import Recording

PathLike = Union[str, "os.PathLike[str]"]


def read(path: PathLike, format: Optional[str] = None, *, fs: Optional[float] = None,
         scale_to_uv: float = 1.0, dtype=None, channels: Optional[Sequence[str]] = None,
         include_non_voltage: bool = False, use_sidecars: bool = True,
         samples_first: Optional[bool] = None, max_bytes: int = 0,
         progress: Optional[bool] = None, grid=None, ied_mm: float = 0.0) -> Recording:
    """Read a recording from EDF/EDF+/BDF/BDF+, WFDB, NumPy ``.npy`` or CSV/text.

    Parameters
    ----------
    path : str or path-like
        The file. For WFDB give the ``.hea`` (or ``.dat``) file.
    format : {'edf', 'bdf', 'wfdb', 'npy', 'csv'}, optional
        Overrides the format implied by the extension.
    fs : float, optional
        Sampling rate in Hz. Required for ``.npy``; for CSV used when the file has
        no time column or rate header; for EDF/WFDB it must match the file.
    scale_to_uv : float, default 1.0
        Factor turning the numbers in a ``.npy``/CSV file into microvolts.
    dtype : {numpy.float32, numpy.float64}, optional
        Sample type; default float64, or the file's own float type for ``.npy``.
    channels : sequence of str, optional
        Keep only these channels, in this order.
    include_non_voltage : bool, default False
        EDF/BDF: keep channels whose unit is not a voltage (triggers, status).
    use_sidecars : bool, default True
        Apply BIDS-EMG sidecars (``*_channels.tsv``, ``*_emg.json``,
        ``*_electrodes.tsv``) found next to the file.
    samples_first : bool, optional
        ``.npy``/CSV layout: True when rows are samples and columns channels.
    max_bytes : int, default 0
        Memory budget for reading, in bytes (0: no limit). A file that would
        need more is refused with a ``ReadError`` stating the bytes needed,
        before anything large is allocated.
    grid : (int, int) or str, optional
        Electrode grid ``(rows, columns)`` or ``"8x8"`` for a file that carries
        no electrode positions (``.npy``, CSV, EDF without BIDS sidecars): the
        EMG channels (after ``channels`` selects them) in row-major order,
        channel ``k`` at row ``k // columns``. Without positions the channels
        are independent leads, and one discharge seen by many electrodes of a
        grid is not one event. A ``ValueError`` when the EMG channel count is
        not ``rows * columns`` or the sidecars already place the electrodes.
    ied_mm : float, default 0.0
        Inter-electrode distance of ``grid`` in mm (0: unknown).
    progress : bool, optional
        Show a tqdm progress bar while the samples are decoded: True at once,
        False never; by default (None) for files over 64 MB, once reading has
        taken 2 s. Such files are read in 10 s blocks (identical samples), so
        Ctrl-C stops the read between blocks with ``KeyboardInterrupt``.

    Returns
    -------
    Recording
        ``data`` in microvolts, shape ``(n_channels, n_samples)``; read quirks in
        ``warnings``.

    Raises
    ------
    ReadError
        The file is missing, unreadable, truncated or corrupt (an ``OSError``).
    UnsupportedFormatError
        Unknown extension or unsupported encoding.
    ValueError
        An argument is invalid.

    Examples
    --------
    >>> import fasctrack
    >>> rec = fasctrack.read(fasctrack.example_path())
    >>> rec.n_channels, rec.fs
    (8, 2048.0)
    """
    if int(max_bytes) < 0:
        raise ValueError(f"max_bytes: must be 0 (no limit) or a positive number of bytes, got {max_bytes}")
    args = _read_args(path, format, fs, scale_to_uv, dtype, channels, include_non_voltage, use_sidecars,
                      samples_first, max_bytes, grid, ied_mm)
    # A budget bounds the whole file, which only the one-piece reader checks.
    if progress is False or int(max_bytes) > 0 or (progress is None and _file_size(args[0]) < _BLOCKED_BYTES):
        return Recording._from_core(_core.read(*args))
    return _read_in_blocks(_core.RecordingReader(*args), progress)


def _read_args(path, format, fs, scale_to_uv, dtype, channels, include_non_voltage, use_sidecars, samples_first,
               max_bytes, grid, ied_mm) -> tuple:
    """read's arguments in the order the readers (and detect_file) take them."""
    if grid is None and ied_mm:
        raise ValueError("ied_mm: only with grid")
    rows, columns = (0, 0) if grid is None else _grid_shape(grid)
    return (os.fspath(path), format or "auto", fs, float(scale_to_uv), dtype, list(channels or []),
            bool(include_non_voltage), bool(use_sidecars), samples_first, int(max_bytes), rows, columns,
            float(ied_mm))


def _grid_shape(grid) -> Tuple[int, int]:
    if isinstance(grid, str):
        return tuple(_core.parse_grid_layout(grid))
    try:
        rows, columns = grid
    except (TypeError, ValueError):
        raise ValueError(f"grid: expected (rows, columns) or 'ROWSxCOLUMNS', got {grid!r}") from None
    if isinstance(rows, bool) or isinstance(columns, bool) or int(rows) != rows or int(columns) != columns:
        raise ValueError(f"grid: rows and columns must be whole numbers, got {grid!r}")
    if rows <= 0 or columns <= 0:
        raise ValueError(f"grid: rows and columns must be positive, got {grid!r}")
    return int(rows), int(columns)


def grid_channels(rows: int, columns: int, ied_mm: float = 0.0, *, muscle: str = "", region: str = "",
                  side: str = "") -> List[ChannelInfo]:
    """Channel descriptions for an electrode grid, in row-major order.

    For an array from an HD-sEMG amplifier, ``(rows * columns, n_samples)``
    with row ``k`` the electrode at grid row ``k // columns``, column
    ``k % columns``. Pass them to :func:`detect` or :class:`StreamingDetector`:
    without positions the channels are independent leads, and one discharge
    seen by many electrodes is not merged into one event.

    Names are ``r{row}c{column}``, 1-based, as in :func:`simulate`.

    >>> import fasctrack
    >>> chans = fasctrack.grid_channels(8, 8, ied_mm=8.0, muscle="biceps_brachii_r")
    >>> chans[9].name, chans[9].grid.row, chans[9].grid.column
    ('r2c2', 1, 1)
    """
    rows, columns = _grid_shape((rows, columns))
    names = [ChannelInfo(f"r{k // columns + 1}c{k % columns + 1}", muscle=muscle, region=region, side=side)
             for k in range(max(rows, 0) * max(columns, 0))]
    return _core.apply_grid_layout(names, rows, columns, float(ied_mm), "")


# Files this large take seconds to decode: worth a progress bar and a chance to stop.
_BLOCKED_BYTES = 64 << 20
_BLOCK_S = 10.0


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # the reader names the problem


def _read_in_blocks(reader, progress: Optional[bool]) -> Recording:
    from ._progress import FractionProgress

    head = reader.header
    n, fs = int(reader.n_samples), float(reader.fs)
    data = np.empty((int(reader.n_channels), n), dtype=head.data.dtype)
    step = max(1, int(_BLOCK_S * fs))
    with FractionProgress(n / fs, desc="read", unit="s", enabled=progress) as update:
        at = 0
        while at < n:
            block = reader.read(step)
            if block.shape[1] == 0:
                raise _core.ReadError(f"{head.source}: ended after {at} of {n} samples")
            data[:, at:at + block.shape[1]] = block
            at += block.shape[1]
            update(at / n)
    return Recording(data=data, fs=head.fs, channels=list(head.channels), start_time=head.start_time,
                     annotations=list(head.annotations), warnings=list(head.warnings),
                     power_line_hz=head.power_line_hz, source=head.source, format=head.format)


def write_npy(path: PathLike, x: np.ndarray) -> None:
    """Write a 1-D or ``(n_channels, n_samples)`` array as ``.npy`` (float32/float64), atomically.

    Examples
    --------
    >>> import numpy as np, fasctrack, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> fasctrack.write_npy(p, np.ones((2, 3), np.float32))
    >>> np.load(p).shape
    (2, 3)
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        x = x.astype(np.float64, copy=False)
    _core.write_npy(os.fspath(path), x)


def write_edf(path: PathLike, recording: Recording, *, bdf: bool = False,
              physical_range_uv: float = 0.0) -> None:
    """Write a Recording as EDF+ (16-bit) or BDF+ (24-bit, ``bdf=True``) through EDFlib.

    Parameters
    ----------
    physical_range_uv : float, default 0
        Symmetric physical range; 0 picks it from the data with 10% headroom.

    Examples
    --------
    >>> import numpy as np, fasctrack, tempfile, os
    >>> rec = fasctrack.Recording(np.random.default_rng(0).normal(size=(2, 2048)), fs=1024.0)
    >>> p = os.path.join(tempfile.mkdtemp(), "x.edf")
    >>> fasctrack.write_edf(p, rec)
    >>> fasctrack.read(p).n_samples
    2048
    """
    _core.write_edf(os.fspath(path), recording.data, recording.fs, list(recording.channels),
                    recording.start_time, [tuple(a) for a in recording.annotations], bool(bdf),
                    float(physical_range_uv))
