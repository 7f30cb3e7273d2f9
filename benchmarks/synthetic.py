"""A deterministic synthetic news corpus and embedder, as hard for approximate search as real news.

Every article is a bag of pseudo-words, and `SyntheticEmbedder` turns any text into a vector from its
words alone, as a real model does: there is no story marker in the text. The words come from
overlapping sources: the story's own names (a few per story), the vocabulary of one or two themes
that many stories share, rare words of the article's own, and everyday filler words of its language.
Stories differ in how tight they are (how many of an article's words are the story's own), some
articles borrow names from another story, and a quarter of a story's articles rewrite its first
report (most words kept): so neighbourhoods overlap and cosines spread as in real news. Word vectors
share one anisotropic spectrum and the text vector one common direction, like multilingual-e5's.

GEOMETRY was tuned (a random search over its parameters) until the corpus matched the real 5,067-article
crawl (/work/stores/crawl, multilingual-e5-small) on the measures that make approximate search hard:
random-pair cosine, nearest-neighbour cosines (1st, 10th, 100th), relative contrast and local intrinsic
dimensionality, and the spectrum; `python -m benchmarks.scale_bench --parts geometry` measures both
side by side (`geometry()`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

VERSION = 3  # part of the cache folder name: bump when the corpus or the geometry changes (3: lexical
# index and text overlaps in every build)
DIM = 384
MODEL_NAME = f"synthetic-e5like-{DIM}-v{VERSION}"
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)  # "now" of the corpus: the newest article is just before it
YEARS = 15
RECENT_SHARE = 0.10  # share of stories dated in the last month before ANCHOR
MEAN_STORY_SIZE = 12
SECTIONS = (
    "national", "politics", "international", "economy", "business", "sports", "entertainment",
    "technology", "opinion", "lifestyle", "health", "education", "science", "environment", "crime",
    "city", "culture", "religion", "travel", "jobs",
)  # fmt: skip
# Custom section boosts written into every synthetic store (the rest take the default 0.1).
SECTION_BOOSTS = {"politics": 0.15, "sports": 0.2, "national": 0.05}
EXCLUDED_SECTION = "jobs"  # the section the latency benchmark filters out
GEN_CHUNK = 20_000  # articles generated at a time (the corpus never has to be in memory whole)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Geometry:
    """The corpus's parameters (tuned to the real crawl; see the module docstring)."""

    words: int = 70  # words per article
    stories_per_theme: float = 8.0
    two_themes: float = 0.3  # share of stories drawing on a second theme
    names_per_story: int = 8
    tight_a: float = 1.44  # Beta(a, b): how much of an article is its story's own names, per story
    tight_b: float = 2.26
    story_max: float = 0.245  # ... times this
    borrow: float = 0.062  # share of articles that borrow names from another story
    theme_share: float = 0.405  # of the other words: theme vocabulary, then rare words, then filler
    rare_share: float = 0.309
    rewrites: float = 0.241  # share of a story's later articles that rewrite its first report
    rewrite_keep: float = 0.922  # words of the first report a rewrite keeps
    w_name: float = 1.0  # weight of a word of each kind in the text vector
    w_theme: float = 0.357
    w_rare: float = 1.266
    w_filler: float = 0.069
    theme_pull: float = 0.319  # how much a theme word shares its theme's direction
    language_pull: float = 0.786  # how much a filler word shares its language's direction
    spectrum: float = 0.798  # word vectors: variance of the i-th direction ~ i ** -spectrum
    common: float = 2.165  # weight of the common direction against the unit word part


GEOMETRY = Geometry()
NAME_VOCAB = 40_000
RARE_VOCAB = 40_000
THEME_WORDS = 40  # words per theme
FILLER_VOCAB = 3_000  # per language, Zipf-distributed
NAME, THEME, RARE, FILLER = 0, 1, 2, 3  # word kinds


# --- deterministic randomness ---------------------------------------------------------------------
def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 over a uint64 array: a fast counter-based hash (wraps modulo 2**64)."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
    return x ^ (x >> np.uint64(31))


def _gaussians(kind: int, keys: np.ndarray) -> np.ndarray:
    """DIM standard normal values per key (float64 rows), the same on every machine."""
    base = _splitmix(np.asarray(keys).astype(np.uint64) ^ np.uint64(kind << 56))
    bits = _splitmix(base[:, None] + np.arange(DIM, dtype=np.uint64)[None, :])
    u1 = ((bits >> np.uint64(40)).astype(np.float64) + 0.5) / float(1 << 24)
    u2 = ((bits & np.uint64(0xFFFFFF)).astype(np.float64) + 0.5) / float(1 << 24)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _unit_vectors(kind: int, keys: np.ndarray) -> np.ndarray:
    """One random unit vector per key (float32 rows), isotropic."""
    gauss = _gaussians(kind, keys)
    return (gauss / np.linalg.norm(gauss, axis=1, keepdims=True)).astype(np.float32)


_ROTATION: np.ndarray | None = None


def _anisotropic(kind: int, keys: np.ndarray, g: Geometry = GEOMETRY) -> np.ndarray:
    """Unit vectors drawn with variance i ** -spectrum along the i-th of fixed random directions."""
    global _ROTATION
    if _ROTATION is None:
        _ROTATION = np.linalg.qr(np.random.default_rng(20261129).standard_normal((DIM, DIM)))[0]
    scale = np.arange(1, DIM + 1, dtype=np.float64) ** (-g.spectrum / 2)
    rows = (_gaussians(kind, keys) * scale) @ _ROTATION
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _section_of_theme(theme: int) -> str:
    return SECTIONS[int(_splitmix(np.array([theme], np.uint64) ^ np.uint64(7))[0] % len(SECTIONS))]


# --- words: pseudo-words that spell their kind and number ------------------------------------------
_EN = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_BN = [chr(c) + v for c in range(0x0995, 0x09B9) if chr(c) not in "\u09a9\u09b1\u09b3\u09b4\u09b5"
       for v in ("\u09be", "\u09bf", "\u09c0", "\u09c1", "\u09c7", "\u09cb")]  # fmt: skip
_SYLLABLES = {"en": _EN, "bn": _BN}
_DECODE = {lang: {syl: k for k, syl in enumerate(table)} for lang, table in _SYLLABLES.items()}
_WORD = re.compile(r"[a-z\u0980-\u09ff]+")


def spell(kind: int, index: int, language: str) -> str:
    """A word: its kind's syllable, then the index in base len(syllables) (two characters each)."""
    table = _SYLLABLES[language]
    digits = [table[kind]]
    while True:
        index, digit = divmod(index, len(table))
        digits.append(table[digit])
        if index == 0:
            return "".join(digits)


def read_word(word: str) -> tuple[int, int, str] | None:
    """(kind, index, language) of a word `spell` wrote, or None for any other word."""
    language = "bn" if "\u0980" <= word[0] <= "\u09ff" else "en"
    decode = _DECODE[language]
    if len(word) < 4 or len(word) % 2:
        return None
    syllables = [decode.get(word[i : i + 2]) for i in range(0, len(word), 2)]
    if any(s is None for s in syllables) or syllables[0] > FILLER:  # type: ignore[operator]
        return None
    index, base = 0, len(decode)
    for digit in reversed(syllables[1:]):
        index = index * base + int(digit)  # type: ignore[arg-type]
    return int(syllables[0]), index, language  # type: ignore[arg-type]


# --- the embedder ---------------------------------------------------------------------------------
Bag = tuple[np.ndarray, np.ndarray, np.ndarray]  # kinds, indexes, language codes (0 bn, 1 en)


_TABLES: dict[tuple[int, float], np.ndarray] = {}


def _table(kind: int, size: int, g: Geometry) -> np.ndarray:
    """Word vectors of a fixed vocabulary (names, rare words, filler of both languages), made once."""
    key = (kind, g.spectrum)
    if key not in _TABLES:
        if kind == FILLER:
            own = _anisotropic(15, np.arange(2 * FILLER_VOCAB), g)
            language = _anisotropic(14, np.repeat([0, 1], FILLER_VOCAB), g)
            pull = g.language_pull
            _TABLES[key] = pull * language + np.sqrt(1 - pull**2) * own
        else:
            _TABLES[key] = _anisotropic(10 if kind == NAME else 11, np.arange(size), g)
    return _TABLES[key]


def theme_vectors(words: np.ndarray, g: Geometry = GEOMETRY) -> np.ndarray:
    """Vectors of theme words (float64 rows): their theme's direction pulled in, plus their own."""
    themes, at = np.unique(words // THEME_WORDS, return_inverse=True)
    centre = _anisotropic(12, themes, g)[at]
    return g.theme_pull * centre + np.sqrt(1 - g.theme_pull**2) * _anisotropic(13, words, g)


THEME_BLOCK = 25_000  # theme words made at a time for a table


def theme_table(themes: int, g: Geometry = GEOMETRY, processes: int = 1) -> np.ndarray:
    """Every word of `themes` themes as float32 rows, made once for a whole corpus (drawing them
    chunk by chunk instead was nine tenths of the generation's time), by `processes` forked processes."""
    global _TABLE_G
    total = themes * THEME_WORDS
    table = np.empty((total, DIM), np.float32)
    starts = range(0, total, THEME_BLOCK)
    if processes <= 1 or len(starts) <= 1:
        for start in starts:
            table[start : start + THEME_BLOCK] = _theme_block(start, total, g)
        return table
    import multiprocessing

    _TABLE_G = (total, g)
    try:
        with multiprocessing.get_context("fork").Pool(processes, _one_blas_thread) as pool:
            for start, rows in zip(starts, pool.imap(_forked_theme_block, starts), strict=True):
                table[start : start + len(rows)] = rows
    finally:
        _TABLE_G = None
    return table


_TABLE_G: tuple[int, Geometry] | None = None  # what forked table makers read


def _one_blas_thread() -> None:
    """A forked maker's matrix products on one thread: the processes already fill every core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _forked_theme_block(start: int) -> np.ndarray:
    assert _TABLE_G is not None
    return _theme_block(start, *_TABLE_G)


def _theme_block(start: int, total: int, g: Geometry) -> np.ndarray:
    return theme_vectors(np.arange(start, min(start + THEME_BLOCK, total)), g).astype(np.float32)


def _word_vectors(
    kinds: np.ndarray, indexes: np.ndarray, languages: np.ndarray, g: Geometry, themes: np.ndarray | None
) -> np.ndarray:
    out = np.zeros((len(kinds), DIM))
    for kind, size in ((NAME, NAME_VOCAB), (RARE, RARE_VOCAB), (FILLER, FILLER_VOCAB)):
        at = np.flatnonzero(kinds == kind)
        offset = languages[at] * FILLER_VOCAB if kind == FILLER else 0
        out[at] = _table(kind, size, g)[indexes[at] + offset]
    at = np.flatnonzero(kinds == THEME)  # theme words grow with the corpus: from its table, or made here
    if len(at):
        out[at] = themes[indexes[at]] if themes is not None else theme_vectors(indexes[at], g)
    return out


def embed_bags(bags: Sequence[Bag], g: Geometry = GEOMETRY, themes: np.ndarray | None = None) -> np.ndarray:
    """Unit vectors of bags of words: the common direction plus their weighted word vectors (theme
    words read from `themes`, a `theme_table` of the corpus, where given)."""
    from scipy import sparse

    if not bags:
        return np.zeros((0, DIM), np.float32)
    kinds = np.concatenate([b[0] for b in bags]).astype(np.int64)
    indexes = np.concatenate([b[1] for b in bags]).astype(np.int64)
    languages = np.concatenate([b[2] for b in bags]).astype(np.int64)
    rows = np.repeat(np.arange(len(bags)), [len(b[0]) for b in bags])
    keys = (kinds << 58) | (np.where(kinds == FILLER, languages, 0) << 57) | indexes
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weights = np.array([g.w_name, g.w_theme, g.w_rare, g.w_filler])[kinds]
    counts = sparse.csr_matrix((weights, (rows, inverse)), shape=(len(bags), len(unique)))
    words = counts @ _word_vectors(kinds[first], indexes[first], languages[first], g, themes)
    norms = np.linalg.norm(words, axis=1, keepdims=True)
    words = words / np.where(norms > 0, norms, 1.0)
    common = _unit_vectors(1, np.zeros(1, np.uint64))[0].astype(np.float64)
    out = g.common * common + words
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def bag_of_text(text: str) -> Bag:
    found = [w for w in (read_word(t) for t in _WORD.findall(text)) if w is not None]
    return (
        np.array([w[0] for w in found], np.int64),
        np.array([w[1] for w in found], np.int64),
        np.array([0 if w[2] == "bn" else 1 for w in found], np.int64),
    )


class SyntheticEmbedder:
    """recommender.embedding.Embedder: any text -> 384-d unit vector from the pseudo-words in it."""

    name = MODEL_NAME

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([MODEL_NAME, asdict(GEOMETRY)]).encode()).hexdigest()[:16]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed_bags([bag_of_text(t) for t in texts])


# --- the corpus -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """The story-level draw of a corpus of n articles: what every chunk of it is generated from."""

    n: int
    seed: int
    topics: np.ndarray  # story of each article
    first: np.ndarray  # first article of each story
    published: np.ndarray  # datetime64[us] of each article
    story_themes: np.ndarray  # (stories, 2)
    story_names: np.ndarray  # (stories, names_per_story)
    tightness: np.ndarray  # per story
    theme_language: np.ndarray  # per theme: 0 bn, 1 en


def layout(n: int, seed: int = 0, g: Geometry = GEOMETRY) -> Layout:
    """Stories of uneven size over 15 years up to ANCHOR, their themes, names and languages."""
    rng = np.random.default_rng([seed, n, VERSION])
    n_topics = max(1, n // MEAN_STORY_SIZE)
    weights = rng.lognormal(0.0, 1.0, n_topics)
    topics = np.sort(rng.choice(n_topics, size=n, p=weights / weights.sum()))
    topics = topics[rng.permutation(n)]  # ids in no particular story order
    span = YEARS * 365.25 * 86400
    recent = rng.random(n_topics) < RECENT_SHARE
    centre = np.where(
        recent, rng.uniform(-30 * 86400, -2 * 86400, n_topics), rng.uniform(-span, -30 * 86400, n_topics)
    )
    offset = rng.exponential(2.5 * 86400, n) - 86400
    seconds = np.minimum(centre[topics] + offset, -60.0)
    anchor_us = np.datetime64(ANCHOR.replace(tzinfo=None), "us")
    published = anchor_us + (seconds * 1e6).astype("timedelta64[us]")
    n_themes = max(1, round(n_topics / g.stories_per_theme))
    themes = rng.integers(0, n_themes, (n_topics, 2))
    themes[:, 1] = np.where(rng.random(n_topics) < g.two_themes, themes[:, 1], themes[:, 0])
    first = np.full(n_topics, n, np.int64)
    np.minimum.at(first, topics, np.arange(n))
    return Layout(
        n, seed, topics.astype(np.int64), first, published, themes,
        rng.integers(0, NAME_VOCAB, (n_topics, g.names_per_story)),
        rng.beta(g.tight_a, g.tight_b, n_topics),
        (rng.random(n_themes) < 0.5).astype(np.int64),
    )  # fmt: skip


_ZIPF = np.cumsum(1.0 / np.arange(1, FILLER_VOCAB + 1)) / np.sum(1.0 / np.arange(1, FILLER_VOCAB + 1))


def _fresh(lay: Layout, story: int, language: int, rng: np.random.Generator, g: Geometry) -> Bag:
    """The words of an ordinary article of `story`."""
    n_words = g.words
    k_story = int(rng.binomial(n_words, lay.tightness[story] * g.story_max))
    names = lay.story_names[story, rng.integers(0, g.names_per_story, k_story)]
    if rng.random() < g.borrow:
        other = int(rng.integers(0, len(lay.story_names)))
        k_other = int(rng.binomial(k_story, 0.4))
        names[:k_other] = lay.story_names[other, rng.integers(0, g.names_per_story, k_other)]
    k_theme = int(rng.binomial(n_words - k_story, g.theme_share))
    themes = lay.story_themes[story, rng.integers(0, 2, k_theme)]
    theme_words = themes * THEME_WORDS + rng.integers(0, THEME_WORDS, k_theme)
    k_rare = int(rng.binomial(n_words - k_story - k_theme, g.rare_share))
    rare = rng.integers(0, RARE_VOCAB, k_rare)
    k_fill = n_words - k_story - k_theme - k_rare
    filler = np.minimum(np.searchsorted(_ZIPF, rng.random(k_fill)), FILLER_VOCAB - 1)
    kinds = np.repeat([NAME, THEME, RARE, FILLER], [k_story, k_theme, k_rare, k_fill])
    return kinds, np.concatenate([names, theme_words, rare, filler]), np.full(n_words, language)


def _first_report(lay: Layout, story: int, language: int, g: Geometry) -> Bag:
    """The words of a story's first article: drawn from the story alone, so any chunk that holds a
    rewrite of it can draw them again."""
    return _fresh(lay, story, language, np.random.default_rng([lay.seed, VERSION, 1, story]), g)


def _article_bag(lay: Layout, row: int, rng: np.random.Generator, g: Geometry) -> Bag:
    """An article's words: its story's first report, a rewrite of that report, or its own."""
    story = int(lay.topics[row])
    language = int(lay.theme_language[lay.story_themes[story, 0]])
    if row == lay.first[story]:
        return _first_report(lay, story, language, g)
    own = _fresh(lay, story, language, rng, g)
    if rng.random() >= g.rewrites:
        return own
    first = _first_report(lay, story, language, g)
    keep = rng.random(len(first[0])) < g.rewrite_keep
    k = int((~keep).sum())
    return (
        np.concatenate([first[0][keep], own[0][:k]]),
        np.concatenate([first[1][keep], own[1][:k]]),
        np.concatenate([first[2][keep], own[2][:k]]),
    )


_SPELLED: dict[str, dict[int, list[str]]] = {}


def _spelled(language: str) -> dict[int, list[str]]:
    """The fixed vocabularies spelled once per language."""
    if language not in _SPELLED:
        sizes = {NAME: NAME_VOCAB, RARE: RARE_VOCAB, FILLER: FILLER_VOCAB}
        _SPELLED[language] = {k: [spell(k, i, language) for i in range(n)] for k, n in sizes.items()}
    return _SPELLED[language]


def _render(bag: Bag, rng: np.random.Generator) -> tuple[str, str]:
    """Title (seven words) and body (sentences of nine) spelling a bag's words in a shuffled order."""
    language = "bn" if len(bag[2]) and bag[2][0] == 0 else "en"
    stop = "\u0964" if language == "bn" else "."
    order = rng.permutation(len(bag[0]))
    spelled = _spelled(language)
    words = [
        spelled[kind][index] if kind != THEME else spell(kind, index, language)
        for kind, index in zip(bag[0][order].tolist(), bag[1][order].tolist(), strict=True)
    ]
    title = " ".join(words[:7])
    sentences = [" ".join(words[i : i + 9]) + stop for i in range(7, len(words), 9)]
    return title, " ".join(sentences)


@dataclass(frozen=True)
class Corpus:
    """Column arrays of synthetic articles (row i is article `syn-<start + i>`)."""

    ids: list[str]
    titles: list[str]
    bodies: list[str]
    sections: list[str]
    languages: list[str]
    published: np.ndarray  # datetime64[us], UTC
    topics: np.ndarray  # int64 story of each article
    vectors: np.ndarray | None = None  # what SyntheticEmbedder gives each article's text
    lay: Layout | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def arrow(self, start: int, stop: int) -> pa.Table:
        """Rows [start, stop) as a table in the store's ingest schema."""
        from recommender.ingest.normalize import content_hash
        from recommender.ingest.rows import ARTICLE_SCHEMA

        ids = self.ids[start:stop]
        titles, bodies = self.titles[start:stop], self.bodies[start:stop]
        sections = self.sections[start:stop]
        columns = {
            "external_id": ids,
            "url": [f"https://bench.example/{s}/{i}" for s, i in zip(sections, ids, strict=True)],
            "title": titles,
            "body": bodies,
            "section": sections,
            "language": self.languages[start:stop],
            "published_at": pa.array(self.published[start:stop], pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(self.published[start:stop], pa.timestamp("us", tz="UTC")),
            "content_hash": [content_hash(t, b) for t, b in zip(titles, bodies, strict=True)],
            # render fields as a site has them (snippets come from the bodies at build time); stores
            # cached before they existed lack them, which changes no ranking figure
            "image": [f"https://bench.example/img/{i}.jpg" for i in ids],
            "summary": [None] * len(ids),
            "authors": [["Staff Correspondent"]] * len(ids),
            "tags": [[s] for s in sections],
        }
        return pa.table(columns, schema=ARTICLE_SCHEMA)


def corpus_chunks(n: int, seed: int = 0, g: Geometry = GEOMETRY) -> Iterator[Corpus]:
    """The corpus of n articles, GEN_CHUNK at a time, with each article's vector."""
    lay = layout(n, seed, g)
    themes = theme_table(len(lay.theme_language), g)
    for start in range(0, n, GEN_CHUNK):
        rng = np.random.default_rng([seed, VERSION, 2, n, start])
        rows = range(start, min(start + GEN_CHUNK, n))
        bags = [_article_bag(lay, r, rng, g) for r in rows]
        texts = [_render(b, rng) for b in bags]
        story_themes = lay.story_themes[lay.topics[start : rows.stop], 0]
        yield Corpus(
            [article_id(r) for r in rows],
            [t for t, _ in texts],
            [b for _, b in texts],
            [_section_of_theme(int(t)) for t in story_themes],
            ["bn" if lay.theme_language[t] == 0 else "en" for t in story_themes],
            lay.published[start : rows.stop],
            lay.topics[start : rows.stop],
            embed_bags(bags, g, themes),
            lay,
        )


def vector_chunks(n: int, seed: int = 0, g: Geometry = GEOMETRY, processes: int = 1) -> Iterator[np.ndarray]:
    """The vectors of the corpus of n articles alone (texts not spelled out), GEN_CHUNK at a time, in
    order; with `processes` > 1 the chunks are made by that many forked processes (the same vectors)."""
    global _FORKED
    lay = layout(n, seed, g)
    themes = theme_table(len(lay.theme_language), g, processes)
    starts = range(0, n, GEN_CHUNK)
    if processes <= 1:
        for start in starts:
            yield _chunk_vectors(lay, n, start, seed, g, themes)
        return
    import multiprocessing

    _FORKED = (lay, n, seed, g, themes)  # the forked processes share the table's pages
    try:
        with multiprocessing.get_context("fork").Pool(processes, _one_blas_thread) as pool:
            yield from pool.imap(_forked_chunk, starts)
    finally:
        _FORKED = None


_FORKED: tuple[Layout, int, int, Geometry, np.ndarray] | None = None  # what forked chunk makers read


def _forked_chunk(start: int) -> np.ndarray:
    assert _FORKED is not None
    lay, n, seed, g, themes = _FORKED
    return _chunk_vectors(lay, n, start, seed, g, themes)


def _chunk_vectors(lay: Layout, n: int, start: int, seed: int, g: Geometry, themes: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng([seed, VERSION, 2, n, start])
    rows = range(start, min(start + GEN_CHUNK, n))
    return embed_bags([_article_bag(lay, r, rng, g) for r in rows], g, themes)


def vectors(n: int, seed: int = 0, g: Geometry = GEOMETRY, processes: int = 1) -> np.ndarray:
    """The vectors of the corpus of n articles alone, in memory (1.5 GB a million), made as
    vector_chunks makes them."""
    out = np.empty((n, DIM), np.float32)
    done = 0
    for chunk in vector_chunks(n, seed, g, processes):
        out[done : done + len(chunk)] = chunk
        done += len(chunk)
    return out


def sized_vectors(sizes: list[int], processes: int = 1) -> Iterator[tuple[int, np.ndarray, float]]:
    """(size, its corpus's vectors, seconds to make them) for each size in turn, each corpus made
    when the one before has been let go (for measures over whole corpora: density, re-scoring)."""
    for size in sizes:
        started = time.perf_counter()
        made = vectors(size, processes=processes)
        yield size, made, time.perf_counter() - started
        del made


def make_corpus(n: int, seed: int = 0, g: Geometry = GEOMETRY) -> Corpus:
    """N articles in about N / 12 stories of uneven size, over 15 years up to ANCHOR (in memory)."""
    parts = list(corpus_chunks(n, seed, g))
    return Corpus(
        [i for p in parts for i in p.ids],
        [t for p in parts for t in p.titles],
        [b for p in parts for b in p.bodies],
        [s for p in parts for s in p.sections],
        [x for p in parts for x in p.languages],
        np.concatenate([p.published for p in parts]),
        np.concatenate([p.topics for p in parts]),
        np.concatenate([p.vectors for p in parts if p.vectors is not None]),
        parts[0].lay if parts else None,
    )


def article_id(row: int) -> str:
    return f"syn-{row:07d}"


def follow_up(corpus: Corpus, row: int, new_row: int, when: datetime) -> dict[str, str]:
    """A new article (JSONL row) on the same story as article `row`, published at `when`."""
    assert corpus.lay is not None
    lay = corpus.lay
    story = int(lay.topics[row])
    language = int(lay.theme_language[lay.story_themes[story, 0]])
    rng = np.random.default_rng([lay.seed, VERSION, 3, new_row])
    title, body = _render(_fresh(lay, story, language, rng, GEOMETRY), rng)
    return {
        "id": article_id(new_row),
        "title": title,
        "body": body,
        "section": corpus.sections[row],
        "language": corpus.languages[row],
        "published_at": when.isoformat(),
        "url": f"https://bench.example/{corpus.sections[row]}/{article_id(new_row)}",
    }


# --- cosine statistics ------------------------------------------------------------------------------
def cosine_stats(corpus: Corpus, vectors: np.ndarray, pairs: int = 4000, seed: int = 0) -> dict[str, float]:
    """Mean cosine of random pairs, same-section pairs, same-story pairs and republished copies."""
    from recommender.index.calibration import republished_copy

    rng = np.random.default_rng(seed)
    n = len(corpus)
    a, b = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    keep = a != b
    random_pair = np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]])
    order = np.argsort(corpus.topics, kind="stable")
    sorted_topics = corpus.topics[order]
    same = np.flatnonzero(sorted_topics[1:] == sorted_topics[:-1])
    same = rng.permutation(same)[:pairs]
    story = np.einsum("ij,ij->i", vectors[order[same]], vectors[order[same + 1]])
    sections = np.array(corpus.sections)
    sec_a = rng.integers(0, n, pairs * 4)
    sec_b = rng.integers(0, n, pairs * 4)
    mask = (sections[sec_a] == sections[sec_b]) & (corpus.topics[sec_a] != corpus.topics[sec_b])
    section = np.einsum("ij,ij->i", vectors[sec_a[mask]], vectors[sec_b[mask]])
    rows = rng.permutation(n)[:64]
    copies = [republished_copy(corpus.titles[r], corpus.bodies[r]) for r in rows]
    copy_vectors = SyntheticEmbedder().embed([f"{t}\n{b}" for t, b in copies])
    copy = np.einsum("ij,ij->i", vectors[rows], copy_vectors)
    return {
        "random pair": float(random_pair.mean()),
        "random pair std": float(random_pair.std()),
        "same section, other story": float(section.mean()) if len(section) else float("nan"),
        "same story": float(story.mean()) if len(story) else float("nan"),
        "republished copy": float(copy.mean()),
    }


def geometry(vectors: np.ndarray, queries: int = 500, pairs: int = 4000, seed: int = 0) -> dict[str, float]:
    """What makes approximate search hard, for any set of unit vectors (each query's own row left
    out): random-pair cosine, the cosine of the 1st, 10th and 100th nearest neighbour, relative
    contrast (mean distance / nearest distance: the median, as exact copies make it infinite),
    local intrinsic dimensionality (maximum-likelihood estimate over the 20 nearest) and the
    share of variance in the top 10 directions."""
    x = np.asarray(vectors, np.float32)
    n = len(x)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = rng.integers(0, n - 1, pairs)
    b = b + (b >= a)
    pair = np.einsum("ij,ij->i", x[a], x[b])
    picked = rng.choice(n, min(queries, n), replace=False)
    sims = x[picked] @ x.T
    sims[np.arange(len(picked)), picked] = np.nan
    dist = np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0))
    ranked = -np.sort(-np.nan_to_num(sims, nan=-np.inf), axis=1)[:, :100]
    near = np.sqrt(np.maximum(2.0 - 2.0 * ranked, 1e-12))
    with np.errstate(divide="ignore"):  # a query with 20 exact copies has no dimension to speak of
        lid = -1.0 / np.mean(np.log(near[:, :19] / near[:, 19:20]), axis=1)
    sample = x[rng.permutation(n)[:5000]]
    eig = np.linalg.eigvalsh(np.cov((sample - sample.mean(0)).T))[::-1]
    return {
        "random pair cosine": float(pair.mean()),
        "random pair cosine std": float(pair.std()),
        "1st neighbour cosine": float(ranked[:, 0].mean()),
        "10th neighbour cosine": float(ranked[:, 9].mean()),
        "100th neighbour cosine": float(ranked[:, min(99, ranked.shape[1] - 1)].mean()),
        "relative contrast (median)": float(np.median(np.nanmean(dist, axis=1) / near[:, 0])),
        "local intrinsic dimensionality": float(np.median(lid)),
        "variance in top 10 directions": float(eig[:10].sum() / eig.sum()),
    }


# --- stores on disk ---------------------------------------------------------------------------------
def cache_root() -> Path:
    """Where generated stores are kept: $RECOMMENDER_BENCH_CACHE, else <recommender cache>/bench."""
    if os.environ.get("RECOMMENDER_BENCH_CACHE"):
        return Path(os.environ["RECOMMENDER_BENCH_CACHE"])
    base = Path(os.environ.get("RECOMMENDER_CACHE", Path.home() / ".cache" / "recommender"))
    return base / "bench"


@dataclass(frozen=True)
class StoreInfo:
    """A synthetic store on disk and how it was made."""

    home: Path
    size: int
    cached: bool  # True: reused from an earlier run
    generate_seconds: float  # the corpus and its vectors
    upsert_seconds: float  # articles and vectors written to the store
    build_seconds: float  # the first build (the vectors are there already: index only)


def populate(
    home: Path, size: int, seed: int = 0, log: bool = False, rows: range | None = None
) -> tuple[float, float]:
    """Write the corpus of `size` articles into a store chunk by chunk, each chunk's articles with
    their vectors (what SyntheticEmbedder gives their text, computed from the words directly), so
    the first build only indexes; `rows`: only those articles of it (the others are generated and
    left out). Returns (seconds generating, seconds writing)."""
    import hashlib as _hashlib

    from recommender.home import Home

    fingerprint = SyntheticEmbedder().fingerprint()
    home_ = Home(home)
    with home_.writing("benchmark: synthetic store") as store:
        store.set_setting("model", MODEL_NAME)
        for name, boost in SECTION_BOOSTS.items():
            store.set_section(name, boost, None)
    generating = writing = 0.0
    started = time.perf_counter()
    for chunk in corpus_chunks(size, seed):
        assert chunk.vectors is not None
        if rows is not None:
            first = int(chunk.ids[0][4:])
            lo, hi = max(rows.start - first, 0), min(rows.stop - first, len(chunk))
            if lo >= hi:
                continue
            chunk = _rows_of(chunk, lo, hi)
        hashes = [
            _hashlib.sha256(f"{t}\n{b}".encode()).hexdigest()  # what sql.TEXT_EXPRESSIONS hashes
            for t, b in zip(chunk.titles, chunk.bodies, strict=True)
        ]
        generating += time.perf_counter() - started
        started = time.perf_counter()
        with home_.writing("benchmark: synthetic store") as store:
            store.upsert(chunk.arrow(0, len(chunk)))
            found = dict(
                store.con.execute(
                    "SELECT external_id, id FROM articles WHERE external_id BETWEEN ? AND ?",
                    [chunk.ids[0], chunk.ids[-1]],
                ).fetchall()
            )
            store.save_embeddings(fingerprint, [found[i] for i in chunk.ids], hashes, chunk.vectors)
        writing += time.perf_counter() - started
        started = time.perf_counter()
        if log and (int(chunk.ids[-1][4:]) + 1) % 500_000 < GEN_CHUNK:
            print(f"[bench] {int(chunk.ids[-1][4:]) + 1:,} of {size:,} articles written", flush=True)
    return generating, writing


def _rows_of(chunk: Corpus, lo: int, hi: int) -> Corpus:
    """Articles [lo, hi) of a chunk."""
    assert chunk.vectors is not None
    return Corpus(
        chunk.ids[lo:hi], chunk.titles[lo:hi], chunk.bodies[lo:hi], chunk.sections[lo:hi],
        chunk.languages[lo:hi], chunk.published[lo:hi], chunk.topics[lo:hi], chunk.vectors[lo:hi], chunk.lay,
    )  # fmt: skip


def ensure_store(size: int, root: Path | None = None, log: bool = True, separate: bool = False) -> StoreInfo:
    """The synthetic store of `size` articles, built once and cached under cache_root().

    `separate`: generate it in a child process (`python -m benchmarks.synthetic SIZE ROOT`), so that
    the memory its generation and first build take is given back when it is done."""
    from recommender import Recommender

    root = root or cache_root()
    home = root / f"{size}-v{VERSION}"
    done = home / "bench-store.json"
    if done.exists():
        info = json.loads(done.read_text())
        if not _current(home):
            if log:
                print(f"[bench] {home} was built by an older engine: building it again (full)")
            started = time.perf_counter()
            with Recommender(home, embedder=SyntheticEmbedder()) as rec:
                rec.build(full=True)
            info["build_seconds"] = time.perf_counter() - started  # the build the benchmarks time now
            done.write_text(json.dumps(info))
        return StoreInfo(
            home, size, True, info["generate_seconds"], info["upsert_seconds"], info["build_seconds"]
        )
    if log:
        print(f"[bench] generating the {size:,}-article synthetic store in {home} (cached for reruns)")
    if separate:
        command = [sys.executable, "-m", "benchmarks.synthetic", str(size), str(root)]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        return replace(ensure_store(size, root, log=False), cached=False)
    work = root / f".{size}-v{VERSION}.partial"
    shutil.rmtree(work, ignore_errors=True)
    generate_seconds, upsert_seconds = populate(work, size, log=log)
    started = time.perf_counter()
    with Recommender(work, embedder=SyntheticEmbedder()) as rec:
        report = rec.build()
    assert report.embedded == 0, "the store's vectors should all have been written with it"
    build_seconds = time.perf_counter() - started
    info = {
        "generate_seconds": generate_seconds,
        "upsert_seconds": upsert_seconds,
        "build_seconds": build_seconds,
    }
    (work / "bench-store.json").write_text(json.dumps(info))
    shutil.rmtree(home, ignore_errors=True)
    os.replace(work, home)
    if log:
        print(
            f"[bench] store ready: generated {generate_seconds:.1f} s, written {upsert_seconds:.1f} s, "
            f"first build (index only) {build_seconds:.1f} s"
        )
    return StoreInfo(home, size, False, generate_seconds, upsert_seconds, build_seconds)


def _current(home: Path) -> bool:
    """True when the live build has every file today's builds write (the neighbour lists came last):
    a benchmark must not time a build made by an older engine."""
    from recommender.index import neighbours
    from recommender.index.folder import current_build, read_meta

    folder, meta = current_build(home), read_meta(home)
    if folder is None or meta is None:
        return False
    return neighbours.Neighbours.present(folder)


def iter_sizes(text: str) -> Iterator[int]:
    """Parse "10000,100k,1M" into sizes."""
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        factor = 1
        if part.endswith("k"):
            factor, part = 1_000, part[:-1]
        elif part.endswith("m"):
            factor, part = 1_000_000, part[:-1]
        yield int(float(part) * factor)


def future(days: float) -> datetime:
    """A moment `days` after ANCHOR (follow-ups are dated after the corpus)."""
    return ANCHOR + timedelta(days=days)


if __name__ == "__main__":
    ensure_store(int(sys.argv[1]), Path(sys.argv[2]))
