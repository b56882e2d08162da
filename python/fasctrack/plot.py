"""Publication-ready figures of recordings, detections and session reports.

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` and
accepts ``ax=``: an Axes to draw into (a figure with several panels splits
that Axes' area between them, or takes a sequence of Axes, one per panel).
Colours are the Okabe-Ito palette, which stays distinguishable with the
common colour-vision deficiencies; every axis is labelled with its unit.
Artists carry a ``gid`` (``"filtered"``, ``"events"``, ``"mask"``,
``"waveform"``, ``"raster"``, ``"rate"``...) so code and tests can find them.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import fasctrack
>>> rec = fasctrack.read(fasctrack.example_path())
>>> result = fasctrack.detect(rec)
>>> fig = fasctrack.plot.raster(result)
>>> fig.axes[-1].get_xlabel()
'Time (s)'
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

__all__ = ["OKABE_ITO", "unit_colour", "traces", "unit_waveforms", "raster", "distributions",
           "rate_timeline"]

#: The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008).
OKABE_ITO: Dict[str, str] = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
# Units in order of contrast against white and against each other; yellow last
# because thin yellow lines vanish on white.
_UNIT_ORDER = ["blue", "vermillion", "bluish_green", "reddish_purple", "orange", "sky_blue", "black", "yellow"]
_GREY = "#8C8C8C"
_MASK_COLOURS = {"voluntary": OKABE_ITO["orange"], "artefact": OKABE_ITO["vermillion"],
                 "tonic": OKABE_ITO["reddish_purple"], "bad_signal": OKABE_ITO["sky_blue"], "startup": _GREY}
_MASK_ALPHA = 0.22
# Per-muscle session states of fasctrack.classify; any other state gets the next free shape.
_STATE_STYLE = {"active": ("o", True), "quiet": ("o", False), "insufficient": ("X", True)}
_STATE_MARKERS = ["s", "^", "D", "v", "P"]
_UV = "\u00b5V"


def unit_colour(unit: int) -> str:
    """Colour of a motor unit in every fasctrack figure (grey for unassigned, -1).

    Examples
    --------
    >>> from fasctrack.plot import unit_colour
    >>> unit_colour(0), unit_colour(-1)
    ('#0072B2', '#8C8C8C')
    """
    if unit < 0:
        return _GREY
    return OKABE_ITO[_UNIT_ORDER[unit % len(_UNIT_ORDER)]]


# --- layout helpers ---------------------------------------------------------

def _pyplot():
    import matplotlib.pyplot as plt  # imported late: importing fasctrack must not need a display
    return plt


def _panels(ax, n: int, *, vertical: bool, figsize: Tuple[float, float],
            ratios: Optional[Sequence[float]] = None, sharex: bool = False) -> List[Any]:
    """``n`` Axes: a new figure, the given sequence, or the given Axes' area split ``n`` ways."""
    if ax is not None and not hasattr(ax, "figure"):  # a sequence of Axes
        axes = list(np.ravel(ax))
        if len(axes) != n:
            raise ValueError(f"ax: this figure has {n} panel(s), got {len(axes)} Axes")
        return axes
    if ax is None:
        fig = _pyplot().figure(figsize=figsize, layout="constrained")
        spec = fig.add_gridspec(n if vertical else 1, 1 if vertical else n,
                                **({"height_ratios" if vertical else "width_ratios": ratios} if ratios else {}))
    elif n == 1:
        return [ax]
    else:
        fig = ax.figure
        parent = ax.get_subplotspec()
        if parent is None:
            raise ValueError("ax: to split an Axes into panels it must come from a grid "
                             "(plt.subplots / fig.add_subplot); or pass one Axes per panel")
        ax.remove()
        kw = {"height_ratios" if vertical else "width_ratios": ratios} if ratios else {}
        spec = parent.subgridspec(n if vertical else 1, 1 if vertical else n, **kw)
    axes: List[Any] = []
    for i in range(n):
        share = axes[0] if (sharex and axes) else None
        axes.append(fig.add_subplot(spec[i, 0] if vertical else spec[0, i], sharex=share))
    return axes


def _clean(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _nice(value: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten (scale bars, trace spacing)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if value <= m * 10 ** exp * (1 + 1e-9):
            return m * 10 ** exp
    return 10.0 ** (exp + 1)


def _shade_masks(ax, masks: Optional[pd.DataFrame], t0: float, t1: float, labelled: set) -> None:
    if masks is None or len(masks) == 0:
        return
    for start, stop, reason in zip(masks["start_s"], masks["stop_s"], masks["reason"]):
        if stop <= t0 or start >= t1:
            continue
        label = f"masked: {reason}" if reason not in labelled else None
        labelled.add(reason)
        ax.axvspan(max(start, t0), min(stop, t1), color=_MASK_COLOURS.get(reason, _GREY), alpha=_MASK_ALPHA,
                   lw=0, label=label, gid="mask", zorder=0)


def _legend_outside(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  borderaxespad=0.0, **kw)


def _units(result, units: Optional[Iterable[int]]) -> List[int]:
    known = sorted(int(u) for u in result.units["unit"]) if len(result.units) else []
    if units is None:
        return known
    chosen = [int(u) for u in units]
    missing = [u for u in chosen if u not in known]
    if missing:
        raise ValueError(f"units: no unit {missing} in this result (units: {known})")
    return chosen


# --- traces -----------------------------------------------------------------

def _window(rec, tmin: float, tmax: Optional[float]) -> Tuple[int, int]:
    i0 = max(0, int(round(tmin * rec.fs)))
    i1 = rec.n_samples if tmax is None else min(rec.n_samples, int(round(tmax * rec.fs)))
    if i1 - i0 < 2:
        raise ValueError(f"tmin/tmax: window {tmin}-{tmax} s holds no data (recording is {rec.duration_s:g} s)")
    return i0, i1


def _filtered_window(rec, rows: List[int], i0: int, i1: int, mains) -> np.ndarray:
    from ._filter import condition
    pad = int(rec.fs)  # 1 s either side keeps the zero-phase filter's edge transients out of view
    a, b = max(0, i0 - pad), min(rec.n_samples, i1 + pad)
    out = condition(np.ascontiguousarray(rec.data[rows, a:b]), rec.fs, mains=mains)
    return np.nan_to_num(out.data[:, i0 - a:i1 - a])


def traces(recording, result=None, *, tmin: float = 0.0, tmax: Optional[float] = None,
           channels: Optional[Sequence[str]] = None, kind: str = "both", spacing_uv: Optional[float] = None,
           ax=None):
    """Raw and filtered traces, stacked, with detected discharges and masked periods.

    Parameters
    ----------
    recording : Recording or Simulation
        The signal (microvolts).
    result : DetectionResult, optional
        Marks each discharge above the trace of its peak channel (a triangle
        in its unit's colour) and shades the masked periods by reason.
    tmin, tmax : float
        Time window in seconds (default: the whole recording).
    channels : sequence of str, optional
        Channel names to show, top to bottom (default: all).
    kind : {'both', 'raw', 'filtered'}
        'raw' is the signal minus each channel's median; 'filtered' is the
        zero-phase conditioning of :func:`fasctrack.condition` (20-500 Hz
        band-pass and the mains notches detection used); 'both' draws the two
        as panels one above the other (raw on top), sharing the time axis.
    spacing_uv : float, optional
        Vertical distance between traces in microvolts (default: from each
        panel's signal, rounded to 1, 2 or 5 x 10^k; shown by the scale bar).
        As in MNE's browser, a trace is clipped where it would cross its
        neighbour's baseline.
    ax : matplotlib Axes or sequence of Axes, optional
        With ``kind='both'``, one Axes is split into the two panels, or give two.

    Returns
    -------
    matplotlib.figure.Figure
        Per panel one line per channel (gid ``'raw'`` or ``'filtered'``), one
        scatter collection with gid ``'events'`` per unit in the window, one
        patch with gid ``'mask'`` per masked period. Channels marked bad are
        drawn grey.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fasctrack
    >>> rec = fasctrack.read(fasctrack.example_path())
    >>> fig = fasctrack.plot.traces(rec, fasctrack.detect(rec), tmin=20, tmax=30)
    >>> raw_ax, filtered_ax = fig.axes
    >>> filtered_ax.get_xlabel(), len([l for l in filtered_ax.lines if l.get_gid() == "filtered"])
    ('Time (s)', 8)
    """
    rec = getattr(recording, "recording", recording)  # a Simulation holds its Recording
    if kind not in ("both", "filtered", "raw"):
        raise ValueError(f"kind: expected 'both', 'filtered' or 'raw', got {kind!r}")
    names = list(channels) if channels is not None else rec.ch_names
    rows = [rec.ch_names.index(n) if n in rec.ch_names else -1 for n in names]
    if -1 in rows:
        raise ValueError(f"channels: no channel {names[rows.index(-1)]!r}; have {rec.ch_names}")
    i0, i1 = _window(rec, tmin, tmax)
    t = np.arange(i0, i1) / rec.fs
    bad = [bool(rec.channels[r].marked_bad) for r in rows]
    signals = []
    if kind in ("both", "raw"):
        raw = rec.data[rows, i0:i1].astype(np.float64)
        signals.append(("raw", "Raw (median removed)", raw - np.nanmedian(raw, axis=1, keepdims=True)))
    if kind in ("both", "filtered"):
        # Notch what detection notched; without a result, what the file states, else detect it.
        hz = result.summary.get("mains_hz") if result is not None else rec.power_line_hz
        mains = str(int(round(hz))) if hz in (50, 60) else ("off" if result is not None else "auto")
        notch = f", {mains} Hz notch comb" if mains in ("50", "60") else ""
        signals.append(("filtered", f"Filtered (20-500 Hz zero-phase{notch})",
                        _filtered_window(rec, rows, i0, i1, mains)))
    axes = _panels(ax, len(signals), vertical=True, sharex=True,
                   figsize=(10.0, 0.9 + len(signals) * (0.5 + 0.42 * len(rows))))
    for a, (gid, title, x) in zip(axes, signals):
        _trace_panel(a, t, x, names, bad, gid, spacing_uv, result)
        a.set_title(title, loc="left", fontsize=10)
    for a in axes[:-1]:
        a.tick_params(axis="x", labelbottom=False)
    axes[-1].set_xlabel("Time (s)")
    _legend_outside(axes[0])
    return axes[0].figure


def _trace_panel(ax, t: np.ndarray, x: np.ndarray, names: List[str], bad: List[bool], gid: str,
                 spacing: Optional[float], result) -> None:
    if spacing is None:
        good = [k for k in range(len(names)) if not bad[k]] or list(range(len(names)))
        spacing = _nice(2.0 * float(np.median(np.nanpercentile(np.abs(x[good]), 99.5, axis=1))))
    offsets = -spacing * np.arange(len(names))
    for k in range(len(names)):
        ax.plot(t, np.clip(x[k], -spacing, spacing) + offsets[k], color=_GREY if bad[k] else "black", lw=0.6,
                gid=gid, zorder=2)
    t0, t1 = t[0], t[-1]
    if result is not None:
        _mark_events(ax, result.events, names, offsets, spacing, t0, t1)
        _shade_masks(ax, result.masks, t0, t1, set())
    _scale_bar(ax, offsets[-1] - 0.5 * spacing, spacing)
    ax.set_xlim(t0, t1)
    ax.set_ylim(offsets[-1] - 1.0 * spacing, offsets[0] + 1.0 * spacing)
    ax.set_yticks(offsets)
    ax.set_yticklabels([f"{n} (bad)" if b else n for n, b in zip(names, bad)])
    for label, b in zip(ax.get_yticklabels(), bad):
        label.set_color(_GREY if b else "black")
    ax.set_ylabel(f"Channel ({spacing:g} {_UV} apart)")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    _clean(ax)


def _mark_events(ax, events: pd.DataFrame, names: List[str], offsets: np.ndarray, spacing: float,
                 t0: float, t1: float) -> None:
    ev = events[(events["time_s"] >= t0) & (events["time_s"] <= t1) & events["channel"].isin(names)]
    row = {n: k for k, n in enumerate(names)}
    for unit in sorted(ev["unit"].unique()):
        e = ev[ev["unit"] == unit]
        y = np.array([offsets[row[c]] for c in e["channel"]]) + 0.42 * spacing
        ax.scatter(e["time_s"], y, marker="v", s=28, color=unit_colour(int(unit)), edgecolor="white",
                   linewidth=0.4, zorder=4, gid="events",
                   label=f"unit {unit}" if unit >= 0 else "unassigned")


def _scale_bar(ax, y0: float, height: float) -> None:
    # Drawn just right of the data in axes-fraction x so it never hides a trace.
    trans = ax.get_yaxis_transform()
    ax.plot([1.01, 1.01], [y0, y0 + height], color="black", lw=1.5, transform=trans, clip_on=False,
            gid="scalebar", solid_capstyle="butt")
    ax.text(1.02, y0 + height / 2, f"{height:g} {_UV}", transform=trans, va="center", ha="left", fontsize=9)


# --- unit waveforms on the electrode grid -----------------------------------

def _electrode_layout(channels: Sequence[Any]) -> Tuple[np.ndarray, bool]:
    """(x, y) cell of each channel: grids by (column, row), one grid per muscle side by side;
    channels without a grid position (bipolar leads) stacked in a column of their own."""
    cells = np.zeros((len(channels), 2))
    x0 = 0.0
    groups: Dict[str, List[int]] = {}
    loose: List[int] = []
    for i, c in enumerate(channels):
        grid = getattr(c, "grid", None)
        (groups.setdefault(getattr(c, "muscle", ""), []) if grid is not None else loose).append(i)
    for members in groups.values():
        cols = [channels[i].grid.column for i in members]
        for i in members:
            cells[i] = (x0 + channels[i].grid.column - min(cols), channels[i].grid.row)
        x0 += max(cols) - min(cols) + 2  # one empty cell between muscles
    for k, i in enumerate(loose):
        cells[i] = (x0, k)
    return cells, not loose


def unit_waveforms(result, *, units: Optional[Iterable[int]] = None, same_scale: bool = True, ax=None):
    """Each unit's mean multichannel waveform, laid out on its electrode grid.

    Every electrode gets a cell at its grid position (``ChannelInfo.grid``:
    rows across the fibres, columns along them; one grid per muscle, side by
    side); channels without one (bipolar leads) are stacked in a column. The
    amplitude scale is given by the scale bars.

    Parameters
    ----------
    result : DetectionResult
    units : iterable of int, optional
        Units to draw (default: all).
    same_scale : bool, default True
        One amplitude scale for all panels, so sizes compare; False scales
        each unit to its own largest deflection (small units become visible).
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes: all chosen units overlaid in their colours (one scale). A sequence: one
        unit per Axes. None: a new figure with one panel per unit.

    Returns
    -------
    matplotlib.figure.Figure
        Per unit one line with gid ``'waveform'`` for every channel not marked
        bad (bad channels keep their labelled, empty cell).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fasctrack
    >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
    >>> fig = fasctrack.plot.unit_waveforms(result, units=[0, 1])
    >>> len(fig.axes), len([l for l in fig.axes[0].lines if l.get_gid() == "waveform"])
    (2, 7)
    """
    chosen = _units(result, units)
    channels = result.channels or [_NamedChannel(n) for n in result.channel_names]
    cells, is_grid = _electrode_layout(channels)
    bad = np.array([bool(getattr(c, "marked_bad", False)) for c in channels])
    good = ~bad if (~bad).any() else np.ones_like(bad)
    peaks = {u: max(float(np.max(np.abs(result.templates[u][good]))), 1e-9) for u in chosen}
    common = max(list(peaks.values()) + [1e-9])
    width, height = cells[:, 0].max() + 1, cells[:, 1].max() + 1
    cell = min(0.75, max(0.4, 4.5 / max(width, height)))  # inches: big grids get smaller cells
    panel = (max(2.6, cell * (width + 0.9) + 0.7), max(1.8, cell * height + 0.9))
    if ax is not None and hasattr(ax, "figure"):
        axes, groups = [ax], [chosen]
    else:
        n = max(1, len(chosen))
        ncols = min(n, math.ceil(math.sqrt(n)))
        if ax is None:
            nrows = math.ceil(n / ncols)
            fig = _pyplot().figure(figsize=(panel[0] * ncols, panel[1] * nrows + 0.3), layout="constrained")
            axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
        else:
            axes = _panels(ax, n, vertical=False, figsize=panel)
        groups = [[u] for u in chosen] or [[]]
    for a, group in zip(axes, groups):
        for u in group:
            peak = common if same_scale or len(group) > 1 else peaks[u]
            scale = 0.45 / peak  # the largest deflection fills 45% of a cell above or below its centre
            _draw_template(a, result.templates[u], cells, bad, scale, unit_colour(u), label=f"unit {u}")
        _grid_axes(a, channels, cells, bad, is_grid, labels=len(channels) <= 16)
        if not group:
            a.set_title("no units detected", fontsize=10, color=_GREY)
            continue
        _template_scale_bars(a, result, peak, scale, width, height)
        if len(group) == 1:
            row = result.units[result.units["unit"] == group[0]].iloc[0]
            count = int(row["count"])
            a.set_title(f"Unit {group[0]}: {count} discharge{'s' if count != 1 else ''}, "
                        f"{row['amplitude_uv']:.0f} {_UV} p-p", fontsize=10)
        elif group:
            _legend_outside(a)
    return axes[0].figure


class _NamedChannel:  # stands in for ChannelInfo when a result carries names only
    def __init__(self, name: str):
        self.name, self.grid, self.muscle, self.marked_bad = name, None, "", False


def _draw_template(ax, template: np.ndarray, cells: np.ndarray, bad: np.ndarray, scale: float, colour: str,
                   label: str) -> None:
    n_t = template.shape[1]
    x = np.linspace(0.08, 0.92, n_t) - 0.5
    first = True
    for i, (cx, cy) in enumerate(cells):
        if bad[i]:  # detection ignored it; its 'template' is noise at any scale
            continue
        ax.plot(cx + x, -cy + scale * template[i], color=colour, lw=1.2, gid="waveform",
                label=label if first else None)
        first = False


def _grid_axes(ax, channels, cells: np.ndarray, bad: np.ndarray, is_grid: bool, labels: bool) -> None:
    for c, (cx, cy), b in zip(channels, cells, bad):
        if labels or b or not is_grid:
            ax.text(cx - 0.46, -cy + 0.46, c.name + (" (bad)" if b else ""), fontsize=7, va="top", ha="left",
                    color=_GREY)
    xs, ys = np.unique(cells[:, 0]), np.unique(cells[:, 1])
    ax.set_xlim(xs.min() - 0.5, xs.max() + 1.4)  # room on the right for the scale bars
    ax.set_ylim(-ys.max() - 0.5, -ys.min() + 0.5)
    if is_grid:
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{int(x) + 1}" for x in xs])
        ax.set_yticks(-ys)
        ax.set_yticklabels([f"{int(y) + 1}" for y in ys])
        ax.set_xlabel("Electrode column (along fibres)")
        ax.set_ylabel("Electrode row")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.tick_params(length=0, labelsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_aspect("equal", adjustable="box")


def _template_scale_bars(ax, result, peak: float, scale: float, width: float, height: float) -> None:
    n_t = next(iter(result.templates.values())).shape[1]
    span_ms = 1000.0 * n_t / result.fs
    bar_uv = _nice(peak / 2)
    bar_ms = _nice(span_ms / 4)
    # Right of the bottom-right cell, so they never touch a waveform or a tick label.
    x_end = width - 0.5 + 0.55
    y0 = -(height - 1) - 0.4
    ax.plot([x_end, x_end], [y0, y0 + bar_uv * scale], color="black", lw=1.2, gid="scalebar", clip_on=False)
    dx = 0.84 * bar_ms / span_ms
    ax.plot([x_end - dx, x_end], [y0, y0], color="black", lw=1.2, gid="scalebar", clip_on=False)
    ax.text(x_end + 0.03, y0 + bar_uv * scale / 2, f"{bar_uv:g} {_UV}", fontsize=7, va="center", ha="left")
    ax.text(x_end - dx / 2, y0 - 0.03, f"{bar_ms:g} ms", fontsize=7, va="top", ha="center")


# --- raster and instantaneous rate ------------------------------------------

def raster(result, *, units: Optional[Iterable[int]] = None, tmin: float = 0.0, tmax: Optional[float] = None,
           rates: bool = True, ax=None):
    """Discharges of each unit over time, with instantaneous rates below.

    Parameters
    ----------
    result : DetectionResult
    units : iterable of int, optional
        Units to show (default: all; unassigned discharges get a row of their own).
    tmin, tmax : float
        Time window in seconds (default: the whole recording).
    rates : bool, default True
        Add a panel with each unit's instantaneous rate, 60 / inter-discharge
        interval (per minute, log scale), at every discharge after the first.
        Intervals that span a masked period are left out: discharges inside
        it were not looked for, so the interval is not one.
    ax : matplotlib Axes or sequence of Axes, optional
        With ``rates``, one Axes is split into the raster (top) and the rate
        panel (bottom), or give two Axes.

    Returns
    -------
    matplotlib.figure.Figure
        Raster: one event collection with gid ``'raster'`` per row; rates:
        one line with gid ``'rate'`` per unit with two or more discharges;
        masked periods shaded (gid ``'mask'``) in both panels.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fasctrack
    >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
    >>> fig = fasctrack.plot.raster(result)
    >>> top, bottom = fig.axes
    >>> len([c for c in top.collections if c.get_gid() == "raster"]) == len(result.units)
    True
    >>> bottom.get_ylabel()
    'Instantaneous rate (/min)'
    """
    chosen = _units(result, units)
    t1 = result.summary.get("duration_s", 0.0) if tmax is None else tmax
    if t1 <= tmin:
        t1 = float(result.events["time_s"].max()) if len(result.events) else tmin + 1.0
    ev = result.events[(result.events["time_s"] >= tmin) & (result.events["time_s"] <= t1)]
    rows: List[Tuple[str, int, pd.DataFrame]] = [(f"unit {u}", u, ev[ev["unit"] == u]) for u in chosen]
    if units is None and (ev["unit"] < 0).any():
        rows.append(("unassigned", -1, ev[ev["unit"] < 0]))
    n_rows = max(1, len(rows))
    axes = _panels(ax, 2 if rates else 1, vertical=True, figsize=(9.0, 1.4 + 0.32 * n_rows + (2.2 if rates else 0)),
                   ratios=[max(1.0, 0.35 * n_rows), 1.6] if rates else None, sharex=True)
    top = axes[0]
    for k, (label, unit, e) in enumerate(rows):
        y = n_rows - 1 - k  # first unit at the top
        top.eventplot(e["time_s"].to_numpy(), lineoffsets=y, linelengths=0.75, linewidths=1.4,
                      colors=unit_colour(unit), gid="raster")
    top.set_yticks([n_rows - 1 - k for k in range(len(rows))])
    top.set_yticklabels([f"{label} (n={len(e)})" for label, _, e in rows])
    top.set_ylim(-0.6, n_rows - 0.4)
    top.tick_params(axis="y", length=0)
    top.set_ylabel("Motor unit")
    if not len(ev):
        top.text(0.5, 0.5, "no discharges in this window", transform=top.transAxes, ha="center",
                 va="center", color=_GREY)
    for a in axes:
        _shade_masks(a, result.masks, tmin, t1, set() if a is top else {"*"} | set(result.masks["reason"]))
        _clean(a)
    top.set_xlim(tmin, t1)
    if rates:
        _rates(axes[1], rows, result.masks)
        top.tick_params(axis="x", labelbottom=False)
        top.set_xlabel("")
    axes[-1].set_xlabel("Time (s)")
    _legend_outside(top)
    return top.figure


def _rates(ax, rows, masks: pd.DataFrame) -> None:
    drawn = False
    for label, unit, e in rows:
        if unit < 0 or len(e) < 2:
            continue
        t = e["time_s"].to_numpy()
        rate = 60.0 / np.diff(t)
        for start, stop in zip(masks["start_s"], masks["stop_s"]):
            rate[(t[:-1] < stop) & (t[1:] > start)] = np.nan  # NaN also breaks the line there
        ax.plot(t[1:], rate, "o-", ms=3.5, lw=0.9, color=unit_colour(unit), gid="rate", label=label)
        drawn = drawn or bool(np.isfinite(rate).any())
    if drawn:
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "fewer than two discharges per unit", transform=ax.transAxes, ha="center",
                va="center", color=_GREY)
    ax.set_ylabel("Instantaneous rate (/min)")


# --- amplitude and phase distributions --------------------------------------

def distributions(result, *, units: Optional[Iterable[int]] = None, ax=None):
    """Peak-to-peak amplitude and number of phases of the discharges, per unit.

    Parameters
    ----------
    result : DetectionResult
    units : iterable of int, optional
        Units to show (default: all; unassigned discharges as one more group).
    ax : matplotlib Axes or sequence of two Axes, optional
        One Axes is split side by side into the two panels.

    Returns
    -------
    matplotlib.figure.Figure
        Left: every discharge's amplitude (jittered points, gid
        ``'amplitude'``, one collection per unit) and the unit median (gid
        ``'median'``). Right: counts of discharges by number of phases, one bar
        group per unit (gid ``'phases'``); the dashed line marks the 'complex'
        limit (more than 4 phases).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fasctrack
    >>> result = fasctrack.detect(fasctrack.read(fasctrack.example_path()))
    >>> fig = fasctrack.plot.distributions(result)
    >>> [a.get_ylabel() for a in fig.axes]
    ['Peak-to-peak amplitude (µV)', 'Discharges']
    """
    chosen = _units(result, units)
    ev = result.events
    groups = [(f"{u}", u, ev[ev["unit"] == u]) for u in chosen]
    if units is None and (ev["unit"] < 0).any():
        groups.append(("none", -1, ev[ev["unit"] < 0]))
    left, right = _panels(ax, 2, vertical=False, figsize=(9.0, 3.4), ratios=[1.0, 1.3])
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for k, (label, unit, e) in enumerate(groups):
        amp = e["amplitude_uv"].to_numpy(dtype=float)
        left.scatter(k + rng.uniform(-0.18, 0.18, len(amp)), amp, s=14, color=unit_colour(unit), alpha=0.8,
                     edgecolor="none", gid="amplitude")
        if len(amp):
            left.plot([k - 0.28, k + 0.28], [np.median(amp)] * 2, color="black", lw=1.5, gid="median")
    left.set_xticks(range(len(groups)))
    left.set_xticklabels([g[0] for g in groups])
    left.set_xlim(-0.6, len(groups) - 0.4)
    left.set_ylim(bottom=0)
    left.set_xlabel("Motor unit")
    left.set_ylabel(f"Peak-to-peak amplitude ({_UV})")
    _phase_bars(right, groups)
    for a in (left, right):
        _clean(a)
    return left.figure


def _phase_bars(ax, groups) -> None:
    phases = np.concatenate([g[2]["phases"].to_numpy(dtype=int) for g in groups]) if groups else np.zeros(0, int)
    top = int(max(5, phases.max() if len(phases) else 0))
    bins = np.arange(1, top + 1)
    width = 0.8 / max(1, len(groups))
    for k, (label, unit, e) in enumerate(groups):
        counts = np.array([(e["phases"] == b).sum() for b in bins])
        ax.bar(bins - 0.4 + width * (k + 0.5), counts, width=width, color=unit_colour(unit),
               label=f"unit {label}" if unit >= 0 else "unassigned", gid="phases")
    ax.axvline(4.5, color=_GREY, ls="--", lw=1, gid="complex_limit")
    ax.text(4.6, 0.98, "complex", transform=ax.get_xaxis_transform(), color=_GREY, fontsize=8, va="top")
    ax.set_xticks(bins)
    ax.set_xlabel("Phases per discharge")
    ax.set_ylabel("Discharges")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _legend_outside(ax, fontsize=8)


# --- per-muscle rate across sessions ----------------------------------------

RATE_TIMELINE_COLUMNS = ["session", "date", "muscle", "rate_per_min", "ci_low", "ci_high", "state"]


def rate_timeline(table, *, muscles: Optional[Sequence[str]] = None, ax=None):
    """Fasciculation rate per muscle across sessions, with 95% confidence intervals.

    Parameters
    ----------
    table : PatternReport or pandas.DataFrame
        A :func:`fasctrack.classify` report (its ``muscles`` table is used) or
        any table with one row per session and muscle and columns ``session`` (label),
        ``date`` (anything :func:`pandas.to_datetime` reads, or missing),
        ``muscle``, ``rate_per_min``, ``ci_low``, ``ci_high`` (the 95% CI of
        the rate, per minute) and ``state`` (the per-muscle state of that
        session: ``active``, ``quiet`` or ``insufficient`` as in
        :func:`fasctrack.classify`, drawn as filled, hollow and crossed
        markers; other labels get other shapes). The x axis is the date when
        every row has one, else the sessions in order of appearance.
    muscles : sequence of str, optional
        Muscles to draw (default: all, in order of appearance).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Per muscle, in its colour, one line through the sessions (gid
        ``'rate'``) with its confidence intervals (gid ``'ci'``) and one
        marker per session (gid ``'state'``) whose shape gives the state.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd, fasctrack
    >>> table = pd.DataFrame({
    ...     "session": ["ses-01", "ses-02", "ses-01", "ses-02"],
    ...     "date": ["2026-01-05", "2026-03-02", "2026-01-05", "2026-03-02"],
    ...     "muscle": ["biceps_r", "biceps_r", "tibialis_l", "tibialis_l"],
    ...     "rate_per_min": [2.0, 6.5, 0.5, 0.7], "ci_low": [1.0, 4.6, 0.1, 0.2],
    ...     "ci_high": [3.6, 8.9, 1.5, 1.8], "state": ["active", "active", "quiet", "quiet"]})
    >>> fig = fasctrack.plot.rate_timeline(table)
    >>> fig.axes[0].get_ylabel()
    'Fasciculation rate (/min, 95% CI)'
    """
    if not isinstance(table, pd.DataFrame) and isinstance(getattr(table, "muscles", None), pd.DataFrame):
        table = table.muscles  # a PatternReport
    missing = [c for c in RATE_TIMELINE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table: missing column(s) {missing}; needs {RATE_TIMELINE_COLUMNS}")
    names = list(dict.fromkeys(table["muscle"])) if muscles is None else list(muscles)
    x, by_date = _session_axis(table)
    seen = list(dict.fromkeys(table["state"].astype(str)))
    states = [s for s in _STATE_STYLE if s in seen] + [s for s in seen if s not in _STATE_STYLE]
    others = iter(_STATE_MARKERS * len(states))
    style = {s: _STATE_STYLE.get(s) or (next(others), True) for s in states}
    (ax,) = _panels(ax, 1, vertical=True, figsize=(8.0, 3.6))
    n = max(1, len(names))
    step = (x.max() - x.min()) / 45 if by_date and len(x) and x.max() > x.min() else 0.06
    for k, muscle in enumerate(names):
        sel = (table["muscle"] == muscle).to_numpy()
        if not sel.any():
            raise ValueError(f"muscles: no rows for muscle {muscle!r}")
        colour = OKABE_ITO[_UNIT_ORDER[k % len(_UNIT_ORDER)]]
        rows = table[sel]
        xs = x[sel] + (k - (n - 1) / 2) * step  # dodge so overlapping intervals stay readable
        order = np.argsort(xs)
        rate = rows["rate_per_min"].to_numpy(dtype=float)
        err = np.vstack([rate - rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float) - rate])
        bars = ax.errorbar(xs[order], rate[order], yerr=err[:, order], color=colour, lw=1.2, capsize=3,
                           marker="none", label=muscle.replace("_", " "))
        bars.lines[0].set_gid("rate")
        for artist in bars.lines[2]:
            artist.set_gid("ci")
        for xi, yi, s in zip(xs, rate, rows["state"].astype(str)):
            shape, filled = style[s]
            ax.plot([xi], [yi], marker=shape, ms=7, color=colour, mfc=colour if filled else "white",
                    mec=colour if not filled else "white", mew=1.2 if not filled else 0.6, ls="none",
                    gid="state", zorder=3, clip_on=False)  # a rate of 0 sits on the axis, fully visible
    _state_legend(ax, style)
    if by_date:
        _date_ticks(ax, table, x)
        ax.set_xlabel("Session date")
    else:
        labels = list(dict.fromkeys(table["session"].astype(str)))
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels)
        ax.set_xlabel("Session")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("Fasciculation rate (/min, 95% CI)")
    _clean(ax)
    return ax.figure


def _session_axis(table: pd.DataFrame) -> Tuple[np.ndarray, bool]:
    dates = pd.to_datetime(table["date"], errors="coerce")
    if dates.notna().all() and len(dates):
        from matplotlib.dates import date2num
        return np.asarray(date2num(dates.dt.tz_localize(None) if dates.dt.tz is not None else dates)), True
    order = {s: i for i, s in enumerate(dict.fromkeys(table["session"].astype(str)))}
    return np.array([order[s] for s in table["session"].astype(str)], dtype=float), False


def _date_ticks(ax, table: pd.DataFrame, x: np.ndarray) -> None:
    import matplotlib.dates as mdates
    sessions = dict(zip(x, table["session"].astype(str)))
    if len(sessions) <= 8:  # few sessions: a tick at each, with its label
        ticks = sorted(sessions)
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{mdates.num2date(d):%Y-%m-%d}\n{sessions[d]}" for d in ticks], fontsize=9)
    else:
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    pad = max(3.0, 0.05 * (x.max() - x.min()))  # days
    ax.set_xlim(x.min() - pad, x.max() + pad)


def _state_legend(ax, style: Dict[str, Tuple[str, bool]]) -> None:
    from matplotlib.lines import Line2D
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker=m, color="black", mfc="black" if filled else "white", ls="none", ms=6)
                for m, filled in style.values()]
    labels += [f"state: {s}" for s in style]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0,
              fontsize=9)
