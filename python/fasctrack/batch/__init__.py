"""Batch processing of whole EMG datasets on Dask distributed.

``fasctrack batch DATASET --out DIR`` (or :func:`run`) detects fasciculations
in every recording of a dataset, one Dask task per recording, on a local
cluster (default) or an existing Dask scheduler. Per recording it writes under
``DIR/recordings/<path in the dataset>/`` exactly the files ``fasctrack detect
FILE --out events.csv --summary summary.json --units units.json`` writes (the
same C++ writers, on the same chunk-streamed detection), and ``done.json``.
The driver writes ``DIR/dataset.csv`` (one row per recording) and
``DIR/errors.jsonl``; for manifests, ``DIR/reports/<manifest>/report.json``
and ``report.html`` as ``fasctrack classify`` makes them.

Re-running the same command skips recordings whose outputs are complete and
valid and redoes the rest; a change of configuration or software version
invalidates old outputs. Needs the ``dask`` extra: ``pip install 'fasctrack[dask]'``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from . import _tasks
from ._dataset import Dataset, Job, discover

PathLike = Union[str, "os.PathLike[str]"]

#: Exit codes of ``fasctrack batch`` (also :attr:`BatchResult.exit_code`).
EXIT_OK = 0
EXIT_FAILED = 1        # the batch ran to the end, but some recordings (or reports) failed
EXIT_USAGE = 2         # bad arguments, configuration, DATASET, or Dask missing
EXIT_INTERRUPTED = 130

TABLE_COLUMNS = ["recording", "subject", "session", "muscle", "format", "n_channels", "duration_min", "clean_min",
                 "n_events", "fp_rate_per_min", "fp_rate_ci_low", "fp_rate_ci_high", "n_units", "insufficient",
                 "status", "error"]

_READ_KEYS = {"format", "fs", "scale_to_uv", "dtype", "channels", "include_non_voltage", "use_sidecars",
              "samples_first", "max_bytes"}
_CONFIG_KEYS = {"read", "detect", "pattern", "block_s"}


@dataclass
class BatchResult:
    """What :func:`run` did. ``table`` has one row per recording (pandas DataFrame)."""

    table: Any
    n_recordings: int
    n_processed: int
    n_skipped: int
    n_failed: int
    errors: List[Dict[str, Any]]
    reports: List[Dict[str, Any]] = field(default_factory=list)
    recording_hours: float = 0.0
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.n_failed == 0 else EXIT_FAILED


def load_config(config: Union[None, PathLike, Mapping[str, Any]]) -> Dict[str, Any]:
    """A batch configuration: ``{"read": {...}, "detect": {...}, "pattern": {...}, "block_s": 10}``.

    ``read``: :func:`fasctrack.read` options (fs, scale_to_uv, format, dtype,
    channels, use_sidecars, ...); ``detect``: any :class:`fasctrack.DetectOptions`
    field; ``pattern``: :func:`fasctrack.classify` options; ``block_s``: seconds
    of signal per streamed block (memory per worker; results do not depend on it).
    Raises ``ValueError`` naming the file and key for anything unknown.
    """
    where = "config"
    if config is None:
        doc: Dict[str, Any] = {}
    elif isinstance(config, Mapping):
        doc = dict(config)
    else:
        where = os.fspath(config)
        try:
            with open(where, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"{where}: no such configuration file") from None
        except ValueError as e:
            raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected a JSON object")
    unknown = set(doc) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(_CONFIG_KEYS)}")
    out = {"read": dict(doc.get("read") or {}), "detect": dict(doc.get("detect") or {}),
           "pattern": dict(doc.get("pattern") or {}), "block_s": float(doc.get("block_s", 10.0))}
    bad = set(out["read"]) - _READ_KEYS
    if bad:
        raise ValueError(f"{where}: read: unknown option(s) {sorted(bad)}; expected {sorted(_READ_KEYS)}")
    try:
        # Options that hold at any rate are checked here (at a rate high
        # enough for every band edge); the rest against each recording's fs.
        _tasks.detect_options(out["detect"]).validate(1e6)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: detect: {e}") from None
    if not out["block_s"] > 0:
        raise ValueError(f"{where}: block_s must be a positive number of seconds, got {out['block_s']}")
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    # block_s only sets the memory per worker, never the results.
    relevant = {k: v for k, v in config.items() if k != "block_s"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _software_version() -> str:
    from .. import __version__
    return __version__


def _make_client(scheduler: Optional[str], workers: Optional[int]):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as e:
        raise ImportError(f"fasctrack batch needs Dask distributed ({e}); install it with "
                          f"pip install 'fasctrack[dask]'") from None
    if scheduler:
        return Client(scheduler), None
    n = workers if workers else max(1, os.cpu_count() or 1)
    # One thread per worker process: the detector is single-threaded C++ and
    # processes keep a crash (or a killed worker) to one task.
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def _progress_bar(total: int, enabled: Optional[bool]):
    from .._progress import _tqdm_class
    tqdm = _tqdm_class()
    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(total=total, desc="fasctrack batch", unit="rec", disable=disable)


def _rel_manifest_key(manifest: str, root: str) -> str:
    rel = os.path.relpath(manifest, root)
    if rel.startswith(".."):
        rel = os.path.join("_outside", os.path.abspath(manifest).lstrip(os.sep))
    return rel.replace(os.sep, "/")


def run(dataset: PathLike, out: PathLike, *, scheduler: Optional[str] = None, workers: Optional[int] = None,
        config: Union[None, PathLike, Mapping[str, Any]] = None, progress: Optional[bool] = None,
        retries: int = 2, client: Any = None) -> BatchResult:
    """Process a whole dataset on Dask; see the module docstring for the outputs.

    Parameters
    ----------
    dataset : path
        A folder tree of recordings (EDF/BDF, WFDB .hea, .npy, .csv, BIDS
        ``*_emg.*``), one session manifest (.json), or a text file listing
        manifests, one path a line.
    out : path
        Output folder (created).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); default
        a local cluster of ``workers`` processes.
    workers : int, optional
        Worker processes of the local cluster (default: the number of CPUs).
    config : path or dict, optional
        See :func:`load_config`.
    progress : bool, optional
        Progress bar on stderr; default when stderr is a terminal.
    retries : int, default 2
        Times a task that raised unexpectedly is retried (a task whose worker
        died is rescheduled by Dask in any case).
    client : dask.distributed.Client, optional
        Use this client (and its cluster) instead of making one.

    Returns
    -------
    BatchResult
        ``exit_code`` 0 when every recording and report succeeded, 1 otherwise.
    """
    import pandas as pd

    t0 = time.monotonic()
    out = os.path.abspath(os.fspath(out))
    cfg = load_config(config)
    data: Dataset = discover(os.fspath(dataset), exclude=[out])
    os.makedirs(out, exist_ok=True)
    version = _software_version()
    chash = config_hash(cfg)

    def job_dict(job: Job) -> Dict[str, Any]:
        return {"path": job.path, "key": job.key, "subject": job.subject, "session": job.session,
                "muscle": job.muscle, "fs": job.fs, "folder": os.path.join(out, "recordings", *job.key.split("/")),
                "read": cfg["read"], "detect": cfg["detect"], "config_hash": chash, "version": version,
                "block_s": cfg["block_s"]}

    rows: Dict[str, Dict[str, Any]] = {}
    todo: List[Dict[str, Any]] = []
    for job in data.jobs:
        j = job_dict(job)
        done = _tasks.read_done(j["folder"], _tasks.RECORDING_OUTPUTS, config_hash=chash, version=version,
                                signature=_tasks.input_signature(_tasks.input_files(job.path)))
        if done is not None:
            rows[job.key] = dict(done["row"], skipped=True, hours=0.0)
        else:
            todo.append(j)

    own_client = client is None
    cluster = None
    bar = None
    hours = 0.0
    reports: List[Dict[str, Any]] = []
    try:
        if todo or data.manifests:
            if own_client:
                client, cluster = _make_client(scheduler, workers)
            from dask.distributed import as_completed
            bar = _progress_bar(len(todo), progress)
            futures = {}
            for j in todo:
                fut = client.submit(_run_recording, j, key=f"fasctrack-rec-{chash[:12]}-{j['key']}", pure=False,
                                    retries=retries)
                futures[fut] = j
            for fut in as_completed(list(futures)):
                j = futures[fut]
                try:
                    row = fut.result()
                except Exception as e:  # every retry failed: recorded, the batch goes on
                    row = dict(_tasks.error_row(j, type(e).__name__, str(e)), skipped=False, hours=0.0)
                rows[j["key"]] = row
                hours += row.get("hours", 0.0)
                bar.update(1)
                bar.set_postfix(failed=sum(r["status"] != "ok" for r in rows.values()), refresh=False)
            bar.close()
            bar = None
            # Pattern reports, for manifests whose recordings all succeeded.
            rfutures = {}
            for m, keys in sorted(data.manifests.items()):
                failed = [k for k in keys if rows.get(k, {}).get("status") != "ok"]
                if failed:
                    reports.append({"manifest": m, "status": "error", "pattern": "",
                                    "error": f"not classified: {len(failed)} recording(s) failed ({', '.join(failed)})"})
                    continue
                mj = {"manifest": m, "recordings": [rj.path for rj in data.jobs if rj.key in set(keys)],
                      "folder": os.path.join(out, "reports", *_rel_manifest_key(m, data.root).split("/")),
                      "config_hash": chash, "version": version, "detect": cfg["detect"], "pattern": cfg["pattern"]}
                rfutures[client.submit(_tasks.process_manifest, mj, pure=False, retries=retries)] = mj
            for fut in as_completed(list(rfutures)):
                mj = rfutures[fut]
                try:
                    reports.append(fut.result())
                except Exception as e:
                    reports.append({"manifest": mj["manifest"], "status": "error", "pattern": "",
                                    "error": f"{type(e).__name__}: {e}"})
    finally:
        if bar is not None:
            bar.close()
        if own_client and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    # The driver alone writes the dataset table, in dataset order, once per recording.
    table = pd.DataFrame([{c: rows[j.key].get(c) for c in TABLE_COLUMNS} for j in data.jobs], columns=TABLE_COLUMNS)
    for c in ("n_channels", "n_events", "n_units"):  # counts stay integers beside failed rows' blanks
        table[c] = table[c].astype("Int64")
    table["insufficient"] = table["insufficient"].astype("boolean")
    _tasks.write_atomically(os.path.join(out, "dataset.csv"), table.to_csv(index=False).encode())
    try:
        import pyarrow  # noqa: F401  (optional: parquet only when it is there)
        import io
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        _tasks.write_atomically(os.path.join(out, "dataset.parquet"), buf.getvalue())
    except ImportError:
        pass
    errors = [{"recording": r["recording"], "error_type": r["error"].split(":", 1)[0],
               "message": r["error"].split(":", 1)[1].strip() if ":" in r["error"] else r["error"]}
              for r in (rows[j.key] for j in data.jobs) if r["status"] != "ok"]
    errors += [{"manifest": r["manifest"], "error_type": "pattern_report", "message": r["error"]}
               for r in sorted(reports, key=lambda r: r["manifest"]) if r["status"] != "ok"]
    _tasks.write_atomically(os.path.join(out, "errors.jsonl"),
                            "".join(json.dumps(e, sort_keys=True) + "\n" for e in errors).encode())
    n_failed = len(errors)
    n_skipped = sum(1 for j in data.jobs if rows[j.key].get("skipped"))
    return BatchResult(table=table, n_recordings=len(data.jobs), n_processed=len(data.jobs) - n_skipped,
                       n_skipped=n_skipped, n_failed=n_failed, errors=errors, reports=reports,
                       recording_hours=hours, wall_s=time.monotonic() - t0)


def _run_recording(job: Dict[str, Any]) -> Dict[str, Any]:
    return _tasks.process_recording(job)


def _summary_text(r: BatchResult) -> str:
    ok = r.n_recordings - sum(1 for e in r.errors if "recording" in e)
    lines = [f"fasctrack batch: {r.n_recordings} recording(s): {ok} ok ({r.n_skipped} already done, skipped), "
             f"{r.n_recordings - ok} failed"]
    if r.reports:
        good = sum(1 for x in r.reports if x["status"] == "ok")
        lines.append(f"pattern reports: {good} of {len(r.reports)} written")
    if r.wall_s > 0 and r.recording_hours > 0:
        lines.append(f"processed {r.recording_hours:.3f} recording-hours in {r.wall_s:.1f} s "
                     f"({r.recording_hours / (r.wall_s / 3600.0):.0f} recording-hours per wall-hour)")
    for e in r.errors[:20]:
        lines.append(f"  failed: {e.get('recording', e.get('manifest'))}: {e['error_type']}: {e['message']}")
    if len(r.errors) > 20:
        lines.append(f"  ... and {len(r.errors) - 20} more (errors.jsonl)")
    if r.n_failed:
        lines.append(f"{r.n_failed} failure(s); see errors.jsonl")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    """``fasctrack batch`` / ``python -m fasctrack batch``; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="fasctrack batch",
        description="Detect fasciculations over a whole dataset on Dask (resumable). Exit codes: 0 all done, "
                    "1 some recordings failed (see errors.jsonl), 2 usage/configuration error, 130 interrupted.")
    p.add_argument("dataset", metavar="DATASET",
                   help="folder tree of recordings, BIDS-EMG dataset, session manifest (.json) or list of manifests (.txt)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--scheduler", metavar="ADDRESS", help="existing Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N", help="local cluster worker processes (default: CPUs)")
    p.add_argument("--config", metavar="CONFIG.json", help="read/detect/pattern options (JSON)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")
    try:
        result = run(args.dataset, args.out, scheduler=args.scheduler, workers=args.workers, config=args.config,
                     progress=False if args.no_progress else None)
    except KeyboardInterrupt:
        sys.stderr.write("fasctrack: error: interrupted; finished recordings are kept, re-run the same command "
                         "to resume\n")
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, ImportError) as e:
        sys.stderr.write(f"fasctrack: error: {e}\n")
        return EXIT_USAGE
    sys.stdout.write(_summary_text(result))
    return result.exit_code


__all__ = ["run", "main", "load_config", "BatchResult", "discover", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE",
           "EXIT_INTERRUPTED", "TABLE_COLUMNS"]
