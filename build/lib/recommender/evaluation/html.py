"""Render an evaluation report dict as ONE self-contained HTML page (inline CSS, inline SVG plots, no
scripts, no network), so a report opens from disk, travels by e-mail and prints the same everywhere.
"""

from __future__ import annotations

import math
import re
import statistics
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, TypeGuard
from urllib.parse import unquote

__all__ = ["render_html"]

Report = Mapping[str, Any]

FONT_STACK = (
    '"Noto Sans Bengali", "Lohit Bengali", "Mukti", "Kalpurush", "Nirmala UI", "Vrinda", '
    "system-ui, sans-serif"
)
PLOT_WIDTH = 420
PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9f1239")
AGE_EDGES = (1.0, 2.0, 7.0, 30.0, 365.0)  # bins are (low, high] days; the first one includes 0
AGE_LABELS = ("0–1", "1–2", "2–7", "7–30", "30–365", ">365")
GRADE_CLASSES = {"2": "g2", "1": "g1", "0": "g0", "D": "gd"}
GROUP_LABELS = {"judged-only": "Judged only", "beyond": "Beyond accuracy"}

CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--zebra:#f8fafc;--accent:#1d4ed8}
*{box-sizing:border-box}
body{margin:0;font-family:FONTS;color:var(--ink);background:#fff;line-height:1.5;font-size:15px;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
main{max-width:1240px;margin:0 auto;padding:28px 24px 64px}
h1{font-size:1.7rem;margin:0 0 .2rem;line-height:1.25}
h2{font-size:1.25rem;margin:2.4rem 0 .8rem;padding-bottom:.3rem;border-bottom:2px solid var(--line)}
h3{font-size:1.05rem;margin:0 0 .2rem}h4{font-size:.9rem;margin:0 0 .4rem;color:var(--muted)}
.meta,figcaption,caption,.caption{color:var(--muted);font-size:.85rem}
nav{margin:.8rem 0 0;font-size:.85rem}nav a{color:var(--accent);margin-right:1rem;text-decoration:none}
.box{border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:1rem 0;background:#fcfcfd}
.warning{border:1px solid #f59e0b;border-left:6px solid #d97706;background:#fffbeb;border-radius:8px;
 padding:12px 18px;margin:1rem 0;font-weight:600}
.counts{list-style:none;padding:0;margin:.5rem 0;display:flex;flex-wrap:wrap;gap:8px}
.counts li{background:#eef2ff;border-radius:999px;padding:2px 12px;font-size:.85rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:#f1f5f9;font-weight:600}tbody tr:nth-child(even){background:var(--zebra)}
thead tr.groups th{text-align:center;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{caption-side:bottom;text-align:left;padding-top:6px}tbody th{white-space:nowrap}
summary{cursor:pointer;color:var(--muted);font-size:.85rem;margin:.6rem 0 .3rem}
.star{color:#b45309;margin-left:2px}sup.sig{color:var(--accent);font-weight:600;margin-left:1px}
.letter{display:inline-block;min-width:1.4em;padding:0 4px;border-radius:4px;background:#e0e7ff;
 color:#1e3a8a;font-weight:700;text-align:center;margin-right:2px}
dl.defs{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:.85rem}
dl.defs dt{font-weight:600}dl.defs dd{margin:0;color:var(--muted)}
.plots{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px;break-inside:avoid}
svg text{font-family:FONTS;font-size:12px;fill:#374151}svg .pt{font-weight:600;font-size:13px}
svg .axis{stroke:#9ca3af;stroke-width:1}
.example{border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 18px;
 break-inside:avoid}
.lists{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:16px;margin-top:12px}
.lists ol{margin:0;padding-left:1.4em}.lists li{margin:0 0 8px}
.badge{display:inline-block;font-size:.72rem;font-weight:700;border-radius:4px;padding:0 6px;
 margin-right:6px;color:#fff;vertical-align:1px}
.g2{background:#15803d}.g1{background:#d97706}.g0{background:#9ca3af}.gd{background:#dc2626}
.gn{background:#fff;color:var(--muted);border:1px solid #d1d5db}
.tag{font-size:.72rem;border:1px dashed #9ca3af;border-radius:4px;padding:0 5px;margin-left:6px;
 color:var(--muted)}
.item-meta{display:block;color:var(--muted);font-size:.78rem}
@page{margin:12mm}
@media print{main{padding:0;max-width:none}nav,summary{display:none}h2{break-after:avoid}body{font-size:11px}
 .scroll{overflow:visible}table{font-size:.72rem;break-inside:avoid}th,td{padding:2px 4px}
 thead th{white-space:normal}.letter{margin-right:0}}
""".replace("FONTS", FONT_STACK)


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _lang(code: object) -> str:
    return f' lang="{_e(code)}"' if code else ""


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: object, digits: int = 3) -> str:
    if not _is_number(value):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def _date(value: object) -> str:
    """An ISO time as "2025-11-04 11:40" (the full value stays in a tooltip); anything else as given."""
    text = str(value)
    if not re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text):
        return _e(text)
    return f'<time datetime="{_e(text)}" title="{_e(text)}">{_e(text[:16].replace("T", " "))}</time>'


def _plain(value: object) -> str:
    """Config values as text: lists comma-joined, dicts as key=value pairs, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item) for item in value)
    return str(value)


def _best(values: Mapping[str, Any], higher: bool | None) -> set[str]:
    """Keys holding the best number (ties included); none when the direction is neutral."""
    present = {key: float(v) for key, v in values.items() if _is_number(v)}
    if higher is None or not present:
        return set()
    target = max(present.values()) if higher else min(present.values())
    return {key for key, v in present.items() if math.isclose(v, target, rel_tol=1e-9, abs_tol=1e-12)}


def _letters(report: Report) -> dict[str, str]:
    """System name -> a, b, c ... in display order (systems only in `metrics` come last)."""
    names = [s["name"] for s in report.get("systems", [])]
    names += [name for name in report.get("metrics", {}) if name not in names]
    return {name: chr(ord("a") + i % 26) + (str(i // 26) if i >= 26 else "") for i, name in enumerate(names)}


def _system_label(name: str, letters: Mapping[str, str]) -> str:
    return f'<span class="letter">{_e(letters.get(name, "?"))}</span> {_e(name)}'


def _table(css: str, head: str, rows: Sequence[str], caption: str = "") -> str:
    caption = f"<caption>{caption}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="{css}">{caption}<thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cell(text: str, best: bool, sig: str = "") -> str:
    """A numeric cell: `text` is HTML already; the best one is bold and starred, `sig` goes superscript."""
    text = f"<strong>{text}</strong>" if best else text
    sup = f'<sup class="sig">{_e(sig)}</sup>' if sig else ""
    star = '<span class="star" title="best">★</span>' if best else ""
    return f'<td class="num{" best" if best else ""}">{text}{sup}{star}</td>'


def _header(report: Report, sections: str) -> str:
    """Title, time, engine version and links to the sections the page has."""
    links = "".join(
        f'<a href="#{a}">{label}</a>' for a, label in re.findall(r'<h2 id="(\w+)">([^<]*)', sections)
    )
    return (
        f"<header><h1>{_e(report.get('title', 'Evaluation report'))}</h1>"
        f'<p class="meta">Created {_e(report.get("created_at"))} · '
        f"engine {_e(report.get('engine_version'))}</p><nav>{links}</nav></header>"
    )


def _judgments_box(judgments: Mapping[str, Any], notes: Sequence[str]) -> str:
    kind, sha = str(judgments.get("kind", "")), judgments.get("sha256")
    sha_html = f'<code title="{_e(sha)}">{_e(str(sha)[:12])}</code>' if sha else "–"
    counts = "".join(f"<li><b>{_fmt(n)}</b> {_e(k)}</li>" for k, n in judgments.get("counts", {}).items())
    warning = (
        '<div class="warning" role="note">Proxy judgments: these grades were derived automatically, '
        "not given by people. Proxy results are weaker evidence than results on human judgments.</div>"
    )
    notes_html = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return (
        f'{warning if kind == "proxy" else ""}<section class="box judgments"><h3>Judgments: {_e(kind)}</h3>'
        f'<p class="meta">File {_e(judgments.get("path") or "–")} · sha256 {sha_html}</p>'
        f'<ul class="counts">{counts}</ul><p>{_e(judgments.get("evidence"))}</p></section>'
        + (f'<section class="notes"><h3>Notes</h3><ul>{notes_html}</ul></section>' if notes else "")
    )


def _config_and_systems(report: Report, letters: Mapping[str, str]) -> str:
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(_plain(v))}</td></tr>" for k, v in report.get("config", {}).items()]
    systems = "".join(
        f"<dt>{_system_label(s['name'], letters)}</dt><dd>{_e(s.get('description'))}</dd>"
        for s in report.get("systems", [])
    )
    return (
        '<h2 id="config">Configuration</h2>'
        + _table("config", "<tr><th>Setting</th><th>Value</th></tr>", rows)
        + f'<h2 id="systems">Systems</h2><dl class="defs systems">{systems}</dl>'
    )


def _significant_over(report: Report, metric: str, system: str, letters: Mapping[str, str]) -> str:
    """Letters of the systems this one beats on `metric` with p < alpha, in the metric's direction."""
    higher = report.get("metric_info", {}).get(metric, {}).get("higher_is_better")
    values = {s: report.get("metrics", {}).get(s, {}).get(metric) for s in letters}
    mine = values.get(system)
    if higher is None or not _is_number(mine):
        return ""
    alpha = float(report.get("config", {}).get("alpha") or 0.05)
    p_values = report.get("significance", {}).get(metric, {}).get(system, {})
    sign = 1.0 if higher else -1.0
    worse = {other for other, v in values.items() if _is_number(v) and sign * (mine - v) > 0}
    significant = {other for other, p in p_values.items() if _is_number(p) and p < alpha}
    return "".join(letter for other, letter in letters.items() if other in worse & significant)


def _group_table(report: Report, letters: Mapping[str, str], group: str, columns: Sequence[str]) -> str:
    """Rows = systems, columns = the metrics of one group, under a header cell with the group's name."""
    info, metrics = report.get("metric_info", {}), report.get("metrics", {})
    arrows = {True: " ↑", False: " ↓", None: ""}
    labels = "".join(
        f'<th class="num" title="{_e(info[m].get("description"))}">'
        f"{_e(info[m].get('label', m))}{arrows[info[m].get('higher_is_better')]}</th>"
        for m in columns
    )
    head = (
        f'<tr class="groups"><th rowspan="2">System</th><th colspan="{len(columns)}">'
        f"{_e(GROUP_LABELS.get(group, group.capitalize()))}</th></tr><tr>{labels}</tr>"
    )
    best = {
        m: _best({s: metrics.get(s, {}).get(m) for s in letters}, info[m].get("higher_is_better"))
        for m in columns
    }
    rows = [
        f"<tr><th>{_system_label(s, letters)}</th>"
        + "".join(
            _cell(_fmt(metrics.get(s, {}).get(m)), s in best[m], _significant_over(report, m, s, letters))
            for m in columns
        )
        + "</tr>"
        for s in letters
    ]
    return _table(f"metrics {_e(group)}", head, rows)


def _metrics_tables(report: Report, letters: Mapping[str, str]) -> str:
    """One table per metric group (groups in order of first appearance), so wide reports stay readable."""
    info = report.get("metric_info", {})
    groups: dict[str, list[str]] = {}
    for metric, entry in info.items():
        groups.setdefault(str(entry.get("group", "other")), []).append(metric)
    alpha = _e(report.get("config", {}).get("alpha") or 0.05)
    caption = (
        "<b>bold</b> ★ = best; superscript letters = significantly better than those systems (paired test, "
        f"p &lt; {alpha}); ↑ higher is better, ↓ lower is better; – = not applicable."
    )
    defs = "".join(
        f"<dt>{_e(entry.get('label', m))}</dt><dd>{_e(entry.get('description'))}</dd>"
        for m, entry in info.items()
    )
    return (
        "".join(_group_table(report, letters, g, ms) for g, ms in groups.items())
        + f'<p class="caption">{caption}</p><details open><summary>Metric definitions</summary>'
        f'<dl class="defs metric-defs">{defs}</dl></details>'
    )


def _correlation_groups(report: Report) -> list[str]:
    return list(dict.fromkeys(g for per_group in report.get("correlations", {}).values() for g in per_group))


def _correlation_table(report: Report, letters: Mapping[str, str]) -> str:
    corr, groups = report.get("correlations", {}), _correlation_groups(report)
    best = {g: _best({s: corr.get(s, {}).get(g, {}).get("pearson") for s in letters}, True) for g in groups}
    rows = []
    for s in (s for s in letters if s in corr):
        cells = []
        for g in groups:
            r = corr[s].get(g, {})
            text = (
                f"{_fmt(r.get('pearson'))} / {_fmt(r.get('spearman'))} <small>(n={_fmt(r.get('n'))})</small>"
            )
            cells.append(_cell(text, s in best[g]))
        rows.append(f"<tr><th>{_system_label(s, letters)}</th>{''.join(cells)}</tr>")
    head = "<tr><th>System</th>" + "".join(f'<th class="num">{_e(g)}</th>' for g in groups) + "</tr>"
    caption = (
        "Pearson / Spearman correlation between system scores and the judged pairs (n = pairs); "
        "<b>bold</b> ★ = highest Pearson per group."
    )
    return _table("correlations", head, rows, caption)


def _svg(css: str, title: str, height: float, content: str) -> str:
    return (
        f'<svg class="{css}" role="img" aria-label="{_e(title)}" width="{PLOT_WIDTH}" height="{height}" '
        f'viewBox="0 0 {PLOT_WIDTH} {height}"><text class="pt" x="0" y="15">{_e(title)}</text>{content}</svg>'
    )


def _text(x: float, y: float, content: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{content}</text>'


def _bar_svg(title: str, rows: Sequence[tuple[str, object]]) -> str:
    """Horizontal bars, one per (label, value) row, on an axis from 0 to the largest value."""
    label_w, row_h, top = 170, 22, 26
    span = PLOT_WIDTH - label_w - 56
    vmax = max([float(v) for _, v in rows if _is_number(v)] + [0.0]) or 1.0
    parts = []
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        width = span * max(float(value), 0.0) / vmax if _is_number(value) else 0.0
        short = label if len(label) <= 25 else label[:24] + "…"
        parts += [
            _text(label_w - 6, y + 15, f"<title>{_e(label)}</title>{_e(short)}", "end"),
            f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" rx="2" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>',
            _text(label_w + width + 4, y + 15, _fmt(value)),
        ]
    axis = top + row_h * len(rows) + 2
    parts += [
        f'<line class="axis" x1="{label_w}" y1="{axis}" x2="{label_w + span}" y2="{axis}"/>',
        _text(label_w, axis + 14, "0", "middle"),
        _text(label_w + span, axis + 14, _fmt(vmax), "middle"),
    ]
    return _svg("bars", title, axis + 22, "".join(parts))


def _bar_plots(report: Report, letters: Mapping[str, str]) -> str:
    """Pearson per group (kind "pairs"); one plot per accuracy or beyond-accuracy metric with a direction."""
    figures = []
    corr = report.get("correlations", {}) if report.get("judgments", {}).get("kind") == "pairs" else {}
    for g in _correlation_groups(report) if corr else []:
        rows = [(f"{letters[s]} · {s}", corr.get(s, {}).get(g, {}).get("pearson")) for s in letters]
        figures.append(_bar_svg(f"Pearson r — {g}", rows))
    for metric, info in report.get("metric_info", {}).items():
        if info.get("group") in ("accuracy", "beyond") and info.get("higher_is_better") is not None:
            rows = [
                (f"{letters[s]} · {s}", report.get("metrics", {}).get(s, {}).get(metric)) for s in letters
            ]
            direction = "higher is better" if info["higher_is_better"] else "lower is better"
            figures.append(_bar_svg(f"{info.get('label', metric)} ({direction})", rows))
    inner = "".join(f"<figure>{f}</figure>" for f in figures)
    return f'<h2 id="plots">Plots</h2><div class="plots">{inner}</div>' if figures else ""


def _breakdown_tables(report: Report, letters: Mapping[str, str]) -> str:
    """`breakdown_metric` per section and per language: rows = groups, columns = systems."""
    breakdown, metric = report.get("breakdown") or {}, report.get("breakdown_metric", "")
    info = report.get("metric_info", {}).get(metric, {})
    out = []
    for dimension in ("section", "language"):
        rows = []
        for name, group in (breakdown.get(dimension) or {}).items():
            values = {s: group.get("metrics", {}).get(s, {}).get(metric) for s in letters}
            best = _best(values, info.get("higher_is_better", True))
            cells = "".join(_cell(_fmt(values[s]), s in best) for s in letters)
            rows.append(f'<tr><th>{_e(name)}</th><td class="num">{_fmt(group.get("n"))}</td>{cells}</tr>')
        head = f'<tr><th>{dimension.title()}</th><th class="num">n</th>' + "".join(
            f'<th class="num">{_system_label(s, letters)}</th>' for s in letters
        )
        caption = f"{_e(info.get('label', metric))} per {dimension}; <b>bold</b> ★ = best in the row."
        if rows:
            out.append(
                f"<h3>By {dimension}</h3>" + _table(f"breakdown {dimension}", head + "</tr>", rows, caption)
            )
    return '<h2 id="breakdown">Breakdown</h2>' + "".join(out) if out else ""


def _age_shares(gaps: Sequence[float]) -> list[float]:
    counts = [0] * len(AGE_LABELS)
    for gap in gaps:
        counts[bisect_left(AGE_EDGES, abs(gap))] += 1
    return [c / len(gaps) if gaps else 0.0 for c in counts]


def _histogram_svg(title: str, shares: Sequence[float], ymax: float, colour: str) -> str:
    bar_w, step, base, plot_h = 56, 68, 136, 110
    parts = []
    for i, (label, share) in enumerate(zip(AGE_LABELS, shares, strict=True)):
        x, h = 20 + i * step, plot_h * share / ymax
        parts += [
            f'<rect x="{x}" y="{base - h:.1f}" width="{bar_w}" height="{h:.1f}" rx="2" fill="{colour}"/>',
            _text(x + bar_w / 2, base - h - 4, f"{share:.0%}", "middle"),
            _text(x + bar_w / 2, base + 15, _e(label), "middle"),
        ]
    parts += [
        f'<line class="axis" x1="14" y1="{base}" x2="{PLOT_WIDTH - 6}" y2="{base}"/>',
        _text(PLOT_WIDTH / 2, base + 31, "days between article and suggestion", "middle"),
    ]
    return _svg("hist", title, base + 36, "".join(parts))


def _age_histograms(report: Report, letters: Mapping[str, str]) -> str:
    """One histogram per system on shared bins and a shared scale, with the median gap."""
    gaps = {
        s: [abs(float(g)) for g in values if _is_number(g)]
        for s, values in (report.get("age_gaps") or {}).items()
    }
    order = [s for s in letters if s in gaps] + [s for s in gaps if s not in letters]
    shares = {s: _age_shares(gaps[s]) for s in order}
    ymax = max([v for row in shares.values() for v in row] + [0.0]) or 1.0
    figures = []
    for i, s in enumerate(order):
        median = (
            f"median {statistics.median(gaps[s]):.1f} days, n = {len(gaps[s]):,}"
            if gaps[s]
            else "no suggestions"
        )
        svg = _histogram_svg(f"{letters.get(s, '?')} · {s}", shares[s], ymax, PALETTE[i % len(PALETTE)])
        figures.append(f"<figure>{svg}<figcaption>{_system_label(s, letters)} {median}</figcaption></figure>")
    if not figures:
        return ""
    return (
        '<h2 id="age">Age gaps</h2><p class="caption">Days between each article and its suggestions: share '
        "of suggestions per bin, same bins and scale for every system.</p>"
        f'<div class="plots">{"".join(figures)}</div>'
    )


def _badge(grade: object) -> str:
    key = None if grade is None else str(grade)
    label = "unjudged" if key is None else "duplicate" if key == "D" else key
    title = label if key is None or key == "D" else f"grade {key}"
    return f'<span class="badge {GRADE_CLASSES.get(key or "", "gn")}" title="{_e(title)}">{_e(label)}</span>'


def _suggestion(item: Mapping[str, Any]) -> str:
    meta = [_e(item["section"])] if item.get("section") else []
    meta += [_date(item["published_at"])] if item.get("published_at") else []
    meta += [f"score {_fmt(item['score'])}"] if _is_number(item.get("score")) else []
    tag = '<span class="tag">fallback</span>' if item.get("fallback") else ""
    title = f'<span class="t"{_lang(item.get("language"))}>{_e(item.get("title"))}</span>'
    return (
        f'<li>{_badge(item.get("grade"))}{title}{tag}<span class="item-meta">{" · ".join(meta)}</span></li>'
    )


def _example(example: Mapping[str, Any], letters: Mapping[str, str]) -> str:
    """The article, then one column of suggestions per system that has a list for it."""
    lists: Mapping[str, Sequence[Mapping[str, Any]]] = example.get("lists", {})
    order = [s for s in letters if s in lists] + [s for s in lists if s not in letters]
    meta = " · ".join(
        _date(example[k]) if k == "published_at" else _e(unquote(str(example[k])))  # readable urls
        for k in ("section", "published_at", "id")
        if example.get(k)
    )
    columns = "".join(
        f'<section class="list"><h4>{_system_label(s, letters)}</h4>'
        + (
            f"<ol>{''.join(map(_suggestion, lists[s]))}</ol>"
            if lists[s]
            else '<p class="meta">no suggestions</p>'
        )
        + "</section>"
        for s in order
    )
    return (
        f'<article class="example"><h3{_lang(example.get("language"))}>{_e(example.get("title"))}</h3>'
        f'<p class="meta">{meta}</p><div class="lists">{columns}</div></article>'
    )


def _examples(report: Report, letters: Mapping[str, str]) -> str:
    examples = report.get("examples") or []
    legend = " ".join(_badge(g) for g in ("2", "1", "0", "D", None))
    return (
        f'<h2 id="examples">Examples</h2><p class="caption">Grades: {legend} '
        '<span class="tag">fallback</span> = filled in by the fallback ranking.</p>'
        + "".join(_example(ex, letters) for ex in examples)
        if examples
        else ""
    )


def render_html(report: dict[str, Any]) -> str:
    """Return the whole report as one self-contained HTML document (UTF-8, no external resources)."""
    letters = _letters(report)
    judgments = report.get("judgments", {})
    is_pairs = judgments.get("kind") == "pairs"
    results = _correlation_table(report, letters) if is_pairs else ""
    if not is_pairs or any(i.get("group") != "correlation" for i in report.get("metric_info", {}).values()):
        results += _metrics_tables(report, letters)  # for "pairs", only what the correlation table lacks
    sections = "".join(
        (
            _config_and_systems(report, letters),
            f'<h2 id="results">Results</h2>{results}',
            _bar_plots(report, letters),
            _breakdown_tables(report, letters),
            _age_histograms(report, letters),
            _examples(report, letters),
        )
    )
    body = _header(report, sections) + _judgments_box(judgments, report.get("notes") or []) + sections
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(report.get('title', 'Evaluation report'))}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
