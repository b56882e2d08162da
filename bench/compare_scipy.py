#!/usr/bin/env python3
"""fasctrack against a plain SciPy pipeline, stage by stage, in one run.

Generates the same simulated recordings for both (float32 microvolts,
``fasctrack.simulate``: an 8x8 grid at 2048 Hz for 300 s, and 8 bipolar leads
at 4096 Hz for 600 s by default), times each stage of both pipelines, and
prints a Markdown table of throughput and speed ratios for the README.

The SciPy reference is what a researcher writes: 4th-order 20-500 Hz
Butterworth band-pass plus notches at the mains harmonics (the same SOS
fasctrack designs), ``sosfiltfilt`` (zero-phase) or ``sosfilt`` (causal), a
robust noise floor per channel (median and MAD, ``np.median``), and
``scipy.signal.find_peaks`` over ``|x|`` at 5 robust SDs with a 5 ms
refractory distance. MNE's ``filter_data`` (IIR and default FIR) and
NeuroKit2's ``emg_clean`` join the filter comparison.

fasctrack's filters and full pipeline are timed through the Python API on
the same arrays (``fasctrack.detect``, read excluded); its noise-floor kernel
by the C++ benchmark binary (``bench/fasctrack_bench``, JSON output); a
``np.copyto`` of the recording gives the machine's copy bandwidth, so each
filter is also shown as a share of it; and the C++ CLI runs against the
Python API on the same .npy file (read included in both).

Usage::

    python bench/compare_scipy.py                      # both shapes (~5 min)
    python bench/compare_scipy.py --quick              # 60 s recordings
    python bench/compare_scipy.py --bench build/release/bench/fasctrack_bench --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import scipy
import scipy.signal as ss

import fasctrack

ROOT = Path(__file__).resolve().parents[1]


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of `repeat` runs (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def pipeline_sos(fs: float) -> np.ndarray:
    return np.vstack([fasctrack.butter(4, [20.0, min(500.0, 0.45 * fs)], "bandpass", fs=fs),
                      fasctrack.mains_notches(50.0, fs=fs)])


# ---- the SciPy reference pipeline ------------------------------------------------

def scipy_filter(x: np.ndarray, sos: np.ndarray, zero_phase: bool) -> np.ndarray:
    return ss.sosfiltfilt(sos, x, axis=-1) if zero_phase else ss.sosfilt(sos, x, axis=-1)


def scipy_noise(y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    med = np.median(y, axis=-1, keepdims=True)
    sd = 1.4826 * np.median(np.abs(y - med), axis=-1, keepdims=True)
    return med, sd


def scipy_peaks(y: np.ndarray, med: np.ndarray, sd: np.ndarray, fs: float) -> List[np.ndarray]:
    a = np.abs(y - med)
    dist = max(1, int(round(0.005 * fs)))
    return [ss.find_peaks(a[c], height=5.0 * sd[c, 0], distance=dist)[0] for c in range(y.shape[0])]


# ---- the C++ stage benchmarks ----------------------------------------------------

def run_bench(binary: Path, pattern: str, min_time: float) -> Dict[str, dict]:
    out = subprocess.run([str(binary), f"--benchmark_filter={pattern}", "--benchmark_format=json",
                          f"--benchmark_min_time={min_time}"], check=True, capture_output=True, text=True)
    return {b["name"]: b for b in json.loads(out.stdout)["benchmarks"]} if out.stdout.strip() else {}


def peak_rss_mb(code: str, env: Optional[dict] = None) -> Tuple[float, str]:
    """Runs `code` in a fresh interpreter; returns its peak RSS (MB) and stdout."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    return float(lines[-1]), "\n".join(lines[:-1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"SciPy {scipy.__version__}, fasctrack {fasctrack.__version__}")


# ---- one recording shape -----------------------------------------------------------

def compare(label: str, geometry: Dict, fs: float, duration_s: float, repeat: int, bench: Optional[Path],
            cli: Optional[Path], rows: List[List[str]], notes: List[str], min_time: float) -> None:
    sim = fasctrack.simulate(fs=fs, duration_s=duration_s, rate_per_min=20.0, seed=5, **geometry)
    rec = sim.recording
    x = np.ascontiguousarray(rec.data, dtype=np.float32)
    C, n = x.shape
    cs = C * n
    sos = pipeline_sos(fs)
    # A .npy carries no electrode positions: the grid's layout is given on
    # the command line and to fasctrack.read, as a user would.
    grid = (geometry["rows"], geometry["columns"]) if geometry.get("geometry") == "grid" else None
    print(f"# {label}: {C} channels x {fs:g} Hz x {duration_s:g} s = {cs / 1e6:.0f} M channel-samples "
          f"({x.nbytes / 1e6:.0f} MB float32), {sos.shape[0]} SOS sections", file=sys.stderr)

    def rate(seconds: float) -> str:
        return f"{cs / seconds / 1e6:,.0f}"

    def rt(seconds: float) -> str:
        return f"{duration_s / seconds:,.0f}x"

    def add(stage: str, ours: Optional[float], theirs: Optional[float], what: str, share: str = "") -> None:
        ratio = f"**{theirs / ours:.1f}x**" if ours and theirs else "-"
        rows.append([label, stage, what, rate(theirs) if theirs else "-", rate(ours) if ours else "-",
                     rt(ours) if ours else "-", ratio, share])

    # SciPy reference, stage by stage.
    t_zp = best_time(lambda: scipy_filter(x, sos, True), repeat)
    t_causal = best_time(lambda: scipy_filter(x, sos, False), repeat)
    y = scipy_filter(x, sos, True)
    t_noise = best_time(lambda: scipy_noise(y), repeat)
    med, sd = scipy_noise(y)
    t_peaks = best_time(lambda: scipy_peaks(y, med, sd, fs), repeat)
    scipy_total_zp = t_zp + t_noise + t_peaks
    scipy_total_causal = t_causal + t_noise + t_peaks

    # The machine's copy bandwidth on this recording's size (read + write).
    dst = np.empty_like(x)
    copy_bw = 2 * x.nbytes / best_time(lambda: np.copyto(dst, x), max(3, repeat))
    del dst

    def share(seconds: Optional[float], bytes_per_item: float = 8.0) -> str:
        return f"{cs * bytes_per_item / seconds / copy_bw:.0%}" if seconds else ""

    # fasctrack's filters through the Python API (GIL released; the same SOS
    # and data); two threads take one half of the channels each.
    half = C // 2
    pool = ThreadPoolExecutor(2)

    def ft_zero_phase_2():
        if C < 2:
            return fasctrack.sosfiltfilt(sos, x)
        parts = [pool.submit(fasctrack.sosfiltfilt, sos, x[:half]), pool.submit(fasctrack.sosfiltfilt, sos, x[half:])]
        return [p.result() for p in parts]

    f_zp2 = best_time(ft_zero_phase_2, repeat)
    f_zp1 = best_time(lambda: fasctrack.sosfiltfilt(sos, x), repeat)
    f_causal = best_time(lambda: fasctrack.sosfilt(sos, x), repeat)
    add("filter, zero-phase (2 threads)", f_zp2, t_zp, "SciPy sosfiltfilt", share(f_zp2))
    add("filter, zero-phase (1 thread)", f_zp1, t_zp, "SciPy sosfiltfilt", share(f_zp1))
    add("filter, causal (1 thread)", f_causal, t_causal, "SciPy sosfilt", share(f_causal))
    # The noise floor (median + MAD of every 0.25 s block of every channel,
    # the detector's own kernel) from the C++ benchmark binary; per
    # channel-sample its cost does not depend on fs or content.
    if bench is not None:
        res = run_bench(bench, f"BM_NoiseFloor(Histogram|NthElement)/{C}$", min_time)
        for name, what in ((f"BM_NoiseFloorHistogram/{C}", "np.median x 2"),
                           (f"BM_NoiseFloorNthElement/{C}", "np.median x 2")):
            if name in res:
                t = cs / res[name]["items_per_second"]
                label_ = "noise floor, histogram selection" if "Histogram" in name else "noise floor, std::nth_element"
                add(label_, t, t_noise, what)
    else:
        notes.append("no benchmark binary: noise-floor rows missing (./dev build)")

    # Other filter implementations (zero-phase): MNE, NeuroKit2.
    band = fasctrack.butter(4, [20.0, min(500.0, 0.45 * fs)], "bandpass", fs=fs)
    f_band = best_time(lambda: fasctrack.sosfiltfilt(band, x), repeat)
    try:
        import mne
        mne.set_log_level("ERROR")
        iir = dict(order=4, ftype="butter", output="sos")
        t = best_time(lambda: mne.filter.filter_data(x.astype(np.float64), fs, 20.0, min(500.0, 0.45 * fs),
                                                     method="iir", iir_params=iir, n_jobs=1), repeat)
        add("filter, zero-phase, band-pass only (1 thread)", f_band, t, "MNE filter_data IIR", share(f_band))
        t = best_time(lambda: mne.filter.filter_data(x.astype(np.float64), fs, 20.0, min(500.0, 0.45 * fs),
                                                     n_jobs=1), 1)
        add("filter, zero-phase, band-pass only (1 thread)", f_band, t, "MNE filter_data FIR", share(f_band))
    except ImportError:
        notes.append("MNE not installed: its rows are missing")
    try:
        import neurokit2 as nk
        t = best_time(lambda: [nk.emg_clean(x[c].astype(np.float64), sampling_rate=int(fs)) for c in range(C)], 1)
        add("filter, zero-phase, band-pass only (1 thread)", f_band, t, "NeuroKit2 emg_clean (4th-order high-pass)",
            share(f_band))
    except ImportError:
        notes.append("NeuroKit2 not installed: its row is missing")

    # The full pipeline through the Python API (read excluded).
    channels = rec.channels
    result = fasctrack.detect(x, fs=fs, channels=channels, progress=False)
    t_ft = best_time(lambda: fasctrack.detect(x, fs=fs, channels=channels, progress=False), repeat)
    t_ft1 = best_time(lambda: fasctrack.detect(x, fs=fs, channels=channels, progress=False, n_threads=1), repeat)
    add("full pipeline (2 threads)", t_ft, scipy_total_zp, "SciPy zero-phase pipeline")
    add("full pipeline (1 thread)", t_ft1, scipy_total_zp, "SciPy zero-phase pipeline")
    add("full pipeline (2 threads)", t_ft, scipy_total_causal, "SciPy causal pipeline")
    notes.append(f"{label}: fasctrack found {len(result.events)} events "
                 f"({len(sim.events)} simulated fasciculations); the SciPy pipeline has no refinement, "
                 f"masks or clustering, so it does less work.")

    # Streaming: 10 ms chunks through the Python StreamingDetector, one thread.
    step = max(1, int(round(0.01 * fs)))

    def stream():
        sd_ = fasctrack.StreamingDetector(fs, channels, dtype=np.float32, mains="50")
        for i in range(0, n, step):
            sd_.process(x[:, i:i + step])
        sd_.flush()

    t_stream = best_time(stream, 1)
    lat = fasctrack.StreamingDetector(fs, channels, dtype=np.float32, mains="50").latency_samples / fs
    add("streaming via Python, 10 ms chunks (1 thread)", t_stream, scipy_total_causal, "SciPy causal pipeline")
    notes.append(f"{label}: streaming latency bound {lat:.2f} s (mains='50'; 'auto' adds up to the 8 s probe).")

    # Peak memory of offline detection (fresh process, float32 input in memory).
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.npy"
        np.save(path, x)
        # VmHWM (peak RSS) is reset after loading (clear_refs 5), so loading's
        # own transients do not hide detection's peak.
        code = ("import numpy as np, fasctrack\n"
                "def kb(key):\n"
                "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key))\n"
                f"x = np.load({str(path)!r})\n"
                "open('/proc/self/clear_refs', 'w').write('5')\n"
                "base = kb('VmRSS:')\n"
                f"chans = fasctrack.grid_channels(*{grid}) if {grid} else None\n"
                f"fasctrack.detect(x, fs={fs}, channels=chans, progress=False)\n"
                "print((kb('VmHWM:') - base) / 1024)\n")
        extra, _ = peak_rss_mb(code)
        notes.append(f"{label}: offline detection (2 threads) adds {extra:.0f} MB peak RSS over the loaded input "
                     f"({x.nbytes / 1e6:.0f} MB float32): {extra * 1.048576 / (x.nbytes / 1e6):.2f}x the input.")

        # The C++ CLI against the Python API on the same .npy (read included in both).
        if cli is not None:
            out = Path(tmp) / "events.csv"
            cmd = [str(cli), "detect", str(path), "--fs", f"{fs:g}", "--out", str(out)]
            if grid:
                cmd += ["--grid", f"{grid[0]}x{grid[1]}"]
            t_cli = best_time(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat)
            pycode = ("import time, numpy as np, fasctrack\n"
                      "t0 = time.perf_counter()\n"
                      f"r = fasctrack.detect_file({str(path)!r}, fs={fs}, grid={grid}, progress=False)\n"
                      f"r.events.to_csv({str(Path(tmp) / 'py.csv')!r})\n"
                      "print(time.perf_counter() - t0)\n")
            t_py = float("inf")
            for _ in range(repeat):
                t_py = min(t_py, float(subprocess.run([sys.executable, "-c", pycode], check=True, capture_output=True,
                                                      text=True).stdout.strip()))
            rows.append([label, "Python API vs C++ CLI (same .npy, read included)", "fasctrack CLI",
                         rate(t_cli), rate(t_py), rt(t_py), f"{t_py / t_cli:.2f}x the CLI's time", ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", type=Path, default=ROOT / "build/release/bench/fasctrack_bench",
                    help="the C++ benchmark binary (./dev build makes it)")
    ap.add_argument("--cli", type=Path, default=None, help="the fasctrack CLI (default: on PATH, else build/release)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per timing; the best is kept")
    ap.add_argument("--quick", action="store_true", help="60 s recordings")
    ap.add_argument("--min-time", type=float, default=0.5, help="Google Benchmark min time per stage")
    args = ap.parse_args()
    bench = args.bench if args.bench.exists() else None
    cli = args.cli or (Path(shutil.which("fasctrack")) if shutil.which("fasctrack") else ROOT / "build/release/fasctrack")
    cli = cli if cli.exists() else None
    rows: List[List[str]] = []
    notes: List[str] = []
    if bench is None:
        notes.append(f"{args.bench} not found: fasctrack's per-stage rows are missing (./dev build)")
    d64 = 60.0 if args.quick else 300.0
    d8 = 60.0 if args.quick else 600.0
    compare("64 ch x 2048 Hz", dict(geometry="grid", rows=8, columns=8), 2048.0, d64, args.repeat, bench, cli, rows,
            notes, args.min_time)
    compare("8 ch x 4096 Hz", dict(geometry="bipolar", bipolar_channels=8, n_units=8), 4096.0, d8, args.repeat, bench,
            cli, rows, notes, args.min_time)

    print(f"Machine: {machine()}\n")
    print("| recording | stage | compared with | theirs (M ch-samples/s) | fasctrack (M ch-samples/s) "
          "| fasctrack real-time factor | fasctrack speed-up | share of copy bandwidth |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
