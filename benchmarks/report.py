"""Result rows, the machine they were measured on, and their rendering as a terminal or Markdown table."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TIMES = ("ms", "s")  # units where "baseline / value" reads as "how many times faster"


@dataclass(frozen=True)
class Row:
    """One figure and the baseline it is compared to in the same run."""

    bench: str
    size: str
    figure: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    note: str = ""

    def ratio(self) -> str:
        """baseline / value for times (×10 = ten times faster than the baseline)."""
        if self.unit not in TIMES or not self.value or self.baseline_value is None:
            return ""
        if not math.isfinite(self.value) or not math.isfinite(self.baseline_value):
            return ""
        return f"×{self.baseline_value / self.value:.3g}"


def row_from_dict(data: Mapping[str, Any]) -> Row:
    """A row from another module's dict, reading the usual names and keeping the rest as a note."""
    aliases = {
        "bench": ("bench", "benchmark"),
        "size": ("size", "path", "case"),
        "figure": ("figure", "metric", "name"),
        "value": ("value",),
        "unit": ("unit",),
        "baseline": ("baseline",),
        "baseline_value": ("baseline_value",),
        "note": ("note", "notes"),
    }
    out: dict[str, Any] = {}
    used: set[str] = set()
    for field_name, names in aliases.items():
        for name in names:
            if name in data and field_name not in out:
                out[field_name] = data[name]
                used.add(name)
    rest = ", ".join(f"{k}={_fmt(v)}" for k, v in data.items() if k not in used)
    note = "; ".join(str(x) for x in (out.get("note"), rest) if x)
    value = out.get("value")
    baseline_value = out.get("baseline_value")
    return Row(
        str(out.get("bench", "embedding")),
        str(out.get("size", "")),
        str(out.get("figure", "")),
        float(value) if isinstance(value, int | float) else None,
        str(out.get("unit", "")) if isinstance(value, int | float) or value is None else str(value),
        str(out.get("baseline", "")),
        float(baseline_value) if isinstance(baseline_value, int | float) else None,
        note,
    )


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def cells(row: Row) -> list[str]:
    value = _fmt(float(row.value)) if row.value is not None else ""
    value = f"{value} {row.unit}".strip() if row.value is not None else row.unit
    base = f"{_fmt(row.baseline_value)} {row.unit}".strip() if row.baseline_value is not None else ""
    if row.baseline_value is not None and row.unit not in ("ms", "s", "MB"):
        base = _fmt(row.baseline_value)
    return [row.bench, row.size, row.figure, value, row.baseline, base, row.ratio(), row.note]


HEADERS = ["benchmark", "size", "figure", "value", "baseline", "baseline value", "baseline/value", "note"]


def print_table(title: str, rows: Sequence[Row]) -> None:
    """One rich table per benchmark on the terminal."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for h in HEADERS[1:]:
        table.add_column(h, overflow="fold")
    for row in rows:
        table.add_row(*cells(row)[1:])
    Console(width=max(160, os.get_terminal_size(0).columns if _tty() else 160)).print(table)


def _tty() -> bool:
    try:
        os.get_terminal_size(0)
        return True
    except OSError:
        return False


def machine() -> dict[str, str]:
    """CPU model, cores and RAM from /proc, with the OS and Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": str(cores),
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def markdown(rows: Iterable[Row], command: str, seconds: float, notes: Sequence[str] = ()) -> str:
    """One Markdown block: machine, date, command and every figure with its baseline."""
    m = machine()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {date} on {m['cpu']}, {m['cores']} cores, {m['ram']} RAM "
        f"({m['os']}, Python {m['python']}),",
        f"with `{command}` ({seconds:.0f} s in all).",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    if notes:
        lines.append("")
        lines.extend(f"- {n}" for n in notes)
    return "\n".join(lines) + "\n"


def rss_bytes() -> int:
    """Resident memory of this process now."""
    return _status_kb("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """The most resident memory this process has had."""
    return _status_kb("VmHWM") * 1024


def _status_kb(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def mb(n_bytes: float) -> float:
    return n_bytes / 1024 / 1024


__all__ = ["Row", "machine", "markdown", "mb", "print_table", "row_from_dict", "rss_bytes"]
