"""Benign versus warning pattern across sessions: ``classify`` and its report.

Research decision support only; a report never makes a diagnosis.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import pandas as pd

from . import _core
from ._core import ManifestError, Manifest, PatternOptions, SessionResult
from ._progress import progress_bar
from ._recording import Recording

PathLike = Union[str, "os.PathLike[str]"]

MUSCLE_COLUMNS = ["session", "date", "day", "muscle", "region", "side", "state", "n_events", "clean_rest_min",
                  "rate_per_min", "ci_low", "ci_high", "n_units", "new_units", "complex_fraction",
                  "isolated_fraction", "n_doublet", "rest_minutes", "minutes_with_fp_fraction", "state_reason"]
UNIT_COLUMNS = ["muscle", "unit", "sessions", "n_sessions", "new", "turned_complex", "turned_complex_session", "text"]
SIGHTING_COLUMNS = ["muscle", "unit", "session", "detector_unit", "count", "rate_per_min", "amplitude_uv",
                    "complex_fraction", "similarity", "peak_channel"]


def _pattern_options(options: Mapping[str, Any]) -> "_core.PatternOptions":
    o = _core.PatternOptions()
    for key, value in options.items():
        if key.startswith("_") or not hasattr(o, key) or key == "validate":
            raise TypeError(f"unknown pattern option {key!r}; see help(fasctrack.PatternOptions)")
        setattr(o, key, value)
    o.validate()
    return o


def _detect_options(options: Optional[Mapping[str, Any]]) -> "_core.DetectOptions":
    # Validated against each recording's fs when it is detected.
    o = _core.DetectOptions()
    for key, value in (options or {}).items():
        if key.startswith("_") or not hasattr(o, key) or key == "validate":
            raise TypeError(f"unknown detection option {key!r}; see help(fasctrack.DetectOptions)")
        setattr(o, key, str(value) if key == "mains" else value)
    return o


def _write_atomically(path: PathLike, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class PatternReport:
    """A subject's pattern across sessions: the label, why, and the evidence.

    Made by :func:`classify`. The label rests on which muscles were active in
    which sessions on which dates (``muscles``); everything else is evidence
    reported beside it. Research decision support, never a diagnosis.

    Attributes
    ----------
    pattern : str
        ``"none"``, ``"benign"``, ``"warning"`` or ``"indeterminate"``.
    decision : str
        The label and its reasons in plain words.
    reasons : list of dict
        Every criterion evaluated (``persistence`` per muscle, ``spread``,
        ``fasciculations``, ``follow_up``, ``clean_rest``): ``met``,
        ``decisive``, ``text``, ``values`` and ``thresholds``.
    muscles : pandas.DataFrame
        One row per session and muscle: state (active, quiet, insufficient),
        FP count, clean rest, rate with its 95% CI, units, complex and
        isolated shares, doublets, within-session persistence.
    units : pandas.DataFrame
        One row per motor unit tracked across sessions; ``unit_sightings``
        has one row per unit and session.

    Examples
    --------
    >>> import fasctrack
    >>> report = fasctrack.classify([
    ...     {"id": "s1", "date": "2026-01-05", "clean_rest_s": 90, "muscles": [{"muscle": "biceps_r", "n_events": 8}]},
    ...     {"id": "s2", "date": "2026-02-09", "clean_rest_s": 90, "muscles": [{"muscle": "biceps_r", "n_events": 0}]}],
    ...     progress=False)
    >>> report.pattern
    'benign'
    >>> report.muscles[["session", "muscle", "state", "n_events"]]
      session    muscle   state  n_events
    0      s1  biceps_r  active         8
    1      s2  biceps_r   quiet         0
    """

    def __init__(self, data: "_core.PatternReportData"):
        self._data = data
        self._dict = json.loads(data.to_json(-1))

    @property
    def pattern(self) -> str:
        """``"none"``, ``"benign"``, ``"warning"`` or ``"indeterminate"``."""
        return self._dict["pattern"]

    @property
    def decision(self) -> str:
        """The label and the criteria that decided it, in plain words."""
        return self._dict["decision"]

    @property
    def subject(self) -> str:
        """The subject named by the manifest ("" when none)."""
        return self._dict["subject"]

    @property
    def reasons(self) -> List[Dict[str, Any]]:
        """Every criterion as evaluated, decisive ones first, with values and thresholds."""
        return self._dict["reasons"]

    @property
    def muscles(self) -> pd.DataFrame:
        """Per-session, per-muscle states and measurements (one row each)."""
        return pd.DataFrame(self._dict["muscles"], columns=MUSCLE_COLUMNS)

    @property
    def units(self) -> pd.DataFrame:
        """Motor units tracked across sessions, one row per unit: where it was seen, new, turned complex."""
        rows = [{"muscle": u["muscle"], "unit": u["unit"], "sessions": list(u["sessions"]),
                 "n_sessions": len(u["sessions"]), "new": u["new"], "turned_complex": u["turned_complex"],
                 "turned_complex_session": u["turned_complex_session"], "text": u["text"]}
                for u in self._dict["units"]]
        return pd.DataFrame(rows, columns=UNIT_COLUMNS)

    @property
    def unit_sightings(self) -> pd.DataFrame:
        """One row per tracked unit and session: the detector's label there, count, amplitude, similarity."""
        rows = [{"muscle": u["muscle"], "unit": u["unit"], "session": g["session"], "detector_unit": g["unit"],
                 "count": g["count"], "rate_per_min": g["rate_per_min"], "amplitude_uv": g["amplitude_uv"],
                 "complex_fraction": g["complex_fraction"], "similarity": g["similarity"],
                 "peak_channel": g["peak_channel"]}
                for u in self._dict["units"] for g in u["sightings"]]
        return pd.DataFrame(rows, columns=SIGHTING_COLUMNS)

    @property
    def evidence(self) -> Dict[str, Any]:
        """Supporting evidence per muscle (complex share, units, rate trend, clinical findings) and notes."""
        return self._dict["evidence"]

    @property
    def notes(self) -> List[str]:
        """Supporting evidence and caveats in words (never deciding the label)."""
        return self._dict["evidence"]["notes"]

    @property
    def sessions(self) -> pd.DataFrame:
        """One row per session: date, clean rest, analysable, active muscles, context, clinical findings."""
        return pd.DataFrame(self._dict["sessions"])

    @property
    def options(self) -> Dict[str, Any]:
        """Every threshold the classification used."""
        return self._dict["options"]

    @property
    def software_version(self) -> str:
        """The fasctrack version that made the report."""
        return self._dict["software_version"]

    @property
    def disclaimer(self) -> str:
        """Research decision support, not a diagnosis."""
        return self._dict["disclaimer"]

    def to_dict(self) -> Dict[str, Any]:
        """The report as the dict REPORT.json holds.

        Examples
        --------
        >>> import fasctrack
        >>> r = fasctrack.classify([{"id": "a", "date": "2026-01-05", "clean_rest_s": 90, "muscles": []}], progress=False)
        >>> sorted(r.to_dict())[:4]
        ['decision', 'disclaimer', 'evidence', 'muscles']
        """
        return json.loads(json.dumps(self._dict))

    def to_json(self, path: Optional[PathLike] = None, *, indent: int = 2) -> str:
        """REPORT.json text (the same as ``fasctrack classify --out`` writes); also written to ``path`` if given.

        Examples
        --------
        >>> import fasctrack, json
        >>> r = fasctrack.classify([{"id": "a", "date": "2026-01-05", "clean_rest_s": 90, "muscles": []}], progress=False)
        >>> sorted(k for k in json.loads(r.to_json()) if k in {"pattern", "reasons", "muscles", "units", "options"})
        ['muscles', 'options', 'pattern', 'reasons', 'units']
        """
        text = self._data.to_json(int(indent)) + "\n"
        if path is not None:
            _write_atomically(path, text)
        return text

    def to_html(self, path: Optional[PathLike] = None) -> str:
        """A self-contained HTML report (inline SVG plots, no scripts); also written to ``path`` if given.

        Examples
        --------
        >>> import fasctrack
        >>> r = fasctrack.classify([{"id": "a", "date": "2026-01-05", "clean_rest_s": 90, "muscles": []}], progress=False)
        >>> html = r.to_html()
        >>> html.startswith("<!DOCTYPE html>"), "Not a diagnosis" in html
        (True, True)
        """
        text = self._data.to_html()
        if path is not None:
            _write_atomically(path, text)
        return text

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        m = self._dict["muscles"]
        n_sessions = len(self._dict["sessions"])
        muscles = sorted({r["muscle"] for r in m})
        active = sorted({r["muscle"] for r in m if r["state"] == "active"})
        decisive = [r["criterion"] + (f"({r['muscle']})" if r.get("muscle") else "")
                    for r in self._dict["reasons"] if r["decisive"] and r["met"]]
        who = f" {self.subject}" if self.subject else ""
        return (f"<PatternReport{who}: {self.pattern.upper()}"
                + (f" by {', '.join(decisive)}" if decisive and self.pattern == "warning" else "")
                + f"; {n_sessions} session(s), {len(muscles)} muscle(s), active: {', '.join(active) or 'none'}; "
                f"{len(self._dict['units'])} tracked unit(s). Research decision support, not a diagnosis.>")


def read_manifest(path: PathLike) -> Manifest:
    """Read and validate a session manifest (JSON); recordings must exist.

    Raises ``fasctrack.ManifestError`` (a ``ReadError`` and a ``ValueError``)
    naming the file and the JSON field, e.g. ``S01.json: sessions[2].date: ...``.

    Examples
    --------
    >>> import fasctrack, json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> open(os.path.join(d, "s1.edf"), "w").close()
    >>> with open(os.path.join(d, "m.json"), "w") as f:
    ...     json.dump({"subject": "S01", "sessions": [{"id": "s1", "date": "2026-01-05", "recording": "s1.edf"}]}, f)
    >>> m = fasctrack.read_manifest(os.path.join(d, "m.json"))
    >>> m.subject, len(m), m.sessions[0]["date"]
    ('S01', 1, '2026-01-05')
    """
    return _core.read_manifest(os.fspath(path))


def analyze_session(manifest: Union[Manifest, PathLike], index: int, *, progress: Optional[bool] = False,
                    **detect_options) -> SessionResult:
    """Read, detect and measure session ``index`` of a manifest.

    The result is picklable, so sessions can be measured in parallel (Dask,
    multiprocessing) and classified together with :func:`classify`.

    Examples
    --------
    >>> import fasctrack, json, os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> sim = fasctrack.simulate(duration_s=70, geometry="bipolar", bipolar_channels=2, n_units=0, seed=2)
    >>> fasctrack.write_edf(os.path.join(d, "s1.edf"), sim.recording)
    >>> with open(os.path.join(d, "m.json"), "w") as f:
    ...     json.dump({"sessions": [{"id": "s1", "date": "2026-01-05", "recording": "s1.edf"}]}, f)
    >>> s = fasctrack.analyze_session(os.path.join(d, "m.json"), 0)
    >>> s.id, s.clean_rest_s > 60
    ('s1', True)
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    n = len(manifest)
    if not 0 <= index < n:
        raise IndexError(f"index: session {index} out of range ({n} sessions)")
    o = _detect_options(detect_options)
    bar = progress_bar(1.0, desc=f"session {manifest.sessions[index]['id']}", unit="rec", enabled=progress)
    done = [0.0]

    def update(fraction: float) -> None:
        if bar is not None and fraction > done[0]:
            bar.update(fraction - done[0])
            done[0] = fraction

    try:
        return _core.analyze_session(manifest, int(index), o, update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def pattern_session(recording: Recording, *, id: str, date: str, context: Sequence[str] = (),
                    weakness: Sequence[str] = (), atrophy: Sequence[str] = (), progress: Optional[bool] = False,
                    **detect_options) -> SessionResult:
    """Detect and measure one in-memory recording as a session for :func:`classify`.

    Parameters
    ----------
    recording : Recording
        Its channels name the muscles (``ChannelInfo.muscle``), regions and sides.
    id, date : str
        Session id and ISO date (``YYYY-MM-DD``).
    context : list of str
        Tags such as ``"post-exercise"``, ``"caffeine"``, ``"stress"``.
    weakness, atrophy : list of str
        Muscles with clinical weakness or atrophy at this session.
    **detect_options
        Any :class:`fasctrack.DetectOptions` field.

    Examples
    --------
    >>> import fasctrack
    >>> sim = fasctrack.simulate(duration_s=70, geometry="bipolar", bipolar_channels=2, n_units=2, seed=1)
    >>> s = fasctrack.pattern_session(sim.recording, id="s1", date="2026-01-05", context=["caffeine"])
    >>> s.muscles
    ['first_dorsal_interosseous_r', 'tibialis_anterior_l']
    """
    info = _core.ManifestSession(str(id), str(date), list(context), list(weakness), list(atrophy), recording.source)
    o = _detect_options(detect_options)
    o.validate(float(recording.fs))
    return _core.pattern_session(recording.data, float(recording.fs), list(recording.channels), info, o, None)


def _as_session(item: Any, i: int) -> SessionResult:
    if isinstance(item, SessionResult):
        return item
    if isinstance(item, Mapping):
        return SessionResult.from_json(json.dumps(dict(item)), f"sessions[{i}]")
    if isinstance(item, str) and item.lstrip().startswith("{"):
        return SessionResult.from_json(item, f"sessions[{i}]")
    raise TypeError(f"sessions[{i}]: expected a SessionResult or a session dict, got {type(item).__name__}")


def classify(manifest_or_sessions: Union[PathLike, Mapping[str, Any], Iterable[Any]], *,
             progress: Optional[bool] = True, detect: Optional[Mapping[str, Any]] = None,
             subject: Optional[str] = None, base_dir: Optional[PathLike] = None, **options) -> PatternReport:
    """Classify a subject's history as ``none``, ``benign``, ``warning`` or ``indeterminate``.

    A muscle is *active* in a session with at least 3 fasciculation potentials
    and at least 1 per minute of clean rest, *insufficient* under 60 s of clean
    rest. ``warning``: a muscle is persistent (active in >= 3 sessions spanning
    >= 28 days, in >= 75% of its analysable sessions in that span) or
    fasciculations spread (the latest analysable session has >= 2 active
    muscles, one not active in the first). ``none``: no muscle is ever active.
    ``benign``: fasciculations, but neither criterion over >= 28 days of
    follow-up. Otherwise ``indeterminate``, with the reason. Complex
    potentials, new units, rate trends, clinical findings and context are
    reported beside the label, never deciding it. Research decision support,
    not a diagnosis.

    Parameters
    ----------
    manifest_or_sessions : path, dict or list
        A manifest file (JSON: ``{"subject", "sessions": [{"id", "date",
        "recording", "fs", "channels", "context", "clinical"}]}``), the same as
        a dict (recordings relative to ``base_dir``, default the current
        folder), or already measured sessions: :class:`SessionResult` objects
        (from :func:`analyze_session` / :func:`pattern_session`) or session
        dicts (``{"id", "date", "clean_rest_s", "muscles": [{"muscle",
        "n_events", ...}]}``).
    progress : bool, optional
        Progress bar over the sessions (``None``: only when slow).
    detect : dict, optional
        :class:`fasctrack.DetectOptions` fields for detection.
    subject : str, optional
        Overrides the manifest's subject.
    **options
        :class:`fasctrack.PatternOptions` fields, e.g. ``min_active_count=3``,
        ``min_active_rate_per_min=1.0``, ``min_clean_rest_s=60``,
        ``min_persistent_sessions=3``, ``min_persistent_span_days=28``,
        ``min_persistent_fraction=0.75``, ``min_spread_active_muscles=2``,
        ``min_follow_up_days=28``, ``unit_match_threshold=0.8``.

    Returns
    -------
    PatternReport

    Examples
    --------
    >>> import fasctrack
    >>> visits = [("2026-01-05", 12), ("2026-01-19", 9), ("2026-02-09", 15)]
    >>> sessions = [{"id": f"s{i + 1}", "date": d, "clean_rest_s": 90,
    ...              "muscles": [{"muscle": "biceps_r", "region": "cervical", "side": "R", "n_events": n}]}
    ...             for i, (d, n) in enumerate(visits)]
    >>> report = fasctrack.classify(sessions, progress=False)
    >>> report.pattern
    'warning'
    >>> print(report.decision)
    Warning pattern: biceps_r was active in 3 of 3 analysable sessions over 35 days (s1, s2, s3): persistent.
    >>> fasctrack.classify(sessions, min_persistent_sessions=4, progress=False).pattern
    'benign'
    """
    popts = _pattern_options(options)
    dopts = _detect_options(detect)
    notes: List[str] = []
    if isinstance(manifest_or_sessions, (str, os.PathLike)) or isinstance(manifest_or_sessions, Mapping):
        if isinstance(manifest_or_sessions, Mapping):
            base = Path(base_dir) if base_dir is not None else Path.cwd()
            manifest = _core.parse_manifest(json.dumps(dict(manifest_or_sessions)), os.fspath(base), "<manifest dict>",
                                            True)
        else:
            manifest = read_manifest(manifest_or_sessions)
        # Detection's own "insufficient" flag follows the pattern threshold.
        dopts.min_clean_rest_s = popts.min_clean_rest_s
        n = len(manifest)
        bar = progress_bar(float(n), desc="classify", unit="session", enabled=progress)
        sessions: List[SessionResult] = []
        try:
            for i in range(n):
                base_done = float(i)
                done = [base_done]

                def update(fraction: float, base_done: float = base_done, done: List[float] = done) -> None:
                    target = base_done + min(max(fraction, 0.0), 1.0)
                    if bar is not None and target > done[0]:
                        bar.update(target - done[0])
                        done[0] = target

                if bar is not None:
                    bar.set_postfix_str(manifest.sessions[i]["id"])
                sessions.append(_core.analyze_session(manifest, i, dopts, update if bar is not None else None))
        finally:
            if bar is not None:
                bar.close()
        _core.check_clinical_muscles(manifest, sessions)
        notes = [f"Manifest: {w}" for w in manifest.warnings]
        name = manifest.subject if subject is None else subject
    else:
        if isinstance(manifest_or_sessions, (bytes, bytearray)):
            raise TypeError("manifest_or_sessions: expected a path, a manifest dict or a list of sessions, got bytes")
        sessions = [_as_session(s, i) for i, s in enumerate(manifest_or_sessions)]
        name = subject or ""
    return PatternReport(_core.classify_sessions(sessions, popts, name, notes))
