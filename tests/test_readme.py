"""The README's examples run as written, against the demo store (`make demo`'s, built once per session)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, DemoBuild

pytestmark = pytest.mark.model
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    """The README's code blocks in `language`, leaving out make targets and benchmark runs (slow;
    `make` is the quick start itself)."""
    out = []
    for lang, body in BLOCK.findall(README.read_text(encoding="utf-8")):
        lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if lang != language or any(line.startswith("make ") or "benchmarks" in line for line in lines):
            continue
        out.append(body)
    return out


@pytest.fixture
def workdir(demo_build: DemoBuild, tmp_path: Path) -> Path:
    """A copy of the repository's layout after `make demo`: .venv, seeds/, indexes/demo."""
    shutil.copytree(demo_build.home, tmp_path / "indexes" / "demo")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def environment() -> dict[str, str]:
    """The user's shell: the venv is not on PATH until the README activates it."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin]
    env = {**os.environ, "PATH": os.pathsep.join(path)}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def test_the_readme_has_examples_to_run() -> None:
    assert len(blocks("bash")) >= 2 and len(blocks("python")) >= 1


def test_shell_examples_run_as_written(workdir: Path) -> None:
    script = "\n".join(blocks("bash"))  # one terminal session, top to bottom, as a reader would
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr
    assert "Related to:" in done.stdout and (workdir / "eval" / "reports" / "seeds" / "report.html").exists()
    listing = subprocess.run(
        [
            "bash",
            "-c",
            "source .venv/bin/activate && recommender related bn-int-001 --home indexes/demo --json",
        ],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(listing.stdout)) == 5


def test_python_examples_run_as_written(workdir: Path) -> None:
    for block in blocks("python"):
        done = subprocess.run(
            [sys.executable, "-c", block], cwd=workdir, env=environment(), capture_output=True, text=True
        )
        assert done.returncode == 0, f"{block}\n{done.stderr}"
        assert len(done.stdout.strip().splitlines()) == 5  # five sidebar items printed
    assert not (workdir / "indexes" / "recommender.duckdb").exists()  # no stray store in ./indexes
