"""Finding the recordings of a dataset: a folder tree, a BIDS-EMG dataset, or session manifests."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# What fasctrack reads; WFDB records are entered through their .hea header.
_EXTENSIONS = {".edf", ".bdf", ".hea", ".npy", ".csv"}
# Delimited text is a recording only in BIDS naming: *_emg.tsv / *_emg.txt
# (plain .tsv files in a BIDS tree are channels/events/participants tables).
_TEXT_EXTENSIONS = {".tsv", ".txt"}
_ENTITY = re.compile(r"(?:^|_)(sub|ses)-([A-Za-z0-9]+)")


@dataclass
class Job:
    """One recording to process."""

    path: str                 # absolute path of the file fasctrack reads
    key: str                  # relative output folder under DIR/recordings (unique)
    subject: str = ""
    session: str = ""
    muscle: str = ""          # from a manifest; otherwise filled from the file's channels
    manifest: str = ""        # manifest the recording belongs to, if any
    fs: Optional[float] = None  # from a manifest (.npy)


@dataclass
class Dataset:
    root: str
    jobs: List[Job]
    manifests: Dict[str, List[str]] = field(default_factory=dict)  # manifest path -> its jobs' keys


def _entities(rel_parts: Sequence[str]) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for part in rel_parts:
        for name, value in _ENTITY.findall(part):
            found.setdefault(name, value)
    return found


def _subject_session(rel: str) -> tuple:
    """BIDS entities (sub-XX, ses-YY) from the path, else the folders: subject/session/..."""
    parts = Path(rel).parts
    ent = _entities(parts)
    if "sub" in ent:
        return "sub-" + ent["sub"], ("ses-" + ent["ses"]) if "ses" in ent else ""
    folders = parts[:-1]
    subject = folders[0] if len(folders) >= 1 else ""
    session = folders[1] if len(folders) >= 2 else ""
    return subject, session


def _is_recording(name: str) -> bool:
    lower = name.lower()
    ext = os.path.splitext(lower)[1]
    if ext in _EXTENSIONS:
        return True
    return ext in _TEXT_EXTENSIONS and os.path.splitext(lower)[0].endswith("_emg")


def _key_for(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        # Outside the dataset root (a manifest may point anywhere): keep it unique.
        rel = os.path.join("_outside", os.path.abspath(path).lstrip(os.sep))
    return rel.replace(os.sep, "/")


def discover(dataset: str, *, exclude: Sequence[str] = ()) -> Dataset:
    """Jobs for a folder tree of recordings, one manifest (.json) or a list of manifests (.txt/.lst).

    Raises ``FileNotFoundError`` or ``ValueError`` naming DATASET when it is none of these.
    """
    path = os.path.abspath(dataset)
    if os.path.isdir(path):
        return _discover_tree(path, exclude=[os.path.abspath(e) for e in exclude])
    if not os.path.exists(path):
        raise FileNotFoundError(f"{dataset}: no such file or folder")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return _discover_manifests([path], root=os.path.dirname(path))
    if ext in (".txt", ".lst"):
        base = os.path.dirname(path)
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            raise ValueError(f"{dataset}: the manifest list is empty")
        manifests = [os.path.normpath(os.path.join(base, ln)) for ln in lines]
        for m in manifests:
            if not os.path.isfile(m):
                raise FileNotFoundError(f"{dataset}: listed manifest {m} does not exist")
        return _discover_manifests(manifests, root=os.path.commonpath([os.path.dirname(m) for m in manifests]))
    raise ValueError(f"{dataset}: DATASET must be a folder of recordings, a session manifest (.json) "
                     f"or a list of manifests (.txt, one path a line)")


def _discover_tree(root: str, *, exclude: Sequence[str]) -> Dataset:
    jobs: List[Job] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Sorted and without hidden folders or the output folder, so the
        # job list (and with it the dataset table) is the same every run.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and os.path.abspath(os.path.join(dirpath, d)) not in exclude)
        for name in sorted(filenames):
            if name.startswith(".") or not _is_recording(name):
                continue
            full = os.path.join(dirpath, name)
            rel = _key_for(full, root)
            subject, session = _subject_session(rel)
            jobs.append(Job(path=full, key=rel, subject=subject, session=session))
    return Dataset(root=root, jobs=jobs)


def _discover_manifests(manifests: Sequence[str], *, root: str) -> Dataset:
    jobs: Dict[str, Job] = {}
    by_manifest: Dict[str, List[str]] = {}
    for m in manifests:
        try:
            with open(m, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"{m}: not a readable session manifest ({e})") from None
        sessions = doc.get("sessions") if isinstance(doc, dict) else None
        if not isinstance(sessions, list):
            raise ValueError(f"{m}: sessions: a session manifest needs a 'sessions' list")
        subject = str(doc.get("subject", ""))
        keys: List[str] = []
        for i, s in enumerate(sessions):
            if not isinstance(s, dict) or not isinstance(s.get("recording"), str):
                raise ValueError(f"{m}: sessions[{i}].recording: missing")
            path = os.path.normpath(os.path.join(os.path.dirname(m), s["recording"]))
            key = _key_for(path, root)
            muscles = sorted({c.get("muscle", "") for c in s.get("channels", []) if isinstance(c, dict)} - {""})
            fs = s.get("fs")
            if key not in jobs:
                jobs[key] = Job(path=path, key=key, subject=subject, session=str(s.get("id", "")),
                                muscle=";".join(muscles), manifest=m,
                                fs=float(fs) if isinstance(fs, (int, float)) else None)
            keys.append(key)
        by_manifest[m] = keys
    return Dataset(root=root, jobs=sorted(jobs.values(), key=lambda j: j.key), manifests=by_manifest)
