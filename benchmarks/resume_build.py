"""What finishing a killed full build saves: the synthetic corpus built whole, and built again but
killed part way through its graph or its neighbour lists, then finished by the next build.

    python -m benchmarks.resume_build --size 200k --kill index:0.5 --kill neighbours:0.5

One store of `--size` synthetic articles (benchmarks/synthetic.py, with their vectors: the builds
only index) is copied for every run. The baseline is one uninterrupted full build in a fresh
process. Each `--kill PHASE:SHARE` run starts the same build in a fresh process and SIGKILLs it once
it has saved SHARE of that phase's work (index: the graph's articles; neighbours: the lists; both
saved every `--save-seconds`, where a build saves them every filling.SAVE_SECONDS and
neighbours.CHECKPOINT_SECONDS),
then runs the next build in a fresh process, which finishes the killed one (`--chunk`: rows added
to the graph and lists searched a step, for a small corpus). `--rounds` repeats
baseline and kills in turn. Prints one JSON line a run (its seconds until the kill, the finishing
build's seconds and what it kept) and a table: each kind of run's total beside the baseline's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .synthetic import SyntheticEmbedder, iter_sizes, populate

ROOT = Path(__file__).resolve().parent.parent


def child(home: Path, save_seconds: float, chunk: int) -> None:
    """One full build of the store at `home`, telling on stdout what it saved as it goes."""
    from recommender import Recommender
    from recommender.index import filling, neighbours

    filling.SAVE_SECONDS = neighbours.CHECKPOINT_SECONDS = save_seconds
    if chunk:
        filling.ADD_ROWS = neighbours.SEARCH_CHUNK = chunk
    save, checkpoint = filling.save, neighbours._Checkpoints.save

    def saving(index, folder, rows):  # type: ignore[no-untyped-def]
        save(index, folder, rows)
        print(f"graph {rows}", flush=True)

    def saving_lists(self):  # type: ignore[no-untyped-def]
        checkpoint(self)
        print(f"lists {int(self.done.sum())} {len(self.done)}", flush=True)

    filling.save, neighbours._Checkpoints.save = saving, saving_lists
    started = time.perf_counter()
    with Recommender(home, embedder=SyntheticEmbedder()) as rec:
        report = rec.build(full=True)
    kept = report.resumed
    line = {
        "seconds": round(time.perf_counter() - started, 1),
        "articles": report.indexed,
        "kind": report.kind,
    }
    line |= {"kept_graph": kept.graph, "kept_lists": kept.lists} if kept else {}
    print("done " + json.dumps(line), flush=True)


def spawn(home: Path, save_seconds: float, chunk: int = 0) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "benchmarks.resume_build",
        "child",
        str(home),
        str(save_seconds),
        str(chunk),
    ]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a build failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1].removeprefix("done "))


def kill_at(
    home: Path, phase: str, share: float, size: int, save_seconds: float, chunk: int
) -> tuple[float, str]:
    """Run a full build, SIGKILL it once it saved `share` of `phase`; (seconds it ran, how far)."""
    proc = spawn(home, save_seconds, chunk)
    assert proc.stdout is not None
    started, far = time.perf_counter(), ""
    for line in proc.stdout:
        word, *rest = line.split()
        if phase == "index" and word == "graph" and int(rest[0]) >= share * size:
            far = f"graph saved at {rest[0]} articles"
        elif phase == "neighbours" and word == "lists" and int(rest[0]) >= share * int(rest[1]):
            far = f"lists saved for {rest[0]} articles"
        if far:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not far:
        raise SystemExit(f"the build ended before {share:.0%} of its {phase} phase was saved")
    return time.perf_counter() - started, far


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        child(Path(argv[1]), float(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.resume_build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=lambda t: next(iter_sizes(t)), default=200_000)
    parser.add_argument("--kill", action="append", default=[], help="PHASE:SHARE, PHASE index or neighbours")
    parser.add_argument("--save-seconds", type=float, default=30.0, help="graph and lists saved this often")
    parser.add_argument("--chunk", type=int, default=0, help="rows added or searched a step (0: the build's)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--work", default="", help="folder for the stores (default: a temporary one)")
    args = parser.parse_args(argv)
    kills = [(k.split(":")[0], float(k.split(":")[1])) for k in args.kill or ["neighbours:0.5"]]
    totals: dict[str, list[float]] = {"baseline": []}
    killed: dict[str, list[float]] = {}  # seconds each killed build ran
    with tempfile.TemporaryDirectory(dir=args.work or None) as work:
        template = Path(work) / "template"
        populate(template, args.size)
        home = Path(work) / "home"
        for round_ in range(args.rounds):
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(template, home)
            whole = finished(spawn(home, args.save_seconds, args.chunk))
            totals["baseline"].append(whole["seconds"])
            print(json.dumps({"round": round_, "run": "baseline", **whole}), flush=True)
            for phase, share in kills:
                shutil.rmtree(home)
                shutil.copytree(template, home)
                ran, far = kill_at(home, phase, share, args.size, args.save_seconds, args.chunk)
                rest = finished(spawn(home, args.save_seconds, args.chunk))
                name = f"killed in {phase} at {share:.0%}"
                totals.setdefault(name, []).append(ran + rest["seconds"])
                killed.setdefault(name, []).append(ran)
                line = {"round": round_, "run": name, "killed_after_s": round(ran, 1), "how_far": far}
                print(json.dumps(line | {"finishing": rest}), flush=True)
    base = sum(totals["baseline"]) / len(totals["baseline"])
    print(f"\n{args.size:,} articles, {args.rounds} round(s); seconds of building in all (min-max)")
    for name, values in totals.items():
        mean = sum(values) / len(values)
        line = f"  {name:32} {mean:8.1f} ({min(values):.1f}-{max(values):.1f})  {mean / base:5.2f} x baseline"
        if name in killed:  # starting again from nothing instead: the killed run, then a baseline
            again = sum(killed[name]) / len(killed[name]) + base
            line += f"; starting again instead: {again:.1f} ({again / base:.2f} x)"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
