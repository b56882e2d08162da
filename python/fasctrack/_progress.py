"""Progress bars for long calls (detect, classify), shared so they behave alike.

``progress=None`` (the default everywhere) shows a bar only once a call has
run for ``AUTO_DELAY_S`` of wall time, so quick calls print nothing;
``progress=True`` shows it at once, ``progress=False`` never.
"""
from __future__ import annotations

import importlib.util
from typing import Optional

AUTO_DELAY_S = 2.0


def _tqdm_class():
    # tqdm.auto picks the notebook widget bar, but without ipywidgets it warns
    # ("IProgress not found") in every notebook; the text bar works there too.
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


def progress_bar(total: float, *, desc: str, unit: str, enabled: Optional[bool]):
    """A tqdm bar, or None when ``enabled`` is False or tqdm is unavailable.

    Advance it with ``bar.update(delta)`` (not by setting ``n``) so the
    start-up delay is honoured.

    Examples
    --------
    >>> from fasctrack._progress import progress_bar
    >>> progress_bar(10, desc="work", unit="item", enabled=False) is None
    True
    """
    if enabled is False:
        return None
    try:
        tqdm = _tqdm_class()
    except ImportError:  # tqdm is a dependency, but a progress bar must never break the work
        return None
    # Work is counted in fractions (seconds of signal, parts of a session): one decimal reads better
    # than tqdm's default str(n), e.g. "0.11666666666666667/4".
    fmt = "{l_bar}{bar}| {n:.1f}/{total:g} " + unit + " [{elapsed}<{remaining}{postfix}]"
    return tqdm(total=total, desc=desc, unit=unit, leave=False, delay=0.0 if enabled else AUTO_DELAY_S,
                bar_format=fmt)


class FractionProgress:
    """Adapts a 0..1 ``fraction done`` callback (the C++ core's) to a tqdm bar.

    Examples
    --------
    >>> from fasctrack._progress import FractionProgress
    >>> with FractionProgress(60.0, desc="detect", unit="s", enabled=False) as update:
    ...     update(0.5)
    """

    def __init__(self, total: float, *, desc: str, unit: str, enabled: Optional[bool]):
        self.total = float(total)
        self.bar = progress_bar(round(self.total, 1), desc=desc, unit=unit, enabled=enabled)
        self._done = 0.0

    def __call__(self, fraction: float) -> None:
        if self.bar is None:
            return
        target = round(min(max(fraction, 0.0), 1.0) * self.total, 1)
        if target > self._done:
            self.bar.update(target - self._done)
            self._done = target

    def __enter__(self) -> "FractionProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
