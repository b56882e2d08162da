"""fasctrack.classify: benign vs warning pattern across sessions, end to end.

Simulated histories (data/make_history.py: 8 bipolar channels over 4 muscles
in 2 body regions, 4-5 sessions of 90 s at 2048 Hz over 4-9 weeks) of each
kind go through the whole path: manifest -> read EDF/npy -> detect ->
classify, in Python and through the command line.
"""
import importlib.util
import json
import pickle
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import fasctrack

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"none": "none", "transient": "benign", "sporadic": "benign", "persistent": "warning", "spreading": "warning"}
SEEDS = (11, 12)


def _make_history_module():
    spec = importlib.util.spec_from_file_location("make_history", REPO / "data" / "make_history.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def histories(tmp_path_factory):
    """Manifest path per (kind, seed); one kind is written as .npy with fs, the rest as EDF+."""
    make = _make_history_module()
    root = tmp_path_factory.mktemp("histories")
    out = {}
    for kind in EXPECTED:
        for seed in SEEDS:
            fmt = "npy" if (kind == "sporadic" and seed == SEEDS[0]) else "edf"
            out[kind, seed] = make.make_history(kind, root / f"{kind}-{seed}", seed=seed, fmt=fmt)
    return out


def run(cli, *args):
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=600)


def sessions(*visits, muscle="biceps_r"):
    """Hand-written session dicts: (date, n_events) per visit, 90 s clean rest each."""
    return [{"id": f"s{i + 1}", "date": d, "clean_rest_s": 90,
             "muscles": [{"muscle": muscle, "region": "cervical", "side": "R", "n_events": n}]}
            for i, (d, n) in enumerate(visits)]


# --------------------------------------------------------------------------- end to end

@pytest.mark.parametrize("kind", list(EXPECTED))
@pytest.mark.parametrize("seed", SEEDS)
def test_simulated_history_is_labelled_right(histories, kind, seed):
    report = fasctrack.classify(histories[kind, seed], progress=False)
    plan = json.loads(Path(histories[kind, seed]).read_text())["description"]
    assert report.pattern == EXPECTED[kind], f"{plan}\n{report.decision}\n{report.muscles.to_string()}"
    m = report.muscles
    assert set(m["state"]) <= {"active", "quiet"}  # 90 s of rest is enough clean rest
    assert (m["clean_rest_min"] > 1.0).all()
    if kind == "none":
        assert (m["state"] == "quiet").all() and report.units.empty
    if kind == "spreading":
        spread = next(r for r in report.reasons if r["criterion"] == "spread")
        assert spread["met"] and spread["decisive"] and spread["strength"] == "new_region"
    if kind == "persistent":
        assert any(r["criterion"] == "persistence" and r["met"] for r in report.reasons)
        # The index muscle's units are followed through every session.
        assert report.units["n_sessions"].max() == len(report.sessions)


def test_cli_classify_writes_json_and_html(cli, histories, tmp_path):
    for (kind, seed), manifest in histories.items():
        if seed != SEEDS[0]:
            continue
        out, html = tmp_path / f"{kind}.json", tmp_path / f"{kind}.html"
        r = run(cli, "classify", manifest, "--out", out, "--html", html)
        assert r.returncode == 0, r.stderr
        assert f"pattern     {EXPECTED[kind]}" in r.stdout
        assert r.stderr == ""  # progress goes to a terminal only
        report = json.loads(out.read_text())
        assert report["pattern"] == EXPECTED[kind]
        for key in ("pattern", "reasons", "muscles", "units", "options", "software_version", "disclaimer"):
            assert key in report
        assert report["software_version"] == fasctrack.__version__
        assert "not a diagnosis" in report["disclaimer"]
        assert html.read_text().startswith("<!DOCTYPE html>")
        # Python and the command line write the same report.
        py = fasctrack.classify(manifest, progress=False)
        assert json.loads(py.to_json()) == report


def test_sessions_measured_in_parallel_classify_the_same(histories):
    manifest_path = histories["spreading", SEEDS[0]]
    manifest = fasctrack.read_manifest(manifest_path)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the GIL is released while detecting
        measured = list(pool.map(lambda i: fasctrack.analyze_session(manifest, i), range(len(manifest))))
    # SessionResults travel between processes (Dask, multiprocessing) by pickle.
    measured = [pickle.loads(pickle.dumps(s)) for s in measured]
    assert [s.id for s in measured] == [s["id"] for s in manifest.sessions]
    a = fasctrack.classify(measured, subject=manifest.subject)
    b = fasctrack.classify(manifest_path, progress=False)
    assert a.to_json() == b.to_json()
    # ... and by JSON.
    c = fasctrack.classify([json.loads(s.to_json()) for s in measured], subject=manifest.subject)
    assert c.to_json() == b.to_json()


def test_manifest_dict_and_relative_paths(histories, monkeypatch):
    path = Path(histories["transient", SEEDS[0]])
    manifest = json.loads(path.read_text())
    assert fasctrack.classify(manifest, base_dir=path.parent, progress=False).pattern == "benign"
    monkeypatch.chdir(path.parent)
    assert fasctrack.classify(manifest, progress=False).pattern == "benign"
    assert fasctrack.classify(path.name, progress=False).pattern == "benign"


def test_pattern_session_from_memory():
    make = _make_history_module()
    recs = []
    for i, n_units in enumerate([3, 3, 3, 3]):
        sim = fasctrack.simulate(duration_s=90, geometry="bipolar", bipolar_channels=2, n_units=n_units,
                                 amplitude_min_uv=60, amplitude_max_uv=120, rate_per_min=10, seed=40 + i)
        recs.append(sim.recording)
    days = ["2026-01-05", "2026-01-19", "2026-02-02", "2026-02-16"]
    measured = [fasctrack.pattern_session(r, id=f"v{i}", date=d, context=["stress"] if i == 0 else [])
                for i, (r, d) in enumerate(zip(recs, days))]
    assert measured[0].muscles == ["first_dorsal_interosseous_r", "tibialis_anterior_l"]
    report = fasctrack.classify(measured, progress=False)
    assert report.pattern == "warning"  # both muscles active in all 4 sessions over 6 weeks
    assert make.MUSCLES  # the generator module imports cleanly


# --------------------------------------------------------------------------- the report object

def test_report_object():
    report = fasctrack.classify(sessions(("2026-01-05", 12), ("2026-01-19", 9), ("2026-02-09", 15)), progress=False)
    assert report.pattern == "warning"
    assert report.decision.startswith("Warning pattern: biceps_r was active in 3 of 3")
    assert report.reasons[0]["criterion"] == "persistence" and report.reasons[0]["decisive"]
    assert report.reasons[0]["values"]["active_span_days"] == 35
    assert report.reasons[0]["thresholds"]["min_persistent_span_days"] == 28
    m = report.muscles
    assert isinstance(m, pd.DataFrame) and len(m) == 3
    assert list(m["state"]) == ["active"] * 3
    assert m.loc[0, "rate_per_min"] == pytest.approx(8.0)
    assert m.loc[0, "ci_low"] < 8.0 < m.loc[0, "ci_high"]
    assert isinstance(report.units, pd.DataFrame) and report.units.empty
    assert report.options["min_active_count"] == 3
    assert report.software_version == fasctrack.__version__
    assert "not a diagnosis" in report.disclaimer
    assert "WARNING" in repr(report) and "persistence(biceps_r)" in repr(report) and "not a diagnosis" in repr(report)
    assert report.to_dict()["pattern"] == "warning"
    assert "<svg" in report._repr_html_()


def test_report_files(tmp_path):
    report = fasctrack.classify(sessions(("2026-01-05", 12), ("2026-02-09", 0)), progress=False)
    text = report.to_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(text)
    html = report.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]  # no temporary files left
    with pytest.raises(OSError):
        report.to_json(tmp_path / "missing-dir" / "r.json")


def test_options_are_keywords():
    visits = sessions(("2026-01-05", 12), ("2026-01-19", 9), ("2026-02-09", 15))
    assert fasctrack.classify(visits, min_persistent_sessions=4, progress=False).pattern == "benign"
    assert fasctrack.classify(visits, min_active_count=13, progress=False).pattern == "benign"
    assert fasctrack.classify(visits, min_active_count=16, progress=False).pattern == "none"
    assert fasctrack.classify(visits, min_follow_up_days=60, min_persistent_sessions=9,
                              progress=False).pattern == "indeterminate"
    with pytest.raises(TypeError, match="unknown pattern option 'min_active'"):
        fasctrack.classify(visits, min_active=3)
    with pytest.raises(ValueError, match="min_persistent_fraction"):
        fasctrack.classify(visits, min_persistent_fraction=2.0)
    with pytest.raises(TypeError, match="unknown detection option"):
        fasctrack.classify({"sessions": []}, detect={"thresh": 4})
    with pytest.raises(TypeError, match=r"sessions\[0\]"):
        fasctrack.classify([42])


# --------------------------------------------------------------------------- errors

def test_manifest_errors_name_the_field(tmp_path):
    (tmp_path / "a.edf").write_bytes(b"")
    good = {"subject": "S", "sessions": [{"id": "a", "date": "2026-01-05", "recording": "a.edf"},
                                         {"id": "b", "date": "2026-01-01", "recording": "a.edf"}]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(good))
    with pytest.raises(fasctrack.ManifestError, match=r"m\.json: sessions\[1\]\.date: 2026-01-01 is before"):
        fasctrack.classify(path)
    err = pytest.raises(fasctrack.ManifestError, fasctrack.read_manifest, path).value
    assert isinstance(err, fasctrack.ReadError) and isinstance(err, OSError) and isinstance(err, ValueError)
    good["sessions"][1]["date"] = "2026-01-09"
    good["sessions"][1]["recording"] = "nope.edf"
    with pytest.raises(fasctrack.ManifestError, match=r"sessions\[1\]\.recording: file not found: .*nope\.edf"):
        fasctrack.classify(good, base_dir=tmp_path)
    good["sessions"][1]["recording"] = "a.npy"
    with pytest.raises(fasctrack.ManifestError, match=r"sessions\[1\]\.fs: required for a \.npy recording"):
        fasctrack.classify(good, base_dir=tmp_path)
    path.write_text("{not json")
    with pytest.raises(fasctrack.ManifestError, match="m.json: invalid JSON"):
        fasctrack.read_manifest(path)
    with pytest.raises(fasctrack.ReadError, match="cannot open the manifest"):
        fasctrack.read_manifest(tmp_path / "absent.json")


def test_clinical_muscle_must_be_recorded(histories, tmp_path):
    src = Path(histories["none", SEEDS[0]])
    manifest = json.loads(src.read_text())
    manifest["sessions"][1]["clinical"] = {"weakness": ["deltoid_l"]}
    with pytest.raises(fasctrack.ManifestError, match=r"sessions\[1\]\.clinical\.weakness\[0\]: unknown muscle 'deltoid_l'"):
        fasctrack.classify(manifest, base_dir=src.parent, progress=False)
    manifest["sessions"][1]["clinical"] = {"weakness": ["biceps_brachii_r"], "atrophy": ["biceps_brachii_r"]}
    for s in manifest["sessions"]:
        s.pop("channels")  # muscles then come from... nowhere: the EDF labels carry none
    with pytest.raises(fasctrack.ManifestError, match="the recordings have: unspecified"):
        fasctrack.classify(manifest, base_dir=src.parent, progress=False)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(
                                  st.sampled_from(["sessions", "id", "date", "recording", "fs", "channels", "muscle",
                                                   "clinical", "weakness", "context", "name", "region", "side"]),
                                  c, max_size=5), max_leaves=30).map(json.dumps)))
def test_parse_manifest_never_crashes(text):
    try:
        fasctrack._core.parse_manifest(text, "/nonexistent", "fuzz.json")
    except fasctrack.ManifestError as e:
        assert str(e).startswith("fuzz.json: ")


# --------------------------------------------------------------------------- command line

def test_cli_classify_help_and_errors(cli, tmp_path):
    r = run(cli, "classify", "--help")
    assert r.returncode == 0
    for opt in ("MANIFEST", "--out", "--html", "--min-active-count", "--min-active-rate", "--min-clean-rest",
                "--min-persistent-sessions", "--min-persistent-span", "--min-persistent-fraction",
                "--min-spread-muscles", "--min-follow-up", "--unit-match-threshold"):
        assert opt in r.stdout
    assert "classify" in run(cli, "--help").stdout

    bad = tmp_path / "bad.json"
    bad.write_text('{"sessions": [{"id": "a", "date": "2026-02-30", "recording": "a.edf"}]}')
    r = run(cli, "classify", bad, "--out", tmp_path / "r.json")
    assert r.returncode == 3
    assert r.stderr.strip().splitlines() == [f"fasctrack: error: {bad}: sessions[0].date: '2026-02-30' is not a date: "
                                             "day 30 does not exist in that month"]
    r = run(cli, "classify", tmp_path / "missing.json", "--out", tmp_path / "r.json")
    assert r.returncode == 3 and r.stderr.startswith("fasctrack: error: ")
    r = run(cli, "classify", bad)
    assert r.returncode == 2  # --out is required
    r = run(cli, "classify", bad, "--out", tmp_path / "r.json", "--min-persistent-fraction", "0")
    assert r.returncode == 2 and "min_persistent_fraction" in r.stderr
    assert not (tmp_path / "r.json").exists()


def test_cli_classify_unwritable_output(cli, histories, tmp_path):
    r = run(cli, "classify", histories["none", SEEDS[0]], "--out", tmp_path / "no" / "r.json", "--quiet")
    assert r.returncode == 4
    assert len(r.stderr.strip().splitlines()) == 1 and "no/r.json" in r.stderr
    r = run(cli, "classify", histories["none", SEEDS[0]], "--out", tmp_path / "no" / "r.json")
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1  # no progress lines off a terminal


# --------------------------------------------------------------------------- the bundled example

def test_bundled_multi_session_example(cli, tmp_path):
    manifest = REPO / "data" / "history" / "manifest.json"
    assert manifest.exists(), "run python data/make_history.py"
    doc = json.loads(manifest.read_text())
    assert len(doc["sessions"]) >= 4
    report = fasctrack.classify(manifest, progress=False)
    assert report.pattern == "warning"
    assert any(r["criterion"] == "spread" and r["met"] for r in report.reasons)
    r = run(cli, "classify", manifest, "--out", tmp_path / "REPORT.json", "--html", tmp_path / "REPORT.html")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "REPORT.json").read_text())["pattern"] == "warning"
    # The files in data/ are what the generator writes.
    readme = (REPO / "data" / "README.md").read_text()
    assert "make_history.py" in readme and "history/" in readme


def test_cli_classify_interrupted_leaves_no_output(cli, tmp_path):
    import signal
    import time

    # The 4 sessions three times over (distinct ids, later dates): detection
    # got fast enough to finish the 4 alone within the wait on a quiet machine.
    history = REPO / "data" / "history"
    doc = json.loads((history / "manifest.json").read_text())
    sessions = []
    for rep in range(3):
        for s in doc["sessions"]:
            sessions.append(dict(s, id=f"{s['id']}-{rep}", date=f"{2026 + rep}{s['date'][4:]}",
                                 recording=str(history / s["recording"])))
    manifest = tmp_path / "in" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps(dict(doc, sessions=sessions)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([cli, "classify", str(manifest), "--out", str(out_dir / "REPORT.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)  # detection of the 12 sessions takes most of a second or more
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fasctrack: error: interrupted")
    assert list(out_dir.iterdir()) == []
