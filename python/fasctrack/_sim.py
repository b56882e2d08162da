"""Simulated surface EMG with known fasciculations, and event-level scoring."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

import numpy as np
import pandas as pd

from . import _core
from ._recording import Recording

_EVENT_COLUMNS = ["sample", "time_s", "unit", "channel", "amplitude_uv", "doublet", "complex"]


@dataclass(repr=False)
class Simulation:
    """A simulated recording and its ground truth.

    Attributes
    ----------
    recording : Recording
        float64 samples in microvolts, ``format == "simulated"``; channels carry
        names (``r1c1``... or ``bp1``...), muscle, body region, side and, for a
        grid, their grid position.
    events : pandas.DataFrame
        One row per fasciculation discharge (voluntary and tonic firing are not
        listed): ``sample`` (the largest absolute deflection of the noise-free
        waveform on the unit's best channel), ``time_s``, ``unit``, ``channel``
        (that best channel), ``amplitude_uv`` (peak-to-peak there), ``doublet``
        (both discharges of a pair 5-110 ms apart), ``complex``.
    units : pandas.DataFrame
        One row per fasciculating unit: ``unit``, ``channel``, ``amplitude_uv``,
        ``complex``, ``phases``, ``rate_per_min``, ``endplate_mm``,
        ``transverse_mm``, ``depth_mm``.
    masks : pandas.DataFrame
        Periods with voluntary activity or artefacts: ``start``, ``stop``
        (samples, half-open), ``start_s``, ``stop_s``, ``reason``
        (``"voluntary"`` or ``"artefact"``). No truth event lies inside one.
    options : dict
        The options the simulation was made with.

    Examples
    --------
    >>> import fasctrack
    >>> fasctrack.simulate(duration_s=5.0, rows=2, columns=4, seed=1)  # doctest: +ELLIPSIS
    <Simulation: 8 channel(s), 5 s at 2048 Hz, 4 unit(s), ... event(s), 0 mask(s)>
    """

    recording: Recording
    events: pd.DataFrame
    units: pd.DataFrame
    masks: pd.DataFrame
    options: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<Simulation: {self.recording.n_channels} channel(s), {self.recording.duration_s:g} s at "
                f"{self.recording.fs:g} Hz, {len(self.units)} unit(s), {len(self.events)} event(s), "
                f"{len(self.masks)} mask(s)>")


def simulate(*, fs: float = 2048.0, duration_s: float = 120.0, geometry: str = "grid", rows: int = 8,
             columns: int = 8, ied_mm: float = 8.0, bipolar_channels: int = 4,
             conduction_velocity_m_s: float = 4.0, n_units: int = 4, amplitude_min_uv: float = 25.0,
             amplitude_max_uv: float = 80.0, rate_per_min: float = 6.0, doublet_probability: float = 0.05,
             complex_fraction: float = 0.25, noise_uv: float = 5.0, mains_hz: float = 50.0,
             mains_uv: float = 10.0, wander_uv: float = 30.0, ecg_uv: float = 0.0, ecg_bpm: float = 70.0,
             motion_artefacts: int = 0, electrode_pops: int = 0, voluntary_bursts: int = 0,
             burst_duration_s: float = 3.0, seed: int = 1) -> Simulation:
    """Simulate surface EMG at rest with fasciculations and known ground truth.

    Motor unit potentials come from a volume-conductor model: each fibre's
    transmembrane current is a tripole (second derivative of Rosenfalck's
    intracellular action potential) born at the endplate, travelling to both
    tendons at ``conduction_velocity_m_s`` and extinguished there, seen through
    anisotropic muscle. So potentials propagate along grid columns, fall off
    across rows and with depth, and show end-of-fibre waves. Complex
    (reinnervated) units are 3-4 desynchronised, slower fibre groups and are
    polyphasic (> 4 phases on the noise-free waveform). Fasciculations fire
    irregularly (a renewal process with a 100 ms dead time); with
    ``doublet_probability`` a discharge is followed 5-110 ms later by a second.
    Added on top: background noise (``noise_uv`` RMS, white plus low-passed,
    mostly independent per channel), mains with 3rd and 5th harmonics and slow
    drift, baseline wander below 1 Hz, optionally ECG, movement artefacts,
    electrode pops and voluntary contractions (the last three with truth masks;
    no fasciculation is placed inside a mask). Deterministic in ``seed``, and
    each part draws from its own random stream, so e.g. switching the noise
    off leaves the truth unchanged.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    duration_s : float
    geometry : {'grid', 'bipolar'}
        A monopolar grid over one muscle (``rows`` across the fibres,
        ``columns`` along them, ``ied_mm`` apart) or ``bipolar_channels``
        independent bipolar sites (20 mm along the fibres), each over its own
        muscle in the cervical or lumbosacral region.
    rows, columns : int
    ied_mm : float
    bipolar_channels : int
    conduction_velocity_m_s : float
        Muscle fibre conduction velocity (1-10 m/s).
    n_units : int
        Fasciculating motor units; ``round(complex_fraction * n_units)`` of them complex.
    amplitude_min_uv, amplitude_max_uv : float
        Range of each unit's peak-to-peak amplitude at its best channel
        (discharges vary by ~5 % around it).
    rate_per_min : float
        Mean fasciculation rate per unit (each unit gets 0.5-1.5 times it; a
        doublet counts once). At most 200.
    doublet_probability, complex_fraction : float
        Both within 0-1.
    noise_uv : float
        RMS of the background noise per channel.
    mains_hz, mains_uv : float
        Power-line frequency (0 = none) and amplitude of the fundamental.
    wander_uv : float
        Amplitude of the baseline wander.
    ecg_uv, ecg_bpm : float
        R-wave amplitude (0 = no ECG) and heart rate.
    motion_artefacts, electrode_pops, voluntary_bursts : int
        How many of each to place at random.
    burst_duration_s : float
        Length of each voluntary contraction (tonic firing may follow it for up to 1.5 s).
    seed : int

    Returns
    -------
    Simulation

    Raises
    ------
    ValueError
        Naming the first bad option.

    Examples
    --------
    >>> import fasctrack
    >>> sim = fasctrack.simulate(duration_s=10.0, n_units=2, rate_per_min=30, seed=3)
    >>> sim.recording.data.shape
    (64, 20480)
    >>> list(sim.events.columns)
    ['sample', 'time_s', 'unit', 'channel', 'amplitude_uv', 'doublet', 'complex']
    >>> bool((sim.events["unit"] < 2).all())
    True
    """
    options = dict(fs=float(fs), duration_s=float(duration_s), geometry=str(geometry), rows=int(rows),
                   columns=int(columns), ied_mm=float(ied_mm), bipolar_channels=int(bipolar_channels),
                   conduction_velocity_m_s=float(conduction_velocity_m_s), n_units=int(n_units),
                   amplitude_min_uv=float(amplitude_min_uv), amplitude_max_uv=float(amplitude_max_uv),
                   rate_per_min=float(rate_per_min), doublet_probability=float(doublet_probability),
                   complex_fraction=float(complex_fraction), noise_uv=float(noise_uv), mains_hz=float(mains_hz),
                   mains_uv=float(mains_uv), wander_uv=float(wander_uv), ecg_uv=float(ecg_uv),
                   ecg_bpm=float(ecg_bpm), motion_artefacts=int(motion_artefacts),
                   electrode_pops=int(electrode_pops), voluntary_bursts=int(voluntary_bursts),
                   burst_duration_s=float(burst_duration_s), seed=int(seed))
    if options["seed"] < 0:
        raise ValueError(f"seed: must not be negative, got {seed}")
    raw = _core.sim_simulate(**options)
    fs_out = float(raw["fs"])
    recording = Recording(data=raw["data"], fs=fs_out, channels=list(raw["channels"]),
                          power_line_hz=raw["power_line_hz"], format="simulated")
    ev = raw["events"]
    events = pd.DataFrame({
        "sample": ev["sample"], "time_s": ev["sample"] / fs_out, "unit": ev["unit"], "channel": ev["channel"],
        "amplitude_uv": ev["amplitude_uv"], "doublet": ev["doublet"], "complex": ev["complex"],
    }, columns=_EVENT_COLUMNS)
    units = pd.DataFrame(raw["units"])
    mk = raw["masks"]
    masks = pd.DataFrame({
        "start": mk["start"], "stop": mk["stop"], "start_s": mk["start"] / fs_out, "stop_s": mk["stop"] / fs_out,
        "reason": pd.Series(list(mk["reason"]), dtype=object),
    }, columns=["start", "stop", "start_s", "stop_s", "reason"])
    return Simulation(recording=recording, events=events, units=units, masks=masks, options=options)


def _samples(df: pd.DataFrame, fs: float, what: str) -> np.ndarray:
    if "sample" in df.columns:
        return np.asarray(df["sample"], dtype=np.int64)
    if "time_s" in df.columns:
        return np.rint(np.asarray(df["time_s"], dtype=float) * fs).astype(np.int64)
    raise ValueError(f"{what}: needs a 'sample' or 'time_s' column, has {list(df.columns)}")


def evaluate(truth: Simulation, events: pd.DataFrame, tolerance_ms: float = 5.0) -> Dict[str, float]:
    """Score detected events against a simulation's truth, event by event.

    Parameters
    ----------
    truth : Simulation
        From :func:`simulate` (its ``events``, ``masks`` and ``recording.fs`` are used).
    events : pandas.DataFrame
        Detections, with ``sample`` (or ``time_s``) and, optionally, ``unit``
        (missing or -1 = unassigned).
    tolerance_ms : float
        A detection matches a true event at most this far away.

    Returns
    -------
    dict
        ``true_events``, ``detections``, ``true_positives``, ``false_positives``,
        ``false_negatives``, ``precision``, ``recall``, ``f1``, ``unit_ari``,
        ``detections_in_masked``, ``masked_minutes``, ``false_per_masked_minute``.

    Notes
    -----
    - Matching is one-to-one and greedy, closest pairs first (all pairs within
      the tolerance sorted by distance). With a tolerance far below a unit's
      100 ms minimum interval this equals an optimal matching in practice.
    - True events and detections inside ``truth.masks`` are left out of
      precision/recall/F1; such detections are counted in
      ``detections_in_masked`` and ``false_per_masked_minute``.
    - ``precision`` is 1 with no detections, ``recall`` 1 with no true events,
      so no true events and no detections give F1 = 1; F1 = 0 when both
      precision and recall are 0.
    - ``unit_ari`` is the adjusted Rand index between true and detected unit
      labels over matched pairs, each unassigned detection (-1) a cluster of
      its own; as ``sklearn.metrics.adjusted_rand_score`` (identical trivial
      partitions give 1), except 0 with fewer than two matched events (no
      pair to agree on).

    Examples
    --------
    >>> import fasctrack
    >>> sim = fasctrack.simulate(duration_s=20.0, rate_per_min=30, seed=2)
    >>> scores = fasctrack.evaluate(sim, sim.events)
    >>> scores["f1"], scores["unit_ari"]
    (1.0, 1.0)
    """
    if not isinstance(truth, Simulation):
        raise TypeError(f"truth: expected a Simulation from fasctrack.simulate, got {type(truth).__name__}")
    if not isinstance(events, pd.DataFrame):
        events = pd.DataFrame(events)
    fs = truth.recording.fs
    det_sample = _samples(events, fs, "events")
    det_unit = (np.asarray(events["unit"], dtype=np.int64) if "unit" in events.columns
                else np.full(len(det_sample), -1, dtype=np.int64))
    t = truth.events
    m = truth.masks
    return dict(_core.sim_evaluate(
        np.asarray(t["sample"], dtype=np.int64), np.asarray(t["unit"], dtype=np.int64),
        np.asarray(m["start"], dtype=np.int64), np.asarray(m["stop"], dtype=np.int64),
        [str(r) for r in m["reason"]], float(fs), det_sample, det_unit, float(tolerance_ms)))
