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
from ._detect import DetectionResult, StreamingDetector, detect, detect_file
from ._filter import (ConditionResult, SosFilter, butter, channel_quality, condition, detect_mains,
                      iirnotch, mains_notches, sosfilt, sosfilt_zi, sosfiltfilt, welch)
from ._io import grid_channels, read, write_edf, write_npy
from ._mne import from_mne
from ._recording import Recording
from ._pattern import (ManifestError, PatternOptions, PatternReport, SessionResult, analyze_session, classify,
                       pattern_session, read_manifest)
from ._sim import Simulation, evaluate, simulate

__version__ = _core.__version__


def __getattr__(name: str):
    # fasctrack.plot imports matplotlib (slow); load it on first use so that
    # `import fasctrack` stays quick for scripts that never plot.
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'fasctrack' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"plot"})  # so tab completion offers the lazily loaded module


_EXAMPLES = {"recording": "sub-01_ses-01_task-rest_emg.edf", "history": "history/manifest.json"}


def example_path(name: str = "recording") -> str:
    """Path of a bundled example.

    Parameters
    ----------
    name : {'recording', 'history'}
        ``'recording'``: one 60 s, 8-channel (2 x 4 grid) surface-EMG
        recording, EDF+ with BIDS sidecars. ``'history'``: the session
        manifest (JSON) of one simulated subject's 4 resting sessions over 6
        weeks (8 bipolar leads over 4 muscles), for :func:`classify`.

    Examples
    --------
    >>> import fasctrack, os
    >>> os.path.exists(fasctrack.example_path())
    True
    >>> os.path.basename(fasctrack.example_path("history"))
    'manifest.json'
    """
    if name not in _EXAMPLES:
        raise ValueError(f"name: expected one of {sorted(_EXAMPLES)}, got {name!r}")
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parents[1] / "data"):  # installed package, then source tree
        path = candidate / _EXAMPLES[name]
        if path.exists():
            return str(path)
    raise FileNotFoundError(f"the bundled example {name!r} is not installed with this copy of fasctrack")


__all__ = [
    "ChannelInfo", "ChannelQuality", "ConditionResult", "DetectOptions", "DetectionResult", "StreamingDetector", "detect", "FasctrackError", "GridPosition", "MainsReport",
    "ReadError", "Recording", "SosFilter", "UnsupportedFormatError", "WriteError", "butter",
    "channel_quality", "condition", "detect_mains", "example_path", "from_mne", "iirnotch", "mains_notches", "read",
    "sosfilt", "sosfilt_zi", "sosfiltfilt", "welch", "Simulation", "simulate", "evaluate", "write_edf", "write_npy", "__version__",
    "ManifestError", "PatternOptions", "PatternReport", "SessionResult", "analyze_session", "classify", "pattern_session",
    "read_manifest",
]
