#!/usr/bin/env python3
"""Throughput of `fasctrack batch` on a local Dask cluster, in recording-hours
per wall-hour, for 1 and 2 worker processes.

    python bench/batch_throughput.py [--recordings 16] [--minutes 2] [--channels 8]

Generates a dataset of simulated recordings (EDF, 2048 Hz), runs the batch
from scratch with each worker count (cluster start-up included, as a user
sees it) and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import fasctrack
from fasctrack import batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recordings", type=int, default=16)
    p.add_argument("--minutes", type=float, default=2.0, help="length of each recording")
    p.add_argument("--channels", type=int, default=8, help="bipolar channels per recording")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="fasctrack-bench-")
    try:
        data = os.path.join(work, "data")
        for i in range(args.recordings):
            d = os.path.join(data, f"sub-{i:03d}", "emg")
            os.makedirs(d)
            sim = fasctrack.simulate(fs=2048.0, duration_s=60.0 * args.minutes, geometry="bipolar",
                                     bipolar_channels=args.channels, seed=i)
            fasctrack.write_edf(os.path.join(d, f"sub-{i:03d}_task-rest_emg.edf"), sim.recording)
        hours = args.recordings * args.minutes / 60.0
        print(f"{args.recordings} recordings x {args.minutes:g} min x {args.channels} channels at 2048 Hz "
              f"({hours:.2f} recording-hours), {os.cpu_count()} CPUs\n")
        print("| workers | wall time (s) | recording-hours per wall-hour |")
        print("|--------:|--------------:|------------------------------:|")
        for n in args.workers:
            out = os.path.join(work, f"out-{n}")
            t0 = time.perf_counter()
            result = batch.run(data, out, workers=n, progress=False)
            wall = time.perf_counter() - t0
            assert result.n_failed == 0 and result.n_skipped == 0
            print(f"| {n} | {wall:.1f} | {hours / (wall / 3600.0):.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
