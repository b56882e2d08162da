"""The fasctrack command: subcommands, output, exit codes, error lines."""
import json
import subprocess

import numpy as np
import pytest

import fasctrack


def run(cli, *args):
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("sub", ["info", "filter", "analyze"])
def test_every_subcommand_has_help(cli, sub):
    r = run(cli, sub, "--help")
    assert r.returncode == 0
    assert "FILE" in r.stdout and "--format" in r.stdout


def test_top_level_help_lists_subcommands(cli):
    r = run(cli, "--help")
    assert r.returncode == 0
    for sub in ("info", "filter", "analyze"):
        assert sub in r.stdout


def test_info_json_describes_the_example(cli, example_path):
    r = run(cli, "info", example_path, "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["n_channels"] == 8 and s["fs_hz"] == 2048 and s["n_samples"] == 122880
    assert s["unit"] == "uV"
    assert s["mains"]["status"] == "found" and s["mains"]["frequency_hz"] == 50
    flags = {c["name"]: c["flags"] for c in s["channels"]}
    assert flags["EMG e8"] == "excessive_mains"
    assert all(v == "ok" for k, v in flags.items() if k != "EMG e8")
    assert s["channels"][0]["muscle"] == "biceps_brachii_r"


def test_analyze_text_summary(cli, example_path):
    r = run(cli, "analyze", example_path)
    assert r.returncode == 0, r.stderr
    assert "mains       50 Hz" in r.stdout
    assert "band-pass 20-500 Hz" in r.stdout
    assert "1 of 8 channel(s) flagged" in r.stdout


def test_filter_writes_npy_matching_the_python_api(cli, example_path, tmp_path):
    out = tmp_path / "filtered.npy"
    r = run(cli, "filter", example_path, "--out", out, "--mains", "50", "--lowpass", "450")
    assert r.returncode == 0, r.stderr
    y = np.load(out)
    rec = fasctrack.read(example_path)
    expected = fasctrack.condition(rec.data, rec.fs, mains=50, lowpass_hz=450).data
    assert y.shape == (8, 122880) and y.dtype == np.float64
    np.testing.assert_array_equal(y, expected)


def test_missing_file_exits_3_with_one_line(cli, tmp_path):
    r = run(cli, "info", tmp_path / "absent.edf")
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fasctrack: error: ") and "absent.edf" in lines[0]


def test_truncated_edf_exits_3(cli, example_path, tmp_path):
    bad = tmp_path / "cut.edf"
    bad.write_bytes(example_path.read_bytes()[:50_000])
    r = run(cli, "info", bad)
    assert r.returncode == 3
    assert "cut.edf" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_npy_without_fs_is_an_error_naming_fs(cli, tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros((2, 100), np.float32))
    r = run(cli, "info", p)
    assert r.returncode in (2, 3)
    assert "fs" in r.stderr and "x.npy" in r.stderr


def test_cutoff_above_nyquist_is_a_usage_error(cli, example_path, tmp_path):
    r = run(cli, "filter", example_path, "--out", tmp_path / "y.npy", "--highpass", "1500")
    assert r.returncode == 2
    assert "fasctrack: error:" in r.stderr


def test_bad_option_is_a_usage_error(cli, example_path):
    r = run(cli, "analyze", example_path, "--mains", "55")
    assert r.returncode == 2
    assert "--mains" in r.stderr


def test_unwritable_output_exits_4(cli, example_path, tmp_path):
    r = run(cli, "filter", example_path, "--out", tmp_path / "missing_dir" / "y.npy")
    assert r.returncode == 4
    assert "missing_dir" in r.stderr


@pytest.fixture(scope="module")
def grid_npy(tmp_path_factory):
    """A 20 s 4x4 grid saved as a bare .npy (no electrode positions), and its simulation."""
    sim = fasctrack.simulate(rows=4, columns=4, duration_s=20.0, rate_per_min=30.0, seed=912)
    path = tmp_path_factory.mktemp("grid") / "grid.npy"
    np.save(path, sim.recording.data)
    return path, sim


def test_detect_grid_places_a_bare_npy_like_its_source(cli, grid_npy, tmp_path):
    path, sim = grid_npy
    expected = fasctrack.detect(sim.recording, progress=False).events
    out = tmp_path / "ev.csv"
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", out, "--grid", "4x4", "--ied-mm", 8)
    assert r.returncode == 0, r.stderr
    assert "without electrode positions" not in r.stderr
    got = np.genfromtxt(out, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert len(expected) >= 5
    assert got["sample"].tolist() == expected["sample"].tolist()
    assert got["unit"].tolist() == expected["unit"].tolist()


def test_detect_without_grid_assumes_a_square_grid_and_says_so(cli, grid_npy, tmp_path):
    path, sim = grid_npy
    expected = fasctrack.detect(sim.recording, progress=False).events
    out = tmp_path / "ev.csv"
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", out, "--summary", tmp_path / "s.json")
    assert r.returncode == 0, r.stderr
    assert "16 EMG channels without electrode positions are analysed as a 4x4 grid" in r.stderr
    assert "--grid" in r.stderr and "--independent-leads" in r.stderr
    got = np.genfromtxt(out, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert got["sample"].tolist() == expected["sample"].tolist()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["layout"] == "assumed_grid" and summary["assumed_grid_side"] == 4
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", out, "--summary", tmp_path / "s.json",
            "--independent-leads")
    assert r.returncode == 0, r.stderr
    assert "analysed as independent leads" in r.stderr
    assert json.loads((tmp_path / "s.json").read_text())["layout"] == "independent"


def test_detect_non_square_channel_count_is_not_assumed_a_grid(cli, tmp_path):
    sim = fasctrack.simulate(rows=4, columns=8, duration_s=10.0, seed=914)
    path = tmp_path / "g32.npy"
    np.save(path, sim.recording.data)
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", tmp_path / "ev.csv",
            "--summary", tmp_path / "s.json")
    assert r.returncode == 0, r.stderr
    assert "32 EMG channels without electrode positions are analysed as independent leads" in r.stderr
    assert json.loads((tmp_path / "s.json").read_text())["layout"] == "independent"
    assert json.loads((tmp_path / "s.json").read_text())["fibre_axis"] == ""
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", tmp_path / "ev.csv",
            "--summary", tmp_path / "s.json", "--grid", "4x8")
    assert r.returncode == 0, r.stderr
    assert "without electrode positions" not in r.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["layout"] == "grid" and summary["fibre_axis"] in ("columns", "rows", "unknown")


@pytest.mark.parametrize("grid, message", [("4x5", "grid 4x5 places 20 electrodes, the recording has 16"),
                                           ("4by4", "expected ROWSxCOLUMNS")])
def test_detect_bad_grid_is_a_usage_error(cli, grid_npy, tmp_path, grid, message):
    path, sim = grid_npy
    r = run(cli, "detect", path, "--fs", sim.recording.fs, "--out", tmp_path / "ev.csv", "--grid", grid)
    assert r.returncode == 2
    assert message in r.stderr
    assert not (tmp_path / "ev.csv").exists()


def test_detect_summary_names_the_channels_the_data_made_unusable(cli, tmp_path):
    # A 4x4 grid in which one electrode is flat from the start, one is lost
    # (NaN) after 40 s and one sticks for 10 s: all three are reported, by
    # name and problem, and the lost electrode does not blank the others.
    s = fasctrack.simulate(duration_s=90, seed=3, rows=4, columns=4)
    x = np.asarray(s.recording.data, np.float32).copy()
    fs = 2048
    x[5] = 0.0
    x[9, 40 * fs:] = np.nan
    x[11, 50 * fs:60 * fs] = x[11, 50 * fs]
    p = tmp_path / "grid.npy"
    np.save(p, x)
    summary = tmp_path / "s.json"
    r = run(cli, "detect", p, "--fs", str(fs), "--out", tmp_path / "e.csv", "--summary", summary)
    assert r.returncode == 0, r.stderr
    d = json.loads(summary.read_text())
    assert d["bad_channels"] == ["ch6", "ch10", "ch12"]
    q = d["channel_quality"]
    assert "flat" in q["ch6"]["flags"]
    assert "non_finite" in q["ch10"]["flags"] and q["ch10"]["non_finite_samples"] == 50 * fs
    assert "flat" in q["ch12"]["flags"] and q["ch12"]["longest_flat_s"] == pytest.approx(10.0, abs=0.01)
    assert d["excluded_s"]["bad_signal"] == 0.0
    assert d["clean_rest_s"] > 85.0
    # The same in Python.
    with pytest.warns(UserWarning, match="4x4 grid"):
        res = fasctrack.detect(x, fs)
    assert res.summary["bad_channels"] == ["ch6", "ch10", "ch12"]
    assert res.quality[9].n_non_finite == 50 * fs
