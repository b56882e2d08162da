"""fasctrack.plot: every figure renders to a PNG of the expected size and shows what it claims."""
import matplotlib

matplotlib.use("Agg")  # before pyplot: tests never need a display

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import fasctrack  # noqa: E402
from fasctrack import plot  # noqa: E402

DPI = 100


@pytest.fixture(scope="module")
def rec(example_path):
    return fasctrack.read(example_path)


@pytest.fixture(scope="module")
def result(rec):
    return fasctrack.detect(rec)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _render(fig, path):
    """Save at a fixed dpi, check the PNG has the figure's pixel size and real content."""
    fig.savefig(path, dpi=DPI)
    img = mpimg.imread(path)
    width, height = np.rint(fig.get_size_inches() * DPI).astype(int)
    assert img.shape[:2] == (height, width)
    ink = (img[..., :3] < 0.9).any(axis=2).mean()  # share of pixels that are not (near) white
    assert 0.01 < ink < 0.6, f"{path.name}: {ink:.3f} of the pixels are inked"
    return img


def _gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_palette_is_okabe_ito_and_unassigned_is_grey():
    assert plot.unit_colour(0) == plot.OKABE_ITO["blue"]
    assert plot.unit_colour(1) == plot.OKABE_ITO["vermillion"]
    assert len({plot.unit_colour(u) for u in range(8)}) == 8
    assert plot.unit_colour(8) == plot.unit_colour(0)  # cycles after the eight colours
    assert plot.unit_colour(-1) not in plot.OKABE_ITO.values()


def test_traces_shows_raw_and_filtered_with_events_and_masks(rec, result, tmp_path):
    tmin, tmax = 5.0, 45.0
    fig = plot.traces(rec, result, tmin=tmin, tmax=tmax)
    _render(fig, tmp_path / "traces.png")
    raw_ax, filt_ax = fig.axes
    assert raw_ax.get_title(loc="left").startswith("Raw")
    assert "50 Hz notch" in filt_ax.get_title(loc="left")
    assert filt_ax.get_xlabel() == "Time (s)"
    assert "\u00b5V apart" in filt_ax.get_ylabel()
    assert len(_gid(raw_ax.lines, "raw")) == rec.n_channels
    assert len(_gid(filt_ax.lines, "filtered")) == rec.n_channels
    # every event in the window is marked once per panel, in its unit's colour
    ev = result.events[(result.events["time_s"] >= tmin) & (result.events["time_s"] <= tmax)]
    marks = _gid(filt_ax.collections, "events")
    assert len(marks) == ev["unit"].nunique()
    assert sorted(np.concatenate([m.get_offsets()[:, 0] for m in marks])) == pytest.approx(sorted(ev["time_s"]))
    for m in marks:
        unit = -1 if m.get_label() == "unassigned" else int(m.get_label().split()[-1])
        assert matplotlib.colors.to_hex(m.get_facecolor()[0]) == plot.unit_colour(unit).lower()
    # masks overlapping the window are shaded (the example's voluntary contraction at 40-43 s at least)
    m = result.masks
    n_masks = int(((m["stop_s"] > tmin) & (m["start_s"] < tmax)).sum())
    assert n_masks >= 1
    assert len(_gid(filt_ax.patches, "mask")) == n_masks
    # the channel the sidecar marks bad is labelled and drawn grey
    labels = [t.get_text() for t in filt_ax.get_yticklabels()]
    assert labels[-1] == "EMG e8 (bad)" and labels[0] == "EMG e1"
    assert _gid(filt_ax.lines, "filtered")[-1].get_color() != "black"
    assert filt_ax.get_xlim() == pytest.approx((tmin, tmax - 1 / rec.fs))


def test_traces_filtered_subset_into_a_given_axes(rec, result, tmp_path):
    fig, ax = plt.subplots(figsize=(6, 3))
    out = plot.traces(rec, result, tmin=20, tmax=22, channels=["EMG e6", "EMG e2"], kind="filtered", ax=ax)
    assert out is fig and fig.axes == [ax]
    _render(fig, tmp_path / "traces_subset.png")
    lines = _gid(ax.lines, "filtered")
    assert len(lines) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["EMG e6", "EMG e2"]
    # the drawn trace is the zero-phase conditioned signal (up to the offset, within the clip)
    filtered = fasctrack.condition(rec.data, rec.fs, mains=50).data[5, 20 * 2048:22 * 2048]
    y = lines[0].get_ydata()
    spacing = float(ax.get_ylabel().split("(")[1].split()[0])
    inside = np.abs(filtered) < spacing
    assert np.corrcoef(y[inside], filtered[inside])[0, 1] > 0.999
    with pytest.raises(ValueError, match="no channel 'nope'"):
        plot.traces(rec, channels=["nope"])
    with pytest.raises(ValueError, match="kind"):
        plot.traces(rec, kind="spectrum")


def test_unit_waveforms_on_the_electrode_grid(result, tmp_path):
    fig = plot.unit_waveforms(result)
    _render(fig, tmp_path / "waveforms.png")
    units = sorted(result.units["unit"])
    assert len(fig.axes) == len(units)
    good = [i for i, c in enumerate(result.channels) if not c.marked_bad]
    for ax, unit in zip(fig.axes, units):
        assert ax.get_title().startswith(f"Unit {unit}:")
        assert ax.get_xlabel() == "Electrode column (along fibres)" and ax.get_ylabel() == "Electrode row"
        lines = _gid(ax.lines, "waveform")
        assert len(lines) == len(good)  # the bad electrode's cell stays empty
        for line, i in zip(lines, good):
            c = result.channels[i]
            x, y = line.get_xdata(), line.get_ydata()
            assert x.mean() == pytest.approx(c.grid.column, abs=1e-9)  # in its grid cell
            assert np.abs(y + c.grid.row).max() <= 0.5                 # within the cell's height
            assert np.corrcoef(y, result.templates[unit][i])[0, 1] == pytest.approx(1.0)
        assert len(_gid(ax.lines, "scalebar")) == 2
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]


def test_unit_waveforms_overlay_in_one_axes_and_stack_for_bipolar(result, tmp_path):
    fig, ax = plt.subplots(figsize=(5, 3))
    plot.unit_waveforms(result, units=[0, 1], ax=ax)
    _render(fig, tmp_path / "waveforms_overlay.png")
    assert len(_gid(ax.lines, "waveform")) == 2 * 7
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["unit 0", "unit 1"]
    with pytest.raises(ValueError, match="no unit \\[99\\]"):
        plot.unit_waveforms(result, units=[99])

    sim = fasctrack.simulate(duration_s=20, geometry="bipolar", rate_per_min=30, seed=4)
    res = fasctrack.detect(sim.recording)
    fig = plot.unit_waveforms(res, units=[0])
    _render(fig, tmp_path / "waveforms_bipolar.png")
    lines = _gid(fig.axes[0].lines, "waveform")
    assert len(lines) == sim.recording.n_channels
    assert len({round(float(np.mean(line.get_xdata())), 6) for line in lines}) == 1  # one column
    assert fig.axes[0].get_xticks().size == 0


def _synthetic_result(times_by_unit, masks=(), duration_s=60.0):
    """A DetectionResult with discharges at known times (unit -1: unassigned) and known masks."""
    rows = [(t, u) for u, times in times_by_unit.items() for t in times]
    rows.sort()
    fs = 1000.0
    events = pd.DataFrame({
        "time_s": [t for t, _ in rows], "sample": [int(round(t * fs)) for t, _ in rows],
        "unit": [u for _, u in rows], "channel": "ch1", "channel_index": 0,
        "amplitude_uv": [50.0 + 10 * max(u, 0) for _, u in rows], "duration_ms": 8.0,
        "phases": [3 + (u == 1) * 3 for _, u in rows], "turns": 2, "area_uv_ms": 100.0, "n_channels": 1,
        "isolated": True, "doublet": False, "confidence": 1.0})
    units = sorted(u for u in times_by_unit if u >= 0)
    unit_df = pd.DataFrame({"unit": units, "count": [len(times_by_unit[u]) for u in units]})
    mask_df = pd.DataFrame({"start_s": [a for a, _ in masks], "stop_s": [b for _, b in masks],
                            "reason": ["artefact"] * len(masks)})
    summary = {"duration_s": duration_s, "mains_hz": 0.0}
    return fasctrack.DetectionResult(events=events, units=unit_df, masks=mask_df, summary=summary, fs=fs,
                                     templates={u: np.zeros((1, 41)) for u in units}, channel_names=["ch1"])


def test_raster_and_instantaneous_rates(result, tmp_path):
    fig = plot.raster(result)
    _render(fig, tmp_path / "raster.png")
    top, bottom = fig.axes
    assert top.get_ylabel() == "Motor unit" and bottom.get_xlabel() == "Time (s)"
    assert bottom.get_ylabel() == "Instantaneous rate (/min)" and bottom.get_yscale() == "log"
    rows = _gid(top.collections, "raster")
    units = sorted(result.units["unit"]) + ([-1] if (result.events["unit"] < 0).any() else [])
    assert len(rows) == len(units)
    for row, unit in zip(rows, units):
        times = result.events.loc[result.events["unit"] == unit, "time_s"]
        assert sorted(row.get_positions()) == pytest.approx(sorted(times))
        assert matplotlib.colors.to_hex(np.atleast_2d(row.get_color())[0]) == plot.unit_colour(unit).lower()
    labels = [t.get_text() for t in top.get_yticklabels()]
    assert labels[0] == f"unit {units[0]} (n={int((result.events['unit'] == units[0]).sum())})"
    assert len(_gid(bottom.lines, "rate")) == int((result.units["count"] >= 2).sum())
    assert len(_gid(top.patches, "mask")) == len(result.masks)


def test_instantaneous_rate_is_60_over_the_interval_except_across_masks(tmp_path):
    res = _synthetic_result({0: [1.0, 3.0, 4.0, 12.0, 13.5], 1: [2.0, 2.1], -1: [5.0]}, masks=[(8.0, 9.0)])
    fig = plot.raster(res)
    _render(fig, tmp_path / "raster_synthetic.png")
    top, bottom = fig.axes
    assert len(_gid(top.collections, "raster")) == 3  # units 0, 1 and the unassigned row
    assert [t.get_text() for t in top.get_yticklabels()] == ["unit 0 (n=5)", "unit 1 (n=2)", "unassigned (n=1)"]
    rate0, rate1 = _gid(bottom.lines, "rate")
    np.testing.assert_allclose(rate0.get_xdata(), [3.0, 4.0, 12.0, 13.5])
    np.testing.assert_allclose(rate0.get_ydata(), [30.0, 60.0, np.nan, 40.0])  # 4 -> 12 s spans the mask
    np.testing.assert_allclose(rate1.get_ydata(), [600.0])
    assert rate0.get_color() == plot.unit_colour(0)


def test_raster_window_without_rates_into_a_given_axes(result, tmp_path):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    plot.raster(result, tmin=0, tmax=20, rates=False, ax=axes[0])
    plot.raster(result, units=[1], ax=axes[1])  # rates: that Axes' area split in two
    _render(fig, tmp_path / "raster_grid.png")
    assert len(fig.axes) == 3
    left = fig.axes[0]
    assert left.get_xlim() == (0, 20) and left.get_xlabel() == "Time (s)"
    n = sum(len(c.get_positions()) for c in _gid(left.collections, "raster"))
    assert n == int((result.events["time_s"] <= 20).sum())
    with pytest.raises(ValueError, match="2 panel"):
        plot.raster(result, ax=[axes[0]])


def test_distributions_of_amplitude_and_phases(result, tmp_path):
    fig = plot.distributions(result)
    _render(fig, tmp_path / "distributions.png")
    amp_ax, ph_ax = fig.axes
    assert amp_ax.get_ylabel() == "Peak-to-peak amplitude (\u00b5V)" and amp_ax.get_xlabel() == "Motor unit"
    assert ph_ax.get_xlabel() == "Phases per discharge" and ph_ax.get_ylabel() == "Discharges"
    points = _gid(amp_ax.collections, "amplitude")
    groups = sorted(result.units["unit"]) + ([-1] if (result.events["unit"] < 0).any() else [])
    assert len(points) == len(groups)
    ys = np.concatenate([p.get_offsets()[:, 1] for p in points])
    assert sorted(ys) == pytest.approx(sorted(result.events["amplitude_uv"]))
    medians = [line.get_ydata()[0] for line in _gid(amp_ax.lines, "median")]
    by_unit = result.events.groupby("unit")["amplitude_uv"].median()
    assert medians == pytest.approx([by_unit[u] for u in groups])
    bars = _gid(ph_ax.patches, "phases")
    assert sum(b.get_height() for b in bars) == len(result.events)
    assert len(_gid(ph_ax.lines, "complex_limit")) == 1


def _timeline_table():
    return pd.DataFrame({
        "session": ["ses-01", "ses-02", "ses-03"] * 2,
        "date": ["2026-01-05", "2026-03-02", "2026-05-04"] * 2,
        "muscle": ["biceps_brachii_r"] * 3 + ["tibialis_anterior_l"] * 3,
        "rate_per_min": [2.0, 6.5, 9.0, 0.5, 0.7, 0.0],
        "ci_low": [1.0, 4.6, 7.0, 0.1, 0.2, 0.0],
        "ci_high": [3.6, 8.9, 11.5, 1.5, 1.8, 3.7],
        "state": ["active", "active", "active", "quiet", "quiet", "insufficient"],
    })


def test_rate_timeline_per_muscle_with_intervals_and_states(tmp_path):
    table = _timeline_table()
    fig = plot.rate_timeline(table)
    _render(fig, tmp_path / "timeline.png")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Fasciculation rate (/min, 95% CI)" and ax.get_xlabel() == "Session date"
    lines = _gid(ax.lines, "rate")
    assert len(lines) == 2
    assert list(lines[0].get_ydata()) == [2.0, 6.5, 9.0]
    assert lines[0].get_color() == plot.OKABE_ITO["blue"] and lines[1].get_color() == plot.OKABE_ITO["vermillion"]
    ci = _gid(ax.collections, "ci")
    segments = np.concatenate([c.get_segments() for c in ci])
    assert sorted(s[:, 1].min() for s in segments) == pytest.approx(sorted(table["ci_low"]))
    assert sorted(s[:, 1].max() for s in segments) == pytest.approx(sorted(table["ci_high"]))
    assert len(_gid(ax.lines, "state")) == len(table)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["biceps brachii r", "tibialis anterior l", "state: active", "state: quiet",
                      "state: insufficient"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026-01-05\nses-01", "2026-03-02\nses-02",
                                                            "2026-05-04\nses-03"]


def test_rate_timeline_without_dates_uses_session_order(tmp_path):
    table = _timeline_table().assign(date=None)
    fig, ax = plt.subplots(figsize=(6, 3))
    plot.rate_timeline(table, muscles=["biceps_brachii_r"], ax=ax)
    _render(fig, tmp_path / "timeline_sessions.png")
    assert ax.get_xlabel() == "Session"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ses-01", "ses-02", "ses-03"]
    assert len(_gid(ax.lines, "rate")) == 1
    with pytest.raises(ValueError, match="missing column"):
        plot.rate_timeline(table.drop(columns="ci_low"))


def test_every_plot_composes_into_one_figure(rec, result, tmp_path):
    fig, axes = plt.subplots(2, 2, figsize=(14, 8), layout="constrained")
    assert plot.traces(rec, result, tmin=20, tmax=23, ax=axes[0, 0]) is fig
    assert plot.unit_waveforms(result, ax=axes[0, 1]) is fig
    assert plot.raster(result, ax=axes[1, 0]) is fig
    assert plot.distributions(result, ax=axes[1, 1]) is fig
    _render(fig, tmp_path / "composite.png")
    assert len(fig.axes) == 2 + 1 + 2 + 2


def test_import_fasctrack_loads_neither_matplotlib_nor_mne():
    import subprocess
    import sys
    code = ("import sys, fasctrack; print('matplotlib' in sys.modules, 'mne' in sys.modules); "
            "fasctrack.plot; print('matplotlib' in sys.modules, 'plot' in dir(fasctrack))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False", "True"]  # matplotlib loads at the first drawing


def test_every_plot_copes_with_a_result_without_discharges(tmp_path):
    rng = np.random.default_rng(1)
    quiet = fasctrack.Recording(rng.normal(scale=3.0, size=(4, 20 * 2048)), fs=2048.0)
    res = fasctrack.detect(quiet, mains="off")
    assert len(res.events) == 0 and len(res.units) == 0
    for name, fig in [("traces", plot.traces(quiet, res)), ("waveforms", plot.unit_waveforms(res)),
                      ("raster", plot.raster(res)), ("distributions", plot.distributions(res))]:
        fig.savefig(tmp_path / f"{name}.png", dpi=DPI)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert plot.unit_waveforms(res).axes[0].get_title() == "no units detected"
    assert "no discharges" in plot.raster(res).axes[0].texts[0].get_text()


def test_rate_timeline_draws_a_classify_report(tmp_path):
    sessions = [{"id": f"s{i + 1}", "date": d, "clean_rest_s": 90,
                 "muscles": [{"muscle": "biceps_r", "region": "cervical", "side": "R", "n_events": n},
                             {"muscle": "tibialis_l", "region": "lumbosacral", "side": "L", "n_events": 1}]}
                for i, (d, n) in enumerate([("2026-01-05", 12), ("2026-01-19", 9), ("2026-02-09", 15)])]
    report = fasctrack.classify(sessions, progress=False)
    fig = plot.rate_timeline(report)
    _render(fig, tmp_path / "timeline_report.png")
    ax = fig.axes[0]
    table = report.muscles
    lines = _gid(ax.lines, "rate")
    assert len(lines) == 2
    biceps = table[table["muscle"] == "biceps_r"]
    np.testing.assert_allclose(lines[0].get_ydata(), biceps["rate_per_min"])
    np.testing.assert_allclose(biceps["rate_per_min"], [8.0, 6.0, 10.0])  # per minute of 90 s clean rest
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "state: active" in legend and "state: quiet" in legend


def test_unit_waveforms_own_scale_makes_every_unit_fill_its_cells(result, tmp_path):
    shared = plot.unit_waveforms(result)
    own = plot.unit_waveforms(result, same_scale=False)
    _render(own, tmp_path / "waveforms_own_scale.png")

    def reach(ax):  # largest deflection drawn, in cell heights
        return max(np.abs(line.get_ydata() - np.round(line.get_ydata().mean())).max()
                   for line in _gid(ax.lines, "waveform"))

    assert [reach(a) for a in own.axes] == pytest.approx([0.45] * len(own.axes), abs=1e-6)
    assert max(reach(a) for a in shared.axes) == pytest.approx(0.45, abs=1e-6)
    smallest = int(result.units.sort_values("amplitude_uv")["unit"].iloc[0])
    assert reach(shared.axes[sorted(result.units["unit"]).index(smallest)]) < 0.45
