"""fasctrack batch on a local Dask cluster: outputs equal serial `fasctrack detect`,
failures are isolated, a killed worker loses nothing, an interrupted batch resumes."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fasctrack
from fasctrack import batch

distributed = pytest.importorskip("distributed")

FS = 1024.0
N_GOOD = 30


def _write_dataset(root: Path) -> dict:
    """30 small good recordings (EDF in a BIDS tree, BDF, NPY with a BIDS sidecar,
    WFDB via a folder tree) plus corrupt, truncated and empty files."""
    good, bad = [], []
    for i in range(N_GOOD):
        sim = fasctrack.simulate(fs=FS, duration_s=20.0 + (i % 4) * 5.0, geometry="bipolar", bipolar_channels=4,
                                 n_units=2, rate_per_min=30.0, seed=100 + i)
        rec = sim.recording
        sub, ses = f"{i // 3 + 1:02d}", f"{i % 3 + 1:02d}"
        if i % 5 == 4:
            d = root / f"sub-{sub}" / f"ses-{ses}" / "emg"
            d.mkdir(parents=True, exist_ok=True)
            stem = f"sub-{sub}_ses-{ses}_task-rest_emg"
            np.save(d / f"{stem}.npy", rec.data.astype(np.float32))
            (d / f"{stem}.json").write_text(json.dumps({"SamplingFrequency": FS}))
            (d / f"sub-{sub}_ses-{ses}_task-rest_channels.tsv").write_text(
                "name\ttype\tunits\tmuscle\n" + "".join(f"ch{c}\tEMG\tuV\t{'biceps_l' if c < 3 else 'deltoid_l'}\n"
                                                   for c in range(1, 5)))
            good.append(d / f"{stem}.npy")
        elif i % 7 == 3:
            d = root / f"sub-{sub}" / f"ses-{ses}" / "emg"
            d.mkdir(parents=True, exist_ok=True)
            path = d / f"sub-{sub}_ses-{ses}_task-rest_emg.bdf"
            fasctrack.write_edf(path, rec, bdf=True)
            good.append(path)
        else:
            d = root / f"sub-{sub}" / f"ses-{ses}" / "emg"
            d.mkdir(parents=True, exist_ok=True)
            path = d / f"sub-{sub}_ses-{ses}_task-rest_emg.edf"
            fasctrack.write_edf(path, rec)
            good.append(path)
    # A plain folder tree (no BIDS names): subject/session from the folders.
    sim = fasctrack.simulate(fs=FS, duration_s=20.0, geometry="bipolar", bipolar_channels=4, seed=999)
    plain = root / "patientX" / "visit1"
    plain.mkdir(parents=True)
    fasctrack.write_edf(plain / "rest.edf", sim.recording)
    good.append(plain / "rest.edf")

    broken = root / "broken"
    broken.mkdir()
    (broken / "empty.edf").write_bytes(b"")
    (broken / "empty.npy").write_bytes(b"")
    (broken / "garbage.edf").write_bytes(os.urandom(3000))
    whole = good[0].read_bytes()
    (broken / "truncated.edf").write_bytes(whole[: len(whole) // 2])
    (broken / "corrupt_header.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}")
    (broken / "orphan.hea").write_text("orphan 1 1024 2048\norphan.dat 16 200/mV 16 0 0 0 0 EMG\n")
    bad = sorted(p.relative_to(root).as_posix() for p in broken.iterdir())
    return {"good": sorted(good), "bad": bad}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    info = _write_dataset(root)
    info["root"] = root
    return info


@pytest.fixture(scope="module")
def serial(dataset, cli, tmp_path_factory):
    """`fasctrack detect` run serially on every good recording: the oracle."""
    out = tmp_path_factory.mktemp("serial")
    ref = {}
    for path in dataset["good"]:
        key = path.relative_to(dataset["root"]).as_posix()
        d = out / key
        d.mkdir(parents=True)
        subprocess.run([cli, "detect", str(path), "--out", str(d / "events.csv"), "--summary",
                        str(d / "summary.json"), "--units", str(d / "units.json")],
                       check=True, capture_output=True)
        ref[key] = {n: (d / n).read_bytes() for n in ("events.csv", "summary.json", "units.json")}
    return ref


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def fresh(dataset, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    result = batch.run(dataset["root"], out, client=client, progress=False)
    return out, result


def _outputs(out: Path) -> dict:
    files = {}
    for p in sorted((out / "recordings").rglob("*")):
        if p.is_file():
            files[p.relative_to(out).as_posix()] = p.read_bytes()
    return files


def _assert_equal_to_serial(out: Path, serial: dict) -> None:
    for key, ref in serial.items():
        for name, data in ref.items():
            got = out / "recordings" / key / name
            assert got.is_file(), f"missing {got}"
            assert got.read_bytes() == data, f"{key}/{name} differs from `fasctrack detect`"
        assert (out / "recordings" / key / "done.json").is_file()


def test_batch_equals_serial_detect_and_isolates_failures(dataset, serial, fresh):
    out, result = fresh
    _assert_equal_to_serial(out, serial)
    table = pd.read_csv(out / "dataset.csv", keep_default_na=False)
    n = len(dataset["good"]) + len(dataset["bad"])
    assert len(table) == n == result.n_recordings
    assert list(table.columns) == batch.TABLE_COLUMNS
    ok = table[table.status == "ok"]
    assert sorted(ok.recording) == sorted(serial)
    assert sorted(table[table.status == "error"].recording) == sorted(dataset["bad"])
    # The table's figures are the summary's.
    for _, row in ok.iterrows():
        s = json.loads(serial[row.recording]["summary.json"])
        assert float(row.clean_min) == pytest.approx(s["clean_rest_s"] / 60.0, rel=1e-12)
        assert int(row.n_events) == s["n_events"] and int(row.n_units) == s["n_units"]
        assert float(row.fp_rate_ci_high) == pytest.approx(s["rate"]["ci_high"], rel=1e-12)
    bids = ok[ok.recording.str.startswith("sub-02/")]
    assert set(bids.subject) == {"sub-02"} and set(bids.session) <= {"ses-01", "ses-02", "ses-03"}
    plain = ok[ok.recording == "patientX/visit1/rest.edf"].iloc[0]
    assert (plain.subject, plain.session) == ("patientX", "visit1")
    npy = ok[ok.recording.str.endswith(".npy")]
    assert len(npy) == 6 and set(npy.muscle) == {"biceps_l;deltoid_l"}  # from the BIDS channels.tsv
    # Each failure named, with its reason, in the table and errors.jsonl.
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["recording"] for e in errors) == sorted(dataset["bad"])
    by = {e["recording"]: e for e in errors}
    assert "truncated" in by["broken/truncated.edf"]["message"]
    assert "empty file" in by["broken/empty.edf"]["message"]
    assert "orphan" in by["broken/orphan.hea"]["message"]
    assert result.n_failed == len(dataset["bad"]) and result.exit_code == batch.EXIT_FAILED
    # Nothing half-written: no temporary files, no outputs for failed recordings.
    assert not list(out.rglob("*.tmp"))
    for b in dataset["bad"]:
        assert not (out / "recordings" / b / "done.json").exists()


def test_rerun_skips_complete_and_redoes_partial_outputs(dataset, serial, fresh, client, tmp_path):
    src, _ = fresh
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(src), str(out)], check=True)
    before = _outputs(out)
    result = batch.run(dataset["root"], out, client=client, progress=False)
    assert result.n_skipped == len(serial)  # every complete recording skipped; the failed ones retried
    assert _outputs(out) == before
    # Damage: a missing output, a half-written one, and a done record whose version differs.
    keys = sorted(serial)
    (out / "recordings" / keys[0] / "events.csv").unlink()
    p = out / "recordings" / keys[1] / "summary.json"
    p.write_bytes(p.read_bytes()[:50])
    d = out / "recordings" / keys[2] / "done.json"
    rec = json.loads(d.read_text())
    rec["software_version"] = "0.0.1"
    d.write_text(json.dumps(rec))
    result = batch.run(dataset["root"], out, client=client, progress=False)
    assert result.n_skipped == len(serial) - 3
    assert _outputs(out) == before
    _assert_equal_to_serial(out, serial)
    assert (out / "dataset.csv").read_bytes() == (src / "dataset.csv").read_bytes()


def test_config_change_invalidates_outputs(dataset, fresh, client, tmp_path):
    src, _ = fresh
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(src), str(out)], check=True)
    cfg = {"detect": {"threshold_sd": 6.0}}
    result = batch.run(dataset["root"], out, client=client, progress=False, config=cfg)
    assert result.n_skipped == 0
    done = json.loads(next((out / "recordings").rglob("done.json")).read_text())
    assert done["config_hash"] == batch.config_hash(batch.load_config(cfg))
    assert done["software_version"] == fasctrack.__version__
    with pytest.raises(ValueError, match="no_such_option"):
        batch.load_config({"detect": {"no_such_option": 1}})


def test_killed_worker_loses_nothing(dataset, serial, fresh, tmp_path):
    out = tmp_path / "out"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    try:
        box = {}
        t = threading.Thread(target=lambda: box.update(r=batch.run(dataset["root"], out, client=c, progress=False)))
        t.start()
        while not list((out / "recordings").rglob("done.json")) if out.exists() else True:
            assert t.is_alive(), "the batch finished before a worker could be killed"
            time.sleep(0.05)
        pids = c.run(os.getpid)
        assert t.is_alive()
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        t.join(timeout=600)
        assert not t.is_alive()
        result = box["r"]
        # The nanny restarted the worker and Dask rescheduled its task.
        assert victim not in c.run(os.getpid).values()
    finally:
        c.close()
        cluster.close()
    _assert_equal_to_serial(out, serial)
    assert _outputs(out) == _outputs(fresh[0])
    assert (out / "dataset.csv").read_bytes() == (fresh[0] / "dataset.csv").read_bytes()
    assert result.n_failed == len(dataset["bad"])


def test_interrupted_batch_resumes_to_the_fresh_result(dataset, serial, fresh, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fasctrack", "batch", str(dataset["root"]), "--out", str(out), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while len(list((out / "recordings").rglob("done.json")) if out.exists() else []) < 3:
            assert proc.poll() is None, "the batch finished before it could be interrupted"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == batch.EXIT_INTERRUPTED, err
    assert "resume" in err
    finished = len(list((out / "recordings").rglob("done.json")))
    assert 3 <= finished < len(serial)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == batch.EXIT_FAILED, again.stderr
    assert f"{len(dataset['bad'])} failed" in again.stdout
    assert "already done, skipped" in again.stdout
    skipped = int(re.search(r"\((\d+) already done", again.stdout).group(1))
    assert skipped >= finished - 2  # up to the tasks that were finishing as the signal came
    _assert_equal_to_serial(out, serial)
    assert _outputs(out) == _outputs(fresh[0])
    assert (out / "dataset.csv").read_bytes() == (fresh[0] / "dataset.csv").read_bytes()
    assert not list(out.rglob("*.tmp"))


def test_manifest_dataset_writes_pattern_reports(tmp_path, cli, client):
    """A list of manifests: sessions detected per recording, then each subject's pattern report
    equal to what `fasctrack classify` writes."""
    history = Path(fasctrack.example_path("history"))
    lst = tmp_path / "manifests.txt"
    lst.write_text(f"{history}\n")
    out = tmp_path / "out"
    # Through an existing scheduler, as --scheduler ADDRESS does.
    result = batch.run(lst, out, scheduler=client.scheduler.address, progress=False)
    assert result.exit_code == 0 and result.n_failed == 0
    table = pd.read_csv(out / "dataset.csv", keep_default_na=False)
    assert list(table.session) == ["ses-01", "ses-02", "ses-03", "ses-04"]
    assert set(table.subject) == {"sim-01"}
    assert "biceps_brachii_r" in table.muscle.iloc[0]
    reports = list((out / "reports").rglob("report.json"))
    assert len(reports) == 1 and (reports[0].parent / "report.html").is_file()
    ref = tmp_path / "ref.json"
    subprocess.run([cli, "classify", str(history), "--out", str(ref), "--quiet"], check=True, capture_output=True)
    got, want = json.loads(reports[0].read_text()), json.loads(ref.read_text())
    assert got["pattern"] == want["pattern"] and got["sessions"] == want["sessions"]
    assert result.reports[0]["pattern"] == want["pattern"]


def test_reader_streams_chunks_equal_to_read(tmp_path):
    path = fasctrack.example_path()
    whole = fasctrack.read(path)
    reader = fasctrack._core.RecordingReader(path)
    assert (reader.n_channels, reader.n_samples, reader.fs) == (whole.n_channels, whole.n_samples, whole.fs)
    blocks = []
    while True:
        b = reader.read(5000)
        if b.shape[1] == 0:
            break
        blocks.append(b)
    assert np.array_equal(np.concatenate(blocks, axis=1), whole.data)
    # Bounded memory: a budget far below the whole recording still detects, block by block,
    # and gives the same bytes as an unbounded run.
    budget = whole.data.nbytes // 8
    with pytest.raises(fasctrack.ReadError, match="max_bytes"):
        fasctrack.read(path, max_bytes=budget)
    opts = fasctrack._core.DetectOptions()
    small = fasctrack._core.detect_file_outputs(path, max_bytes=budget, options=opts, block_s=1.0)
    big = fasctrack._core.detect_file_outputs(path, options=opts)
    assert small["events_csv"] == big["events_csv"] and small["summary_json"] == big["summary_json"]


def test_command_line_entry_points(tmp_path, cli):
    r = subprocess.run([sys.executable, "-m", "fasctrack", "batch", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--scheduler" in r.stdout
    env = dict(os.environ, FASCTRACK_PYTHON=sys.executable)
    r = subprocess.run([cli, "batch", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "--scheduler" in r.stdout and "--workers" in r.stdout
    r = subprocess.run([cli, "batch", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == batch.EXIT_USAGE and "nothing: no such file or folder" in r.stderr
    env["FASCTRACK_PYTHON"] = str(tmp_path / "no-python")
    r = subprocess.run([cli, "batch", "x", "--out", "y"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "FASCTRACK_PYTHON" in r.stderr
    bad = tmp_path / "c.json"
    bad.write_text('{"detect": {"threshold_sd": -1}, "oops": 1}')
    r = subprocess.run([sys.executable, "-m", "fasctrack", "batch", str(tmp_path), "--out", str(tmp_path / "o"),
                        "--config", str(bad)], capture_output=True, text=True)
    assert r.returncode == batch.EXIT_USAGE and "oops" in r.stderr
