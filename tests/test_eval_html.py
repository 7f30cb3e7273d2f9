"""The HTML evaluation report: one offline page, escaped text, best/significance marks, plots, examples.

All tests build a small report dict by hand; the last one prints the page with a real headless Chromium
and checks that a Bengali font got embedded (skipped when chromium or pdffonts is missing).
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from recommender.evaluation.html import render_html

PUTIN = "পুতিনের কাজাখস্তান সফর"
CRICKET = "ছোটদের এশিয়া কাপে ভারতের কাছে পাকিস্তানের হার"
EVIL = '<script>alert("x")</script> & <em>em</em>'
SYSTEMS = ["semantic", "lexical", "recent"]  # letters a, b, c

METRIC_INFO = {
    metric: {"label": label, "group": group, "higher_is_better": higher, "description": f"about {label}"}
    for metric, label, group, higher in (
        ("ndcg@5", "nDCG@5", "accuracy", True),
        ("precision@5", "P@5", "accuracy", True),
        ("judged@5", "Judged@5", "judged-only", True),
        ("near_duplicates", "Duplicates", "beyond", False),
        ("median_age_gap_days", "Median age", "beyond", None),
    )
}


def _metrics(ndcg: float, p5: float | None, judged: float, dup: float, age: float) -> dict[str, float | None]:
    return {
        "ndcg@5": ndcg,
        "precision@5": p5,
        "judged@5": judged,
        "near_duplicates": dup,
        "median_age_gap_days": age,
    }


def _item(title: str, grade: str | None, fallback: bool = False) -> dict[str, Any]:
    return {
        "id": title[:8],
        "title": title,
        "grade": grade,
        "section": "world",
        "published_at": "2025-11-03",
        "score": 0.81,
        "fallback": fallback,
    }


def make_report(kind: str = "graded") -> dict[str, Any]:
    group_metrics = {"semantic": {"ndcg@5": 0.7}, "lexical": {"ndcg@5": 0.4}, "recent": {"ndcg@5": None}}
    return {
        "title": "Related-story evaluation: seeds/judgments.csv",
        "created_at": "2025-12-01T10:00:00+00:00",
        "engine_version": "0.1.0",
        "judgments": {
            "kind": kind,
            "path": "seeds/judgments.csv",
            "sha256": "ab" * 32,
            "evidence": "50 source articles graded by two editors.",
            "counts": {"sources": 50, "pairs": 686, "grade 2": 127, "D": 6},
        },
        "config": {
            "home": "indexes/seeds",
            "k": 5,
            "alpha": 0.05,
            "baseline": "lexical",
            "languages": ["bn", "en"],
            "settings": {"depth": 50, "mmr": 0.3},
            "as_of": None,
        },
        "systems": [{"name": n, "description": f"the {n} system"} for n in SYSTEMS],
        "metric_info": METRIC_INFO,
        "metrics": {
            "semantic": _metrics(0.612, 0.48, 0.9, 0.01, 3.0),
            "lexical": _metrics(0.401, 0.36, 0.8, 0.04, 12.0),
            "recent": _metrics(0.205, None, 0.5, 0.09, 0.5),
        },
        "significance": {
            "ndcg@5": {
                "semantic": {"lexical": 0.001, "recent": 0.0001},
                "lexical": {"semantic": 0.001, "recent": 0.2},
                "recent": {"semantic": 0.0001, "lexical": 0.2},
            },
            "near_duplicates": {
                "semantic": {"lexical": 0.01, "recent": 0.3},
                "lexical": {"semantic": 0.01},
                "recent": {"semantic": 0.3},
            },
        },
        "breakdown": {
            "section": {
                "sports": {"n": 12, "metrics": group_metrics},
                "world": {"n": 9, "metrics": {"semantic": {"ndcg@5": 0.3}, "lexical": {"ndcg@5": 0.5}}},
            },
            "language": {"bn": {"n": 30, "metrics": group_metrics}},
        },
        "breakdown_metric": "ndcg@5",
        "age_gaps": {
            "semantic": [0.5, 1.5, 2.0, 3.0, 10.0, 100.0, 400.0],
            "lexical": [5.0, 9.0],
            "recent": [],
        },
        "examples": [
            {
                "id": "s1",
                "title": PUTIN,
                "section": "বিশ্ব",
                "language": "bn",
                "published_at": "2025-11-03T09:15:00+00:00",
                "lists": {
                    "semantic": [_item(CRICKET, "2"), _item("Putin in Astana", "1"), _item(EVIL, "0")],
                    "lexical": [_item(PUTIN + " (আপডেট)", "D"), _item("Weather", None, fallback=True)],
                },
            },
            {
                "id": "s2",
                "title": EVIL,
                "section": None,
                "language": None,
                "published_at": None,
                "lists": {"semantic": [], "lexical": [_item("Anything", "1")]},
            },
        ],
        "correlations": {},
        "notes": ["Grades from two editors; ties broken by the first.", EVIL],
    }


def make_pairs_report() -> dict[str, Any]:
    report = make_report("pairs")
    report["metric_info"] = {  # as the runner writes them; the correlation table already shows these
        m: {"label": m.title(), "group": "correlation", "higher_is_better": True, "description": m}
        for m in ("pearson", "spearman")
    }
    report["metrics"] = {
        "semantic": {"pearson": 0.68, "spearman": 0.66},
        "lexical": {"pearson": 0.3, "spearman": 0.31},
    }
    report["significance"] = {}
    report["breakdown"] = {}
    report["examples"] = []
    report["age_gaps"] = {}
    report["correlations"] = {
        "semantic": {
            "en-en": {"n": 120, "pearson": 0.712, "spearman": 0.69},
            "cross-lingual": {"n": 40, "pearson": 0.55, "spearman": 0.5},
            "all": {"n": 160, "pearson": 0.68, "spearman": 0.66},
        },
        "lexical": {
            "en-en": {"n": 120, "pearson": 0.41, "spearman": 0.4},
            "cross-lingual": {"n": 40, "pearson": -0.05, "spearman": None},
            "all": {"n": 160, "pearson": 0.3, "spearman": 0.31},
        },
    }
    return report


class _Tables(HTMLParser):
    """Every <table> as {"class": ..., "rows": [[{"text", "class", "sup"}]]}; plain enough for these tests."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._cell: dict[str, str] | None = None
        self._in_sup = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        css = dict(attrs).get("class") or ""
        if tag == "table":
            self.tables.append({"class": css, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = {"text": "", "class": css, "sup": ""}
            self.tables[-1]["rows"][-1].append(self._cell)
        elif tag == "sup":
            self._in_sup = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "sup":
            self._in_sup = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
            if self._in_sup:
                self._cell["sup"] += data


def tables(page: str, css: str) -> list[list[list[dict[str, str]]]]:
    parser = _Tables()
    parser.feed(page)
    return [t["rows"] for t in parser.tables if css in t["class"].split()]


def table(page: str, css: str) -> list[list[dict[str, str]]]:
    found = tables(page, css)
    assert len(found) == 1, f"expected one table of class {css!r}, found {len(found)}"
    return found[0]


def row_for(rows: list[list[dict[str, str]]], name: str) -> list[dict[str, str]]:
    return next(r for r in rows if r and r[0]["text"].strip().endswith(name))


def visible_text(page: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", page))


def metric_cells(page: str) -> dict[str, dict[str, dict[str, str]]]:
    """{system: {metric: cell}} from the metric tables, one per group (columns follow metric_info order)."""
    groups = tables(page, "metrics")
    cells = {name: [c for rows in groups for c in row_for(rows, name)[1:]] for name in SYSTEMS}
    return {name: dict(zip(METRIC_INFO, row, strict=True)) for name, row in cells.items()}


def test_one_self_contained_document() -> None:
    page = render_html(make_report())
    assert page.startswith("<!DOCTYPE html>")
    for tag in ("<html", "</html>", "<head>", "<body>", "<style>", '<meta charset="utf-8">'):
        assert page.count(tag) == 1, tag
    assert '<html lang="en">' in page
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*//""", page)
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert links and all(link.startswith("#") for link in links)  # only the in-page table of contents
    for external in ("<script", "<link", "<img", "@import", "url(", "<iframe"):
        assert external not in page


def test_titles_and_notes_are_escaped() -> None:
    report = make_report()
    report["title"] = EVIL
    report["config"]["home"] = EVIL
    page = render_html(report)
    assert "<script>" not in page and "<em>em</em>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;em&gt;em&lt;/em&gt;" in page
    assert visible_text(page).count(EVIL) >= 4  # page title, config, note, example and suggestion titles


def test_bengali_titles_kept_with_lang_attribute() -> None:
    page = render_html(make_report())
    assert f'<h3 lang="bn">{PUTIN}</h3>' in page
    assert CRICKET in page and "বিশ্ব" in page
    fonts = '"Noto Sans Bengali", "Lohit Bengali", "Mukti", "Kalpurush", "Nirmala UI", "Vrinda", system-ui'
    assert f"font-family:{fonts}" in page


def test_judgments_box_config_systems_and_notes() -> None:
    page = render_html(make_report())
    text = visible_text(page)
    assert "seeds/judgments.csv" in text and "abababababab" in text and "ab" * 32 not in text
    assert "686 pairs" in text and "50 source articles graded by two editors." in text
    assert "Grades from two editors; ties broken by the first." in text
    assert "weaker evidence" not in text and 'class="warning"' not in page
    config = {r[0]["text"]: r[1]["text"] for r in table(page, "config")}
    assert config["languages"] == "bn, en"
    assert config["settings"] == "depth=50, mmr=0.3"
    assert config["as_of"] == "–" and config["k"] == "5"
    for letter, name in zip("abc", SYSTEMS, strict=True):
        assert f'<span class="letter">{letter}</span> {name}</dt><dd>the {name} system</dd>' in page


def test_proxy_warning() -> None:
    page = render_html(make_report("proxy"))
    warning = re.search(r'<div class="warning"[^>]*>(.*?)</div>', page)
    assert warning is not None
    assert "weaker evidence than results on human judgments" in warning.group(1)


def test_best_value_marked_per_metric_in_its_direction() -> None:
    cells = metric_cells(render_html(make_report()))
    best = {m: [s for s in SYSTEMS if "best" in cells[s][m]["class"].split()] for m in METRIC_INFO}
    assert best == {
        "ndcg@5": ["semantic"],
        "precision@5": ["semantic"],
        "judged@5": ["semantic"],
        "near_duplicates": ["semantic"],
        "median_age_gap_days": [],
    }  # lower is better; neutral has no best
    assert cells["semantic"]["ndcg@5"]["text"].startswith("0.612")
    assert "★" in cells["semantic"]["ndcg@5"]["text"]
    assert cells["recent"]["precision@5"]["text"] == "–"


def test_significance_letters_follow_the_metric_direction() -> None:
    page = render_html(make_report())
    cells = metric_cells(page)
    assert cells["semantic"]["ndcg@5"]["sup"] == "bc"  # better than lexical (b) and recent (c)
    assert cells["lexical"]["ndcg@5"]["sup"] == ""  # p=0.001 vs semantic, but worse; p=0.2 vs recent
    assert cells["semantic"]["near_duplicates"]["sup"] == "b"  # lower is better, p=0.01; recent p=0.3
    assert cells["lexical"]["near_duplicates"]["sup"] == ""
    assert "significantly better than those systems (paired test, p < 0.05)" in visible_text(page)

    report = make_report()
    report["significance"] = {}
    assert "<sup" not in render_html(report)
    report = make_report()
    report["config"]["alpha"] = 0.0005
    assert metric_cells(render_html(report))["semantic"]["ndcg@5"]["sup"] == "c"


def test_metric_tables_one_per_group_with_a_group_header() -> None:
    groups = tables(render_html(make_report()), "metrics")
    assert [[c["text"] for c in rows[0]] for rows in groups] == [
        ["System", "Accuracy"],
        ["System", "Judged only"],
        ["System", "Beyond accuracy"],
    ]
    assert [[c["text"] for c in rows[1]] for rows in groups] == [
        ["nDCG@5 ↑", "P@5 ↑"],
        ["Judged@5 ↑"],
        ["Duplicates ↓", "Median age"],
    ]
    assert [[row[0]["text"] for row in rows[2:]] for rows in groups] == [
        ["a semantic", "b lexical", "c recent"]
    ] * 3


def test_svg_bar_plots_for_accuracy_and_beyond_metrics() -> None:
    page = render_html(make_report())
    plots = re.findall(r'<svg class="bars".*?</svg>', page)
    assert len(plots) == 3  # nDCG@5, P@5, Duplicates; not judged-only, not the neutral median age
    assert 'aria-label="nDCG@5 (higher is better)"' in plots[0]
    assert plots[0].count("<rect") == 3 and "0.612" in plots[0] and "a · semantic" in plots[0]
    assert 'width="420"' in plots[0]
    assert 'width="0.0"' in plots[1]  # recent has no P@5: an empty bar, printed as a dash


def test_breakdown_tables_per_section_and_language() -> None:
    page = render_html(make_report())
    section = table(page, "section")
    assert [c["text"] for c in section[0]] == ["Section", "n", "a semantic", "b lexical", "c recent"]
    sports, world = row_for(section, "sports"), row_for(section, "world")
    assert sports[1]["text"] == "12" and "best" in sports[2]["class"] and sports[4]["text"] == "–"
    assert "best" in world[3]["class"] and "best" not in world[2]["class"]  # best per row, not per column
    language = table(page, "language")
    assert row_for(language, "bn")[1]["text"] == "30"


def test_age_gap_histograms_with_shared_bins_and_median() -> None:
    page = render_html(make_report())
    hists = re.findall(r'<svg class="hist".*?</svg>', page)
    assert len(hists) == 3
    for label in ("0–1", "1–2", "2–7", "7–30", "30–365", "&gt;365"):
        assert label in hists[0]
    # 0.5 | 1.5, 2.0 | 3.0 | 10 | 100 | 400 of seven suggestions
    assert [m for m in re.findall(r">(\d+)%<", hists[0])] == ["14", "29", "14", "14", "14", "14"]
    text = visible_text(page)
    assert "median 3.0 days, n = 7" in text and "median 7.0 days, n = 2" in text
    assert "c recent no suggestions" in text


def test_example_sidebars_with_grade_badges() -> None:
    page = render_html(make_report())
    examples = re.findall(r'<article class="example">.*?</article>', page)
    assert len(examples) == 2
    first = examples[0]
    assert first.count('<section class="list">') == 2 and "recent" not in first  # only systems with lists
    assert first.index("semantic") < first.index("lexical")
    assert f'<span class="badge g2" title="grade 2">2</span><span class="t">{CRICKET}</span>' in first
    assert 'class="badge g1"' in first and 'class="badge g0"' in first
    assert '<span class="badge gd" title="duplicate">duplicate</span>' in first
    assert '<span class="badge gn" title="unjudged">unjudged</span>' in first
    assert first.count('<span class="tag">fallback</span>') == 1
    assert "world · 2025-11-03 · score 0.810" in first
    when = '<time datetime="2025-11-03T09:15:00+00:00" title="2025-11-03T09:15:00+00:00">2025-11-03 09:15'
    assert f"বিশ্ব · {when}</time> · s1" in first
    assert "<h3>&lt;script&gt;" in examples[1] and "no suggestions" in examples[1]


def test_pairs_report_shows_correlations() -> None:
    page = render_html(make_pairs_report())
    rows = table(page, "correlations")
    assert [c["text"] for c in rows[0]] == ["System", "en-en", "cross-lingual", "all"]
    semantic, lexical = row_for(rows, "semantic"), row_for(rows, "lexical")
    assert semantic[1]["text"] == "0.712 / 0.690 (n=120)★" and "best" in semantic[1]["class"]
    assert lexical[2]["text"] == "-0.050 / – (n=40)" and "best" not in lexical[2]["class"]
    plots = re.findall(r'<svg class="bars".*?</svg>', page)
    assert [re.search(r'aria-label="([^"]*)"', p).group(1) for p in plots] == [  # type: ignore[union-attr]
        "Pearson r — en-en",
        "Pearson r — cross-lingual",
        "Pearson r — all",
    ]
    assert 'class="metrics"' not in page and 'id="breakdown"' not in page and 'href="#breakdown"' not in page


def test_report_is_not_modified() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    render_html(report)
    assert report == before


def _bengali_families() -> set[str]:
    out = subprocess.run(["fc-list", ":lang=bn", "family"], capture_output=True, text=True, timeout=30).stdout
    return {_squash(name) for line in out.splitlines() for name in line.split(",") if _squash(name)}


def _squash(name: str) -> str:
    """'Noto Sans Bengali' and 'ABCDEF+NotoSansBengali-Regular' both to lowercase letters and digits."""
    return re.sub(r"[\W_]+", "", name.split("+")[-1]).lower()


def _embedded_fonts(pdf: Path) -> list[str]:
    """Names of the embedded fonts that pdffonts lists (columns located from its dashed ruler line)."""
    lines = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    ruler = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans = [m.span() for m in re.finditer(r"-+", lines[ruler])]
    name_end, (emb_start, emb_end) = spans[0][1], spans[3]
    return [
        line[:name_end].strip() for line in lines[ruler + 1 :] if line[emb_start:emb_end].strip() == "yes"
    ]


def test_chromium_prints_bengali_with_a_bengali_font(tmp_path: Path) -> None:
    chromium, pdffonts = shutil.which("chromium"), shutil.which("pdffonts")
    if not chromium or not pdffonts or not shutil.which("fc-list"):
        pytest.skip("needs chromium, pdffonts and fc-list")
    families = _bengali_families()
    if not families:
        pytest.skip("fontconfig lists no Bengali font")
    page, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    page.write_text(render_html(make_report()), encoding="utf-8")
    profile = tmp_path / "profile"
    profile.mkdir()
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert pdf.exists() and pdf.stat().st_size > 0, "chromium wrote no PDF"
    fonts = _embedded_fonts(pdf)
    bengali = [f for f in fonts if any(_squash(f).startswith(family) for family in families)]
    assert bengali, f"no embedded Bengali font among {fonts}; fontconfig Bengali families: {sorted(families)}"
