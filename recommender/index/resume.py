"""A killed build's folder, and what the next build needs to finish it (index/build.py).

Before its index phase a build writes into its folder a RESUME file: what it was asked to make
(`Plan`), the meta.json it will write (but the index's tuning), the catalog's names and, for an
update of the live build, which build it updates (and `resume_changed.npy`, the ids it re-embedded).
The next build finishes the newest such folder that would be what it makes itself (`killed_build`):
the same plan and store version, and for an update the same live build, once its folder is written
(its index was updated in memory); every other leftover is cleaned. The graph saved while it was
filled (index/filling.py) and the neighbour lists saved while they were searched
(index/neighbours.py) are kept; the copies are measured again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .folder import BUILDING_PREFIX, RESUME, VectorIndex, current_name, fsync_tree, unfinished
from .kinds import choose_kind
from .meta import IndexMeta
from .snapshot import WrittenCatalog

CHANGED_FILE = "resume_changed.npy"  # beside RESUME in an update's folder: the ids it re-embedded


@dataclass(frozen=True)
class Resumed:
    """What a build that finished a killed build kept of that build's work."""

    graph: int  # articles its graph held (all of them once its index was written; 0: not a graph)
    lists: int  # neighbour lists it had saved


@dataclass(frozen=True)
class Plan:
    """What a build was asked to make, and with what settings: a killed build is finished by the
    next one only when this is the same (its folder's RESUME file holds it)."""

    fingerprint: str
    fields: list[str]
    model: str | None  # a model switch (`build --model`): set on going live
    index_type: str
    lexical_index: bool


@dataclass(frozen=True)
class Killed:
    """A killed build's folder that this build can finish, and what its RESUME file holds."""

    path: Path
    meta: IndexMeta  # as written into its meta.json, or to be (the index not made yet)
    note: dict[str, Any]
    written: bool  # the folder is written whole (killed from the neighbours phase on)


def note_resume(
    work: Path,
    plan: Plan,
    meta: IndexMeta,
    catalog: WrittenCatalog,
    ids: np.ndarray,
    measured: bool,
    previous: VectorIndex | None,
    changed: np.ndarray,
) -> None:
    """Write into a build's folder, before its index is made, what finishing it needs: once the
    rest of the folder is on disk, the RESUME file (written whole, then renamed into place). An
    update of the live build `previous` (re-embedded `changed`) can be finished only once its folder
    is written, and while `previous` is still the live build."""
    np.save(work / "ids.npy", ids)
    if previous is not None:
        np.save(work / CHANGED_FILE, changed)
    note = {
        **asdict(plan), "calibration_measured": measured, "meta": asdict(meta),
        "sections": catalog.section_names, "languages": catalog.language_names,
        "previous": previous.path.name if previous is not None else None,
    }  # fmt: skip
    fsync_tree(work)
    partial = work / (RESUME + ".partial")
    partial.write_text(json.dumps(note))
    os.replace(partial, work / RESUME)


def killed_build(home: Path, plan: Plan, articles_version: int, full: bool) -> Killed | None:
    """The folder of a killed build that this build can finish (see `note_resume`), if this build
    would write the same (same model, settings and store version; not an update when `full`), else
    None; it is kept out of `clean`."""
    live = current_name(home)
    for folder, note in unfinished(home):
        if {k: note.get(k) for k in asdict(plan)} != asdict(plan):
            continue
        try:
            meta = IndexMeta.from_json(note["meta"])
        except (KeyError, TypeError, ValueError):
            continue
        written = not folder.name.startswith(BUILDING_PREFIX)
        if note.get("previous") is not None and (full or not written or note["previous"] != live):
            continue
        if not _whole(folder, note, written):
            continue
        wanted = choose_kind(meta.count, plan.index_type)
        same = meta.model_fingerprint == plan.fingerprint and meta.articles_version == articles_version
        if same and meta.kind == wanted:
            return Killed(folder, meta, note, written)
    return None


def _whole(folder: Path, note: dict[str, Any], written: bool) -> bool:
    """Whether the folder holds what finishing it reads beside its RESUME file (one that does not
    is cleaned like any other leftover)."""
    needed = [folder / CHANGED_FILE] if note.get("previous") is not None else []
    if not written:
        needed += [folder / "ids.npy", folder / "languages.npy"]
        if not all(isinstance(note.get(key), list) for key in ("sections", "languages")):
            return False
    return all(path.exists() for path in needed)


def went_live(folder: Path) -> None:
    """The folder is live: nothing to finish there any more."""
    (folder / RESUME).unlink(missing_ok=True)
    (folder / CHANGED_FILE).unlink(missing_ok=True)
