"""The three kinds of judgments an evaluation can run on, read from CSV with errors that name the line.

graded links   (article_id, related_id, grade): editors' related links, click data, judged pools;
               grades are whole numbers (higher = more wanted) or D, a near-duplicate never to show.
scored pairs   (text1, text2, score[, lang1, lang2]): similarity ratings of two texts, any scale,
               with its direction stated by the caller (SemEval-2022 task 8: 1 = same story, 4 = not).
proxy          derived from the store itself (same section) when nothing better exists: weaker evidence.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import InvalidSetting, UnreadableInput

DUPLICATE = "D"
SOURCE_COLUMNS = ("article_id", "source_id", "source", "query_id")
RELATED_COLUMNS = ("related_id", "candidate_id", "candidate", "doc_id")
TEXT1_COLUMNS = ("text1", "text_1")
TEXT2_COLUMNS = ("text2", "text_2")
TITLE1_COLUMNS = ("title1", "title_1")
TITLE2_COLUMNS = ("title2", "title_2")
SCORE_COLUMNS = ("score", "overall")

csv.field_size_limit(1 << 28)  # scored pairs carry whole articles in a cell


@dataclass(frozen=True)
class GradedJudgments:
    """Grades of (source, candidate) article pairs; a grade is "0", "1", "2", ... or "D"."""

    kind: Literal["graded", "proxy"]
    grades: dict[str, dict[str, str]]  # source id -> candidate id -> grade
    path: Path | None = None
    sha256: str | None = None
    evidence: str = ""
    # where each pair was read, "file:line", for messages; and the files merged into this one
    origins: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)
    files: tuple[Path, ...] = ()

    def qrels(self) -> dict[str, dict[str, int]]:
        """Relevance for the metric library: D counts as 0 (it is never a good suggestion)."""
        return {
            source: {c: (0 if g == DUPLICATE else int(g)) for c, g in judged.items()}
            for source, judged in self.grades.items()
        }

    def duplicates(self, source: str) -> set[str]:
        return {c for c, g in self.grades.get(source, {}).items() if g == DUPLICATE}

    def counts(self) -> dict[str, int]:
        out = {"sources": len(self.grades), "pairs": sum(len(j) for j in self.grades.values())}
        for grade in sorted({g for j in self.grades.values() for g in j.values()}, reverse=True):
            label = "D (near-duplicate)" if grade == DUPLICATE else f"grade {grade}"
            out[label] = sum(g == grade for j in self.grades.values() for g in j.values())
        return out


@dataclass(frozen=True)
class ScoredPair:
    text1: str
    text2: str
    score: float
    lang1: str
    lang2: str

    @property
    def group(self) -> str:
        """Language pair label, ordered, e.g. "de-en"."""
        return "-".join(sorted((self.lang1, self.lang2)))


@dataclass(frozen=True)
class ScoredPairs:
    """Rated text pairs; `similar_at` says which end of the scale means "same story"."""

    pairs: list[ScoredPair]
    similar_at: Literal["low", "high"]
    path: Path | None = None
    sha256: str | None = None
    score_column: str = "score"
    skipped: list[str] = field(default_factory=list)  # "row N: why" for rows that were left out
    kind: Literal["pairs"] = field(default="pairs")

    def target(self) -> np.ndarray:
        """Scores turned so that higher always means more similar."""
        scores = np.array([p.score for p in self.pairs], dtype=np.float64)
        return scores if self.similar_at == "high" else -scores

    def counts(self) -> dict[str, int]:
        out = {"pairs": len(self.pairs)}
        if self.skipped:
            out["rows left out"] = len(self.skipped)
        for pair in self.pairs:
            out[pair.group] = out.get(pair.group, 0) + 1
        return out


Judgments = GradedJudgments | ScoredPairs


def read_judgments(
    path: Path,
    similar_at: str | None = None,
    score_column: str | None = None,
    language: str | None = None,
) -> Judgments:
    """Read a judgments CSV, telling graded links from scored pairs by its columns."""
    if not path.is_file():
        raise UnreadableInput(f"{path}: no such judgments file")
    try:
        return _read(path, similar_at, score_column, language)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UnreadableInput(
            f"{path}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02X}); judgments are UTF-8 CSV"
        ) from None
    except csv.Error as exc:
        raise UnreadableInput(f"{path}: not a readable CSV file ({exc})") from None


def _read(path: Path, similar_at: str | None, score_column: str | None, language: str | None) -> Judgments:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise UnreadableInput(f"{path}: the file is empty") from None
        lowered = [h.lower() for h in header]
        if _find(lowered, SOURCE_COLUMNS) is not None and _find(lowered, RELATED_COLUMNS) is not None:
            grades, origins = _read_graded(path, reader, lowered)
            return GradedJudgments(
                "graded",
                grades,
                path,
                _sha256(path),
                "graded links given with the judgments file",
                origins,
                (path,),
            )
        if _find(lowered, TEXT1_COLUMNS) is not None and _find(lowered, TEXT2_COLUMNS) is not None:
            if similar_at not in ("low", "high"):
                raise InvalidSetting(
                    f"{path} holds scored text pairs: say which end of its scale means 'same story' "
                    "with --similar-at low|high (SemEval-2022 task 8: low)"
                )
            column = _score_column(path, lowered, score_column)
            pairs, skipped = _read_pairs(path, reader, lowered, column, language)
            side: Literal["low", "high"] = "low" if similar_at == "low" else "high"
            return ScoredPairs(pairs, side, path, _sha256(path), header[column], skipped)
    raise UnreadableInput(
        f"{path}: cannot tell what it holds from its header {header}: graded links need "
        f"{'/'.join(SOURCE_COLUMNS)}, {'/'.join(RELATED_COLUMNS)} and grade; scored pairs need "
        "text1, text2 and a score"
    )


def read_judgment_files(
    paths: Sequence[Path],
    similar_at: str | None = None,
    score_column: str | None = None,
    language: str | None = None,
) -> Judgments:
    """Read one judgments file, or several graded-links files merged per (source, candidate)
    (e.g. a shared set plus the pairs judged later to deepen its pools)."""
    if not paths:
        raise InvalidSetting("no judgments file given")
    read = [read_judgments(Path(p), similar_at, score_column, language) for p in paths]
    if len(read) == 1:
        return read[0]
    pairs = [str(r.path) for r in read if isinstance(r, ScoredPairs)]
    if pairs:
        raise InvalidSetting(
            f"{pairs[0]} holds scored text pairs: evaluate scored pairs one file at a time "
            "(several -j files are merged only when all are graded links)"
        )
    return merge_graded([r for r in read if isinstance(r, GradedJudgments)])


def merge_graded(parts: Sequence[GradedJudgments]) -> GradedJudgments:
    """Graded judgments of several files as one. A pair in two files with the same grade counts
    once; a pair graded differently is an error naming both places (never silently overwritten)."""
    grades: dict[str, dict[str, str]] = {}
    origins: dict[tuple[str, str], str] = {}
    conflicts: list[str] = []
    for part in parts:
        for source, judged in part.grades.items():
            merged = grades.setdefault(source, {})
            for candidate, grade in judged.items():
                where = part.origins.get((source, candidate), str(part.path))
                previous = merged.get(candidate)
                if previous is None:
                    merged[candidate] = grade
                    origins[(source, candidate)] = where
                elif previous != grade:
                    conflicts.append(
                        f"{where}: pair ({source}, {candidate}) graded {grade} here "
                        f"but {previous} in {origins[(source, candidate)]}"
                    )
    if conflicts:
        more = f" ({len(conflicts)} conflicting pairs; the first shown)" if len(conflicts) > 1 else ""
        raise UnreadableInput(conflicts[0] + more)
    files = tuple(f for part in parts for f in (part.files or ((part.path,) if part.path else ())))
    digest = hashlib.sha256("".join(p.sha256 or "" for p in parts).encode()).hexdigest()
    return GradedJudgments(
        "graded",
        grades,
        files[0] if files else None,
        digest,
        f"graded links merged from {len(parts)} files (a pair judged in two files counts once)",
        origins,
        files,
    )


def proxy_judgments(
    sources: list[tuple[str, str | None]], catalog: list[tuple[str, str | None]], sample: int, seed: int
) -> GradedJudgments:
    """Same-section proxy judgments: for a seeded sample of sources, every other article of the
    same section is grade 1. `sources`/`catalog` are (id, section) pairs."""
    by_section: dict[str, list[str]] = {}
    for article_id, section in catalog:
        if section:
            by_section.setdefault(section, []).append(article_id)
    eligible = sorted(a for a, s in sources if s and len(by_section.get(s, ())) > 1)
    picked = random.Random(seed).sample(eligible, min(sample, len(eligible)))
    section_of = dict(sources)
    grades = {
        a: {other: "1" for other in by_section[str(section_of[a])] if other != a} for a in sorted(picked)
    }
    evidence = (
        "PROXY judgments derived from the store (same section = relevant): weaker evidence than "
        "human judgments; they favour systems that prefer the source's own section."
    )
    return GradedJudgments("proxy", grades, None, None, evidence)


def _read_graded(
    path: Path, reader: Iterator[list[str]], header: list[str]
) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str]]:
    source_col = _find(header, SOURCE_COLUMNS)
    related_col = _find(header, RELATED_COLUMNS)
    grade_col = _find(header, ("grade", "relevance", "label"))
    if grade_col is None:
        raise UnreadableInput(f"{path}: graded links need a 'grade' column")
    assert source_col is not None and related_col is not None
    grades: dict[str, dict[str, str]] = {}
    origins: dict[tuple[str, str], str] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(source_col, related_col, grade_col):
            raise UnreadableInput(f"{path}:{line}: expected {len(header)} fields, got {len(row)}")
        source, related = row[source_col].strip(), row[related_col].strip()
        grade = row[grade_col].strip().upper()
        if not source or not related:
            raise UnreadableInput(f"{path}:{line}: empty article id")
        if grade != DUPLICATE and not (grade.isdigit()):
            raise UnreadableInput(f"{path}:{line}: grade {row[grade_col]!r} is not a whole number or D")
        if source == related:
            raise UnreadableInput(f"{path}:{line}: an article judged against itself ({source})")
        previous = grades.setdefault(source, {}).get(related)
        if previous is not None and previous != grade:
            raise UnreadableInput(
                f"{path}:{line}: pair ({source}, {related}) graded {previous} earlier and {grade} here"
            )
        grades[source][related] = grade
        origins.setdefault((source, related), f"{path}:{line}")
    if not grades:
        raise UnreadableInput(f"{path}: no judgments in the file")
    return grades, origins


def _read_pairs(
    path: Path, reader: Iterator[list[str]], header: list[str], score_col: int, language: str | None
) -> tuple[list[ScoredPair], list[str]]:
    """The pairs, and the rows left out for an empty text or score (real exports have some)."""
    t1, t2 = _find(header, TEXT1_COLUMNS), _find(header, TEXT2_COLUMNS)
    h1, h2 = _find(header, TITLE1_COLUMNS), _find(header, TITLE2_COLUMNS)
    l1, l2 = _find(header, ("lang1", "language1")), _find(header, ("lang2", "language2"))
    assert t1 is not None and t2 is not None
    pairs: list[ScoredPair] = []
    skipped: list[str] = []
    for line, row in enumerate(reader, start=2):  # cells span lines, so rows are counted, not lines
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise UnreadableInput(f"{path}: row {line - 1}: expected {len(header)} fields, got {len(row)}")
        if not row[score_col].strip():
            skipped.append(f"row {line - 1}: no score")
            continue
        try:
            score = float(row[score_col])
        except ValueError:
            raise UnreadableInput(
                f"{path}: row {line - 1}: score {row[score_col]!r} in {header[score_col]} is not a number"
            ) from None
        text1 = _join(row[h1] if h1 is not None else "", row[t1])
        text2 = _join(row[h2] if h2 is not None else "", row[t2])
        if not text1 or not text2:
            skipped.append(f"row {line - 1}: empty text{'1' if not text1 else '2'}")
            continue
        lang1 = (row[l1].strip() if l1 is not None else "") or language or "?"
        lang2 = (row[l2].strip() if l2 is not None else "") or language or "?"
        pairs.append(ScoredPair(text1, text2, score, lang1.lower(), lang2.lower()))
    if not pairs:
        raise UnreadableInput(f"{path}: no pairs with both texts in the file")
    return pairs, skipped


def _score_column(path: Path, header: list[str], wanted: str | None) -> int:
    names = (wanted.lower(),) if wanted else SCORE_COLUMNS
    column = _find(header, names)
    if column is None:
        raise UnreadableInput(
            f"{path}: no score column {' or '.join(names)!s} (choose one with --score-column)"
        )
    return column


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


_TITLE_END = re.compile(r"\n| {2,}|(?<=[.!?\u0964])\s|(?<=[\u3002\uff01\uff1f])")


def as_article(text: str) -> tuple[str, str]:
    """(title, body) of a pair text stored as an article (eval/pairs_store.py).

    Split at its first line break, else at a double space (SemEval's texts join title and body
    so), else after its first sentence (a CJK full stop needs no space after it), else after 80
    characters. The article's title and body joined by a line break are then the pair's text up to
    whitespace (`text_key`), so `recommender eval` uses the stored article's vector for it."""
    text = text.strip()
    found = _TITLE_END.search(text, 0, 300)
    cut = found.start() if found and found.start() > 0 else min(len(text), 80)
    title, body = text[:cut].strip(), text[cut:].strip()
    return (title, body) if body else (title, title)


def text_key(text: str) -> str:
    """A text without its whitespace: pair texts and stored articles are matched on it."""
    return "".join(text.split())


def _join(title: str, text: str) -> str:
    title, text = title.strip(), text.strip()
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
