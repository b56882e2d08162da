"""fasctrack: find, characterise and track fasciculations in surface EMG.

The compiled core (C++) does the work; this package gives it a numpy/SciPy-style
face. Arrays are ``(n_channels, n_samples)`` in microvolts, float32 or float64,
and reach the core without a copy when C-contiguous.

Research decision support only; never a diagnosis.
"""
from __future__ import annotations

from pathlib import Path

from . import _core
from ._core import (ChannelInfo, ChannelQuality, FasctrackError, GridPosition, MainsReport, ReadError,
                    UnsupportedFormatError, WriteError)
from ._core import DetectOptions
from ._detect import DetectionResult, StreamingDetector, detect
from ._filter import (ConditionResult, SosFilter, butter, channel_quality, condition, detect_mains,
                      iirnotch, mains_notches, sosfilt, sosfilt_zi, sosfiltfilt, welch)
from ._io import read, write_edf, write_npy
from ._recording import Recording
from ._sim import Simulation, evaluate, simulate

__version__ = _core.__version__


def example_path() -> str:
    """Path of the bundled example recording (8-channel surface EMG, EDF+ with BIDS sidecars).

    Examples
    --------
    >>> import fasctrack, os
    >>> os.path.exists(fasctrack.example_path())
    True
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parents[1] / "data"):
        path = candidate / "sub-01_ses-01_task-rest_emg.edf"
        if path.exists():
            return str(path)
    raise FileNotFoundError("the bundled example recording is not installed with this copy of fasctrack")


__all__ = [
    "ChannelInfo", "ChannelQuality", "ConditionResult", "DetectOptions", "DetectionResult", "StreamingDetector", "detect", "FasctrackError", "GridPosition", "MainsReport",
    "ReadError", "Recording", "SosFilter", "UnsupportedFormatError", "WriteError", "butter",
    "channel_quality", "condition", "detect_mains", "example_path", "iirnotch", "mains_notches", "read",
    "sosfilt", "sosfilt_zi", "sosfiltfilt", "welch", "Simulation", "simulate", "evaluate", "write_edf", "write_npy", "__version__",
]
