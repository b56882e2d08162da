"""Work done on the Dask workers, one task per recording (or manifest), and
the completeness record that makes a batch resumable.

Every output is written to a temporary file in its folder and renamed into
place (atomic on POSIX), and ``done.json`` is written last: it records the
configuration hash, the software version, the input files' sizes and
modification times and a SHA-256 of every output. A folder whose
``done.json`` is missing, or disagrees with the files beside it, the input or
the configuration, is incomplete and is redone; so a task retried after its
worker died simply writes the same bytes again.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import uuid
from typing import Any, Dict, List, Optional

DONE = "done.json"
RECORDING_OUTPUTS = ("events.csv", "summary.json", "units.json")
REPORT_OUTPUTS = ("report.json", "report.html")

# Errors that say the recording (or its configuration) is bad: recorded, not retried.
_EXPECTED = (OSError, ValueError, TypeError, RuntimeError)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomically(path: str, data: bytes) -> None:
    """Temporary file in the same folder, flushed to disk, then renamed over path."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def input_files(path: str) -> List[str]:
    """The recording and the files it is read with (WFDB signal files, BIDS sidecars)."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    prefix = stem.rsplit("_", 1)[0] + "_" if "_" in stem else stem + "."
    related = {path}
    try:
        for other in os.listdir(folder):
            if other.startswith(prefix) or os.path.splitext(other)[0] == stem:
                full = os.path.join(folder, other)
                if os.path.isfile(full):
                    related.add(full)
    except OSError:
        pass
    return sorted(related)


def input_signature(paths: List[str]) -> List[Dict[str, Any]]:
    sig = []
    for p in paths:
        try:
            st = os.stat(p)
            sig.append({"file": os.path.basename(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        except OSError:
            sig.append({"file": os.path.basename(p), "size": None, "mtime_ns": None})
    return sig


def read_done(folder: str, outputs, *, config_hash: str, version: str,
              signature: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The completeness record when the folder's outputs are complete and valid for this run; else None."""
    try:
        with open(os.path.join(folder, DONE), encoding="utf-8") as f:
            done = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(done, dict) or done.get("config_hash") != config_hash or done.get("software_version") != version:
        return None
    if done.get("inputs") != signature:
        return None
    hashes = done.get("outputs")
    if not isinstance(hashes, dict) or set(hashes) != set(outputs):
        return None
    for name, digest in hashes.items():
        p = os.path.join(folder, name)
        if not os.path.isfile(p) or sha256_file(p) != digest:
            return None
    return done


def _clear(folder: str, outputs) -> None:
    """Removes a previous run's outputs (done.json first) and stray temporary files."""
    for name in (DONE, *outputs):
        try:
            os.remove(os.path.join(folder, name))
        except FileNotFoundError:
            pass
    for tmp in glob.glob(os.path.join(folder, ".*.tmp")):
        try:
            os.remove(tmp)
        except OSError:
            pass


def _finish(folder: str, files: Dict[str, bytes], record: Dict[str, Any]) -> None:
    for name, data in files.items():
        write_atomically(os.path.join(folder, name), data)
    record["outputs"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    write_atomically(os.path.join(folder, DONE), (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def _row(job: Dict[str, Any], result: Dict[str, Any], summary: Dict[str, Any]) -> Dict[str, Any]:
    muscles = [m.get("muscle", "") for m in summary.get("muscles", [])]
    muscle = job["muscle"] or ";".join(sorted({m for m in muscles if m}))
    rate = summary.get("rate", {})
    return {
        "recording": job["key"], "subject": job["subject"], "session": job["session"], "muscle": muscle,
        "format": result["format"], "n_channels": result["n_channels"],
        "duration_min": result["duration_s"] / 60.0, "clean_min": summary["clean_rest_s"] / 60.0,
        "n_events": summary["n_events"], "fp_rate_per_min": rate.get("rate_per_min"),
        "fp_rate_ci_low": rate.get("ci_low"), "fp_rate_ci_high": rate.get("ci_high"),
        "n_units": summary["n_units"], "insufficient": bool(summary["insufficient"]),
        "status": "ok", "error": "",
    }


def error_row(job: Dict[str, Any], error_type: str, message: str) -> Dict[str, Any]:
    return {"recording": job["key"], "subject": job["subject"], "session": job["session"], "muscle": job["muscle"],
            "format": "", "n_channels": None, "duration_min": None, "clean_min": None, "n_events": None,
            "fp_rate_per_min": None, "fp_rate_ci_low": None, "fp_rate_ci_high": None, "n_units": None,
            "insufficient": None, "status": "error", "error": f"{error_type}: {message}"}


def detect_options(options: Dict[str, Any]):
    """DetectOptions from a dict; validated by the detector against each recording's own fs."""
    from .. import _core
    o = _core.DetectOptions()
    # Dask runs one single-threaded worker process per core: a recording's
    # detector takes one thread unless the configuration says otherwise.
    o.n_threads = 1
    for key, value in options.items():
        if key.startswith("_") or not hasattr(o, key):
            raise TypeError(f"unknown detection option {key!r}; see help(fasctrack.DetectOptions)")
        setattr(o, key, str(value) if key == "mains" else value)
    return o


def process_recording(job: Dict[str, Any]) -> Dict[str, Any]:
    """Detects on one recording and writes its outputs; returns its dataset-table row.

    A recording that cannot be read or analysed is returned as an error row
    (and any previous outputs of it are removed), never raised: retrying would
    not help. Anything else (a worker dying, memory) is Dask's to retry.
    """
    from .. import _core

    folder = job["folder"]
    os.makedirs(folder, exist_ok=True)
    signature = input_signature(input_files(job["path"]))
    done = read_done(folder, RECORDING_OUTPUTS, config_hash=job["config_hash"], version=job["version"],
                     signature=signature)
    if done is not None:  # a retried task whose first run finished after all
        return dict(done["row"], skipped=True, hours=done["row"]["duration_min"] / 60.0)
    _clear(folder, RECORDING_OUTPUTS)
    read = dict(job["read"])
    if read.get("fs") is None and job.get("fs") is not None:
        read["fs"] = job["fs"]
    try:
        opts = detect_options(job["detect"])
        result = _core.detect_file_outputs(
            job["path"], read.get("format", "auto"), read.get("fs"), float(read.get("scale_to_uv", 1.0)),
            read.get("dtype"), list(read.get("channels", [])), bool(read.get("include_non_voltage", False)),
            bool(read.get("use_sidecars", True)), read.get("samples_first"), int(read.get("max_bytes", 0)),
            opts, float(job["block_s"]))
    except _EXPECTED as e:
        _clear(folder, RECORDING_OUTPUTS)
        return dict(error_row(job, type(e).__name__, str(e)), skipped=False, hours=0.0)
    summary = json.loads(result["summary_json"])
    row = _row(job, result, summary)
    record = {"kind": "recording", "recording": job["key"], "config_hash": job["config_hash"],
              "software_version": job["version"], "inputs": signature, "row": row}
    _finish(folder, {"events.csv": result["events_csv"].encode(), "summary.json": result["summary_json"].encode(),
                     "units.json": result["units_json"].encode()}, record)
    return dict(row, skipped=False, hours=result["duration_s"] / 3600.0)


def process_manifest(job: Dict[str, Any]) -> Dict[str, Any]:
    """The pattern report of one manifest, as `fasctrack classify` writes it."""
    from .._pattern import classify

    folder = job["folder"]
    os.makedirs(folder, exist_ok=True)
    signature = input_signature([job["manifest"]] + sorted(p for r in job["recordings"] for p in input_files(r)))
    done = read_done(folder, REPORT_OUTPUTS, config_hash=job["config_hash"], version=job["version"],
                     signature=signature)
    if done is not None:
        return {"manifest": job["manifest"], "status": "ok", "error": "", "pattern": done["pattern"]}
    _clear(folder, REPORT_OUTPUTS)
    try:
        report = classify(job["manifest"], progress=False, detect=job["detect"] or None, **job["pattern"])
        files = {"report.json": report.to_json().encode(), "report.html": report.to_html().encode()}
    except _EXPECTED as e:
        return {"manifest": job["manifest"], "status": "error", "error": f"{type(e).__name__}: {e}", "pattern": ""}
    record = {"kind": "pattern_report", "manifest": job["manifest"], "config_hash": job["config_hash"],
              "software_version": job["version"], "inputs": signature, "pattern": report.pattern}
    _finish(folder, files, record)
    return {"manifest": job["manifest"], "status": "ok", "error": "", "pattern": report.pattern}
