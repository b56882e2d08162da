"""What fasctrack promises on bad input and at its edges (README "Guarantees").

The command line: documented exit codes with one error line naming the file or
argument, no death by SIGPIPE, SIGINT or SIGTERM, no partial output files; the
readers: absurd size claims refused before allocating (checked under an
address-space limit), a memory budget that reports what was needed.
"""
import os
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import fasctrack

posix_only = pytest.mark.skipif(os.name != "posix", reason="signals and rlimits")


def run(cli, *args, **kw):
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def one_error_line(stderr, *needles):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("fasctrack: error: "), lines[0]
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


# ---- exit codes ----------------------------------------------------------------

def test_exit_codes_usage_input_output(cli, example_path, tmp_path):
    r = run(cli, "detect", example_path)  # --out missing
    assert r.returncode == 2
    one_error_line(r.stderr, "--out")
    r = run(cli, "detect", example_path, "--out", tmp_path / "e.csv", "--threshold", "-1")
    assert r.returncode == 2
    one_error_line(r.stderr, "threshold_sd")
    r = run(cli, "info", tmp_path / "missing.edf")
    assert r.returncode == 3
    one_error_line(r.stderr, tmp_path / "missing.edf", "no such file")
    r = run(cli, "detect", example_path, "--out", tmp_path / "no" / "dir" / "e.csv")
    assert r.returncode == 4
    one_error_line(r.stderr, tmp_path / "no" / "dir" / "e.csv")
    assert not (tmp_path / "no").exists()


def test_corrupt_inputs_of_every_format_exit_3_naming_the_file(cli, tmp_path):
    files = {
        "bad.edf": b"0       " + b"x" * 300,
        "bad.bdf": b"\xffBIOSEMI" + b"\x00" * 100,
        "bad.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zzz'}",
        "bad.csv": b"a,b\n1,2\n3\n",
        "bad.hea": b"bad 1 1000 10\nbad.dat 999\n",
    }
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        r = run(cli, "info", p, "--fs", "1000") if name.endswith((".npy", ".csv")) else run(cli, "info", p)
        assert r.returncode == 3, (name, r.stderr)
        one_error_line(r.stderr, p)


# ---- resource limits -----------------------------------------------------------

def limit_address_space(mb):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
    return apply


@posix_only
def test_headers_claiming_1e12_samples_fail_fast_under_a_memory_cap(cli, real_data, tmp_path):
    """Each reader refuses the claim from the header and the file size: under a
    1 GB address-space cap any attempt to allocate it would end in
    std::bad_alloc (exit 5), not the input error checked here."""
    edf = bytearray((real_data / "mne-python-edf-bdf" / "duplicate_channel_labels.edf").read_bytes())
    edf[236:244] = b"99999999"
    (tmp_path / "records.edf").write_bytes(bytes(edf))
    (tmp_path / "big.hea").write_text("big 1 4000 1000000000000\nbig.dat 16 200/mV\n")
    (tmp_path / "big.dat").write_bytes(b"\x00" * 100)
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    (tmp_path / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                        + header.encode() + b"\x00" * 48)
    cases = [("records.edf", "truncated"), ("big.hea", "header says 1000000000000 samples"),
             ("huge.npy", "8000000000000 bytes")]
    for name, problem in cases:
        extra = ["--fs", "1000"] if name.endswith(".npy") else []
        start = time.monotonic()
        r = subprocess.run([cli, "info", str(tmp_path / name), *extra], capture_output=True, text=True,
                           timeout=60, preexec_fn=limit_address_space(1024))
        assert time.monotonic() - start < 10
        assert r.returncode == 3, (name, r.stderr)
        one_error_line(r.stderr, tmp_path / name, problem)


def test_max_bytes_reports_what_was_needed(cli, example_path, tmp_path):
    r = run(cli, "info", example_path, "--max-bytes", 1_000_000)
    assert r.returncode == 3
    line = one_error_line(r.stderr, example_path, "8 channel(s) x 122880 samples", "max_bytes = 1000000")
    assert "needs 7.9 MB" in line
    # detect streams the file in 10 s blocks: the budget bounds a block, not the recording.
    r = run(cli, "detect", example_path, "--out", tmp_path / "e.csv", "--max-bytes", 1_000_000)
    assert r.returncode == 3
    one_error_line(r.stderr, example_path, "8 channel(s) x 20480 samples", "max_bytes = 1000000")
    assert not (tmp_path / "e.csv").exists()
    r = run(cli, "detect", example_path, "--out", tmp_path / "e.csv", "--max-bytes", 4_000_000)
    assert r.returncode == 0, r.stderr
    assert run(cli, "info", example_path, "--max-bytes", 4_000_000).returncode == 3
    with pytest.raises(fasctrack.ReadError, match="more than the limit max_bytes = 1000000"):
        fasctrack.read(example_path, max_bytes=1_000_000)
    assert fasctrack.read(example_path, max_bytes=20_000_000).n_channels == 8
    with pytest.raises(ValueError, match="max_bytes"):
        fasctrack.read(example_path, max_bytes=-1)


# ---- signals -------------------------------------------------------------------

@posix_only
def test_closed_stdout_is_an_output_error_not_a_sigpipe_death(cli, example_path):
    rd, wr = os.pipe()
    os.close(rd)
    try:
        r = subprocess.run([cli, "info", str(example_path), "--json"], stdout=wr, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    finally:
        os.close(wr)
    assert r.returncode == 4, r.stderr  # not -SIGPIPE
    one_error_line(r.stderr, "standard output", "write failed")


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    """About 20 minutes of the 8-channel example as .npy: several seconds of work."""
    rec = fasctrack.read(fasctrack.example_path())
    x = np.ascontiguousarray(np.tile(rec.data.astype(np.float32), (1, 20)))
    p = tmp_path_factory.mktemp("long") / "long.npy"
    np.save(p, x)
    return p, rec.fs


@posix_only
@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_during_detect_exits_with_its_code_and_leaves_no_output(cli, long_recording, tmp_path, sig, code,
                                                                       word):
    path, fs = long_recording
    out, summary = tmp_path / "events.csv", tmp_path / "summary.json"
    p = subprocess.Popen([cli, "detect", str(path), "--fs", str(fs), "--out", str(out), "--summary", str(summary)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert p.poll() is None, "the run finished before the signal; make the recording longer"
    sent = time.monotonic()
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=60)
    assert time.monotonic() - sent < 5.0
    assert p.returncode == code, stderr
    one_error_line(stderr, word, "before writing any output")
    assert list(tmp_path.iterdir()) == []  # neither outputs nor their temporary files


# ---- the README keeps its promises tied to tests ---------------------------------

def test_readme_guarantees_name_existing_tests():
    """Every test the README's Guarantees section names exists (Catch2 test
    names in quotes, pytest functions and fuzz harnesses in backticks)."""
    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text()
    section = readme.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    catch_names = set()
    for cpp in (repo / "tests").rglob("*.cpp"):
        for m in re.finditer(r'TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"', cpp.read_text()):
            catch_names.add(" ".join(m.group(1).split()))
    quoted = re.findall(r'"([^"]+)"', text)
    assert len(quoted) >= 10
    for name in quoted:
        assert name in catch_names, f"README names a Catch2 test that does not exist: {name!r}"
    py_sources = "\n".join(p.read_text() for p in (repo / "tests" / "python").glob("test_*.py"))
    py_names = re.findall(r"`(test_\w+)`", text)
    assert len(py_names) >= 5
    for name in py_names:
        assert f"def {name}(" in py_sources, f"README names a pytest test that does not exist: {name}"
    for stem in ("edf", "wfdb", "npy", "csv", "manifest", "stream"):
        assert (repo / "fuzz" / f"fuzz_{stem}.cpp").is_file()
