"""A whole build of the synthetic corpus, phase by phase: what an archive's first build costs.

    python -m benchmarks.full_build --size 300k

The corpus of `--size` articles is written into a new store with its vectors (what the synthetic
embedder gives each text: the embedding itself is the part `build --ray` spreads, measured apart),
then one full build runs in a fresh process as `recommender build --full` would: snapshot, lexical
phase, vector index, neighbour lists, copy candidates, switch. Prints one JSON line: the seconds of
each phase, the process's RSS as each phase began, its peak (VmHWM), and the peak of the process
and its forked helpers together (summed PSS, sampled four times a second) and of its anonymous
part (the memory no file backs: what the machine must have; mapped files' pages, such as the
vectors, the index or the shingle file, are counted in PSS but the kernel can drop and re-read
them), each of the whole build and of each phase, and the kind and size of the build on disk.
Run as `python -m benchmarks.full_build build HOME` it is that fresh process; it tells each phase's
figures on stderr as the phase ends, so that a run stopped early still shows how far it got.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .lexical_phase import TreeMemory
from .report import mb, peak_rss_bytes, rss_bytes
from .synthetic import SyntheticEmbedder, iter_sizes, populate


def child_build(home: Path) -> dict:
    """One full build of the store at `home`, timed phase by phase (this process's figures)."""
    from recommender import Recommender

    phases: dict[str, dict] = {}
    current: list = []
    tree = TreeMemory()

    def end() -> None:  # the current phase's figures, told on stderr at once
        if current:
            name, began = current
            pss, anon = tree.stages.get(name, (0.0, 0.0))
            phases[name].update(
                seconds=round(time.perf_counter() - began, 1), peak_mb=round(pss), peak_anon_mb=round(anon)
            )
            print(json.dumps({name: phases[name]}), file=sys.stderr, flush=True)

    def begin(name: str) -> None:
        end()
        current[:] = [name, time.perf_counter()]
        phases[name] = {"rss_mb_at_start": round(mb(rss_bytes()))}
        tree.stage(name)

    started = time.perf_counter()
    with tree, Recommender(home, embedder=SyntheticEmbedder()) as rec:
        report = rec.build(full=True, phase=begin)
        end()
    folder = report.index_path
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "articles": report.indexed,
        "kind": report.kind,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(mb(peak_rss_bytes())),
        "peak_with_helpers_mb": round(tree.peak),
        "peak_anon_with_helpers_mb": round(tree.peak_anon),
        "build_on_disk_mb": round(mb(on_disk)),
        "phases": phases,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["build"]:
        print(json.dumps(child_build(Path(argv[1]))), flush=True)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.full_build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=lambda t: next(iter_sizes(t)), default=100_000)
    parser.add_argument("--work", default="", help="folder for the store (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.work or None) as work:
        home = Path(work) / "home"
        generating, writing = populate(home, args.size)
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.full_build", "build", str(home)],
            cwd=root, check=True, stdout=subprocess.PIPE, text=True,
        ).stdout  # fmt: skip
        result = json.loads(out.strip().splitlines()[-1])
    line = {"size": args.size, "generated_s": round(generating, 1), "written_s": round(writing, 1), **result}
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
